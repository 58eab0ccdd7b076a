import { loadBackend } from '../backend/load';
import { startHttpServer } from '../server/http';
import type { Command } from './common';
import { EXIT, untilSignal } from './common';
import { backendOf, pingRedis, serverOptionsOf, serviceDiscoveryOf } from './runtime';

/**
 * `promsd serve`: a standalone exporter for a Redis prefix. It defines no metrics: the metadata
 * in Redis is enough to render the aggregate of every process writing to the prefix.
 */
export const serve: Command = {
  name: 'serve',
  summary:
    'Serve the aggregate of a Redis prefix (written by any number of processes) on /metrics, register it with the configured service discovery, and deregister on SIGTERM/SIGINT.',
  flags: {
    'require-backend': {
      type: 'boolean',
      help: 'exit (code 69) when Redis is unreachable at start, instead of serving what it has',
    },
  },
  async run({ args, resolved, logger }) {
    const { config } = resolved;
    if (config.backend.kind !== 'redis' && config.backend.kind !== 'ioredis') {
      logger.error(
        `promsd serve: reads a Redis prefix; backend.kind is "${config.backend.kind}" — set PROMSD_REDIS_URL (or --redis-url)`,
      );
      return EXIT.usage;
    }
    const url = config.backend.redisUrl as string;
    const why = await pingRedis(url);
    if (why !== null) {
      if (args.extra['require-backend'] === true) {
        logger.error(`promsd serve: cannot use Redis: ${why.message}; exiting because of --require-backend`);
        return EXIT.unavailable;
      }
      logger.warn(
        `promsd serve: cannot use Redis: ${why.message}; serving anyway, the aggregate appears once it is fixed`,
      );
    }
    const backend = loadBackend(backendOf(config, logger) as NonNullable<ReturnType<typeof backendOf>>);
    let server: Awaited<ReturnType<typeof startHttpServer>>;
    try {
      const sd = serviceDiscoveryOf(config, logger);
      server = await startHttpServer({
        ...serverOptionsOf(config),
        logger,
        serviceDiscovery: sd.plugins,
        ...(sd.httpSd ? { httpSd: sd.httpSd } : {}),
      });
    } catch (err) {
      await backend.close().catch(() => undefined);
      throw err;
    }
    logger.info(`promsd serve: prefix "${config.backend.prefix}" at ${server.url}`);
    const signal = await untilSignal();
    logger.info(`promsd serve: ${signal}: deregistering and stopping`);
    let code: number = EXIT.ok;
    try {
      await server.close();
    } catch (err) {
      logger.error(`promsd serve: deregistration failed: ${(err as Error).message}`);
      code = EXIT.failed;
    }
    await backend
      .close()
      .catch((err: unknown) => logger.warn(`promsd serve: backend close: ${(err as Error).message}`));
    return code;
  },
};
