import { EmbeddedBackend } from '../backend/embedded';
import { IoredisBackend } from '../backend/ioredis';
import { RedisBackend } from '../backend/redis';
import { native } from '../metrics/native';
import type { Backend } from '../backend/types';
import { configKeys } from '../config/schema';
import type { PromsdConfig } from '../config/schema';
import { ConsulAgent } from '../sd/consul';
import { resolveConnection } from '../sd/consul-config';
import { FileSD } from '../sd/file';
import { RedisHttpSD } from '../sd/http';
import type { HttpSdSource, ServiceDiscovery } from '../sd/types';
import type { MetricsServerOptions } from '../server/options';
import type { CliLogger } from './log';

/** The backend the configuration asks for (`memory`: none). */
export function backendOf(config: PromsdConfig, logger: CliLogger): Backend | undefined {
  const { kind, redisUrl, prefix, flushIntervalMs, selfMetrics } = config.backend;
  switch (kind) {
    case 'memory':
      return undefined;
    case 'embedded':
      return new EmbeddedBackend({ prefix, flushIntervalMs, logger, selfMetrics });
    case 'redis':
      return new RedisBackend({ url: redisUrl as string, prefix, flushIntervalMs, logger, selfMetrics });
    case 'ioredis':
      return new IoredisBackend({ url: redisUrl as string, prefix, flushIntervalMs, logger });
  }
}

/** The service-discovery plugins the configuration asks for, and the HTTP SD source if any. */
export function serviceDiscoveryOf(
  config: PromsdConfig,
  logger: CliLogger,
): { plugins: ServiceDiscovery[]; httpSd: HttpSdSource | undefined } {
  const plugins: ServiceDiscovery[] = [];
  let httpSd: HttpSdSource | undefined;
  for (const kind of config.sd.kinds) {
    if (kind === 'consul') {
      // The agent reads Consul's conventions itself; it gets them from the resolved config.
      plugins.push(
        new ConsulAgent({
          name: config.sd.serviceName,
          meta: { metrics_path: config.server.path },
          logger,
          env: consulEnv(config),
        }),
      );
    } else if (kind === 'file') {
      plugins.push(new FileSD({ dir: config.sd.fileDir, labels: { service: config.sd.serviceName } }));
    } else {
      const sd = new RedisHttpSD({
        url: config.backend.redisUrl as string,
        prefix: config.backend.prefix,
        labels: { service: config.sd.serviceName },
        logger,
      });
      plugins.push(sd);
      httpSd = sd;
    }
  }
  return { plugins, httpSd };
}

/** The metrics server's options from the configuration (TLS files are read by the server). */
export function serverOptionsOf(config: PromsdConfig): MetricsServerOptions {
  const s = config.server;
  return {
    port: s.port,
    addr: s.addr,
    path: s.path,
    compression: s.compression,
    ...(s.tlsCert !== undefined && s.tlsKey !== undefined ? { tls: { certFile: s.tlsCert, keyFile: s.tlsKey } } : {}),
    ...(s.authToken === undefined ? {} : { auth: { token: s.authToken } }),
  };
}

/** Why a Redis PING failed: the cause (`dns`, `auth`, `tls`, `timeout`, `refused`, `closed`, ...) and the words. */
export interface RedisProblem {
  cause: string;
  message: string;
}

/**
 * Connects and PINGs Redis once with the core's connection code (so the cause is named as the
 * backend's own log lines name it); resolves to null when it answers, else to why not.
 */
export async function pingRedis(url: string, timeoutMs = 2000): Promise<RedisProblem | null> {
  const r = await native.redisPing([url], false, timeoutMs, undefined);
  return r.ok ? null : { cause: r.cause ?? 'other', message: r.message };
}

/**
 * The `consul.*` keys as the environment variables they came from (`CONSUL_HTTP_ADDR`, ...), so
 * ConsulAgent applies Consul's conventions — one implementation of them — whatever the source.
 */
export function consulEnv(config: PromsdConfig): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  const values = config.consul as Record<string, unknown>;
  for (const def of configKeys()) {
    const name = def.key.startsWith('consul.') ? def.key.slice('consul.'.length) : undefined;
    const v = name === undefined ? undefined : values[name];
    if (v !== undefined) env[def.env] = String(v);
  }
  return env;
}

/** Asks the Consul agent who it is; resolves to null when it answers 200, else to why not. */
export async function pingConsul(config: PromsdConfig, timeoutMs = 2000): Promise<string | null> {
  try {
    const { baseUrl, token } = resolveConnection({}, consulEnv(config));
    const r = await fetch(`${baseUrl}/agent/self`, {
      headers: token === undefined ? {} : { 'x-consul-token': token },
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (r.ok) return null;
    return `HTTP ${r.status}: ${(await r.text()).trim().slice(0, 200)}`;
  } catch (err) {
    const e = err as Error & { cause?: { message?: string } };
    return e.cause?.message ?? e.message;
  }
}
