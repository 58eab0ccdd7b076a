// One host, no server: the serving process (the node:cluster primary, or the parent of forked
// children) runs an aggregator in its core on a Unix socket; every process — the primary
// included — flushes to it with the same protocol as Redis, so a scrape of any of them shows
// the aggregate of all. Children find the socket through PROMSD_AGGREGATOR_SOCKET, which the
// primary sets for the processes it starts afterwards.
import cluster from 'node:cluster';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { native } from '../metrics/native';
import { BackendConfigError } from '../errors';
import { unloadBackend } from './load';
import { checkLogger } from '../log';
import type { OptionChecks } from '../options';
import { backendChecks } from './options';
import type { Logger } from '../log';
import { RedisBackend, type RedisBackendOptions } from './redis';
import type { Backend, RenderOptions } from './types';

/** Environment variable through which a primary tells its children where its aggregator is. */
export const AGGREGATOR_SOCKET_ENV = 'PROMSD_AGGREGATOR_SOCKET';

/** Options of {@link EmbeddedBackend}. */
export interface EmbeddedBackendOptions extends Omit<RedisBackendOptions, 'url' | 'cluster'> {
  /**
   * `primary` runs the aggregator, `worker` flushes to a primary's. `auto` (default): a worker
   * when PROMSD_AGGREGATOR_SOCKET is set (or this is a node:cluster worker), else the primary.
   */
  role?: 'auto' | 'primary' | 'worker';
  /** The aggregator's socket. Default: PROMSD_AGGREGATOR_SOCKET, else `<tmpdir>/promsd-<primary pid>.sock`. */
  socketPath?: string;
}

const WHAT = 'EmbeddedBackend';

/**
 * Aggregates the global registry across the processes of one host with no server to run.
 *
 * ```ts
 * // in the primary and in every worker alike:
 * loadBackend(new EmbeddedBackend());
 * ```
 */
export class EmbeddedBackend implements Backend {
  readonly #role: 'primary' | 'worker';
  readonly #path: string;
  readonly #inner: RedisBackend;
  #started = false;
  #closed = false;

  constructor(options: EmbeddedBackendOptions = {}) {
    const opt: OptionChecks = backendChecks(WHAT);
    opt.object(options);
    const role = options.role ?? 'auto';
    if (!['auto', 'primary', 'worker'].includes(role)) {
      opt.fail('role', role, 'must be one of auto, primary, worker');
    }
    if (process.platform === 'win32') {
      throw new BackendConfigError(`${WHAT}: needs Unix sockets; on Windows use RedisBackend`);
    }
    const inherited = process.env[AGGREGATOR_SOCKET_ENV];
    this.#role = role !== 'auto' ? role : inherited || cluster.isWorker ? 'worker' : 'primary';
    const fallback = join(tmpdir(), `promsd-${this.#role === 'primary' ? process.pid : process.ppid}.sock`);
    const path = options.socketPath ?? (this.#role === 'worker' ? inherited : undefined) ?? fallback;
    if (typeof path !== 'string' || path === '' || Buffer.byteLength(path) > 100) {
      opt.fail('socketPath', path, 'must be a non-empty path of at most 100 bytes');
    }
    this.#path = path;
    const { role: _role, socketPath: _socketPath, ...rest } = options;
    this.#inner = new RedisBackend({
      ...rest,
      logger: asEmbedded(checkLogger(WHAT, rest.logger, BackendConfigError), path),
      url: `redis+unix://${path}`,
      processTtlMs: rest.processTtlMs,
      timeoutMs: rest.timeoutMs ?? 2000,
    });
  }

  /** `primary` or `worker`. */
  get role(): 'primary' | 'worker' {
    return this.#role;
  }

  /** The aggregator's socket path. */
  get socketPath(): string {
    return this.#path;
  }

  /** The core holds this backend: every thread can render through it. */
  readonly inCore = true;

  get processId(): string | undefined {
    return this.#inner.processId;
  }

  /** @internal Called by `loadBackend`. */
  start(): void {
    if (this.#started) return;
    if (this.#role === 'primary') {
      native.aggregatorStart(this.#path);
      process.env[AGGREGATOR_SOCKET_ENV] = this.#path;
    }
    this.#started = true;
    this.#inner.start();
  }

  flush(): Promise<void> {
    return this.#inner.flush();
  }

  render(options: RenderOptions): Promise<string> {
    return this.#inner.render(options);
  }

  /** Flushes, then renders the aggregate in the protobuf format (native histograms included). */
  renderProtobuf(options: { defaultLabels: string[] }): Promise<Buffer> {
    return this.#inner.renderProtobuf(options);
  }

  async close(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    unloadBackend(this);
    try {
      await this.#inner.close(options);
    } finally {
      if (this.#role === 'primary' && this.#started) {
        native.aggregatorStop();
        if (process.env[AGGREGATOR_SOCKET_ENV] === this.#path) delete process.env[AGGREGATOR_SOCKET_ENV];
      }
    }
  }
}

/**
 * The core speaks the Redis protocol to the aggregator and says "Redis" in its lines; here they
 * name what it is: `connected to the embedded aggregator at /tmp/promsd-1.sock`.
 */
function asEmbedded(logger: Logger, path: string): Logger {
  const rename = (m: string): string =>
    m.replace(/\bRedis at \S+/g, `the embedded aggregator at ${path}`).replace(/\bRedis\b/g, 'the embedded aggregator');
  return {
    debug: (m) => logger.debug(rename(m)),
    info: (m) => logger.info(rename(m)),
    warn: (m) => logger.warn(rename(m)),
    error: (m) => logger.error(rename(m)),
  };
}

/**
 * The backend for a deployment: Redis when `options.url` is given, else the embedded one-host
 * aggregator (what the demo runs on).
 */
export function createBackend(options: RedisBackendOptions & EmbeddedBackendOptions = {}): Backend {
  if (options.url !== undefined) {
    const { role: _role, socketPath: _socketPath, ...redis } = options;
    return new RedisBackend(redis);
  }
  const { cluster: _cluster, ...embedded } = options;
  return new EmbeddedBackend(embedded);
}
