// One host, no server, no primary: every process of a namespace runs the same backend. The first
// to take the lock in the user's private runtime directory holds the aggregator (in its core, on
// a Unix socket); every process — the holder included — flushes to it with the same protocol as
// Redis, so a scrape of any of them shows the aggregate of all. When the holder dies, another
// process takes over within about two flush intervals from the holder's last snapshot, and no
// aggregated counter decreases (native/src/backend/embedded.rs). The same code therefore runs
// under node:cluster, child_process.fork, PM2 (cluster and fork modes) and independent processes.
import { lstatSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { native } from '../metrics/native';
import { BackendConfigError } from '../errors';
import { unloadBackend } from './load';
import { checkLogger } from '../log';
import type { OptionChecks } from '../options';
import { backendChecks, resolveBackendOptions } from './options';
import type { Logger } from '../log';
import { RedisBackend, type RedisBackendOptions } from './redis';
import type { Backend, RenderOptions } from './types';
import { closeOnSignals } from '../signals';

/** Environment variable naming the aggregator's socket; processes started after `start()` inherit it. */
export const AGGREGATOR_SOCKET_ENV = 'PROMSD_AGGREGATOR_SOCKET';

/** Options of {@link EmbeddedBackend}. */
export interface EmbeddedBackendOptions extends Omit<RedisBackendOptions, 'url' | 'cluster'> {
  /**
   * `auto` (default) and `primary`: this process may hold the aggregator (the first process of
   * the namespace to start does; another takes over when it dies). `worker`: never hold, only
   * flush to the holder.
   */
  role?: 'auto' | 'primary' | 'worker';
  /**
   * The aggregator's socket. Default: PROMSD_AGGREGATOR_SOCKET, else `<prefix>.sock` in
   * {@link runtimeDir}. The lock (`.lock`) and snapshot (`.snap`) files sit beside it.
   */
  socketPath?: string;
}

const WHAT = 'EmbeddedBackend';

/**
 * The private directory of this user's one-host aggregators: `$XDG_RUNTIME_DIR/promsd` when
 * XDG_RUNTIME_DIR is set, else `<tmpdir>/promsd-<uid>`.
 */
export function runtimeDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_RUNTIME_DIR;
  return xdg ? join(xdg, 'promsd') : join(tmpdir(), `promsd-${process.geteuid?.() ?? 0}`);
}

/**
 * Creates `dir` mode 0700 if it is missing, and refuses one that is not a real directory of
 * this user that only this user can enter (anyone else could read the aggregate or feed it).
 */
export function ensurePrivateDir(dir: string): void {
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new BackendConfigError(`${WHAT}: cannot create the runtime directory ${dir}: ${(err as Error).message}`);
    }
  }
  const st = lstatSync(dir);
  const uid = process.geteuid?.();
  const problem = !st.isDirectory()
    ? 'is not a directory'
    : uid !== undefined && st.uid !== uid
      ? `belongs to uid ${st.uid}, not to this user (uid ${uid})`
      : (st.mode & 0o077) !== 0
        ? `is mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}; it must be 0700 (only its owner may enter it)`
        : undefined;
  if (problem !== undefined) {
    throw new BackendConfigError(
      `${WHAT}: the runtime directory ${dir} ${problem}; fix or remove it, or set XDG_RUNTIME_DIR or socketPath`,
    );
  }
}

/** `x.sock` → `x.lock`, `x.snap`. */
function beside(socket: string, ext: string): string {
  return socket.endsWith('.sock') ? `${socket.slice(0, -5)}.${ext}` : `${socket}.${ext}`;
}

/**
 * Aggregates the global registry across the processes of one host with no server to run and no
 * primary needed.
 *
 * ```ts
 * // in every process alike (node:cluster primary and workers, PM2 instances, forks, …):
 * loadBackend(new EmbeddedBackend({ prefix: 'checkout' }));
 * ```
 */
export class EmbeddedBackend implements Backend {
  readonly #role: 'primary' | 'worker';
  readonly #path: string;
  readonly #privateDir: string | undefined;
  readonly #pollMs: number;
  readonly #ttlMs: number;
  readonly #inner: RedisBackend;
  readonly #logger: Logger;
  #watch: ReturnType<typeof setInterval> | undefined;
  #onSignal: (() => void) | undefined;
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
    const { role: _role, socketPath: _socketPath, ...rest } = options;
    // The one set of rules for the shared options (prefix, intervals, TTL); the URL is ours.
    const shared = resolveBackendOptions(WHAT, { ...rest, url: 'redis+unix:///promsd.sock' });
    this.#role = role === 'worker' ? 'worker' : 'primary';
    const inherited = process.env[AGGREGATOR_SOCKET_ENV] || undefined;
    const dir = options.socketPath === undefined && inherited === undefined ? runtimeDir() : undefined;
    const path = options.socketPath ?? inherited ?? join(dir as string, `${shared.prefix}.sock`);
    if (typeof path !== 'string' || path === '' || Buffer.byteLength(path) > 100) {
      opt.fail(
        'socketPath',
        path,
        'must be a non-empty path of at most 100 bytes (a Unix socket path; set socketPath or a shorter XDG_RUNTIME_DIR)',
      );
    }
    this.#path = path;
    this.#privateDir = dir;
    this.#pollMs = Math.max(20, Math.floor(shared.flushIntervalMs / 2));
    this.#ttlMs = shared.processTtlMs;
    this.#logger = asEmbedded(checkLogger(WHAT, rest.logger, BackendConfigError), path);
    this.#inner = new RedisBackend({
      ...rest,
      logger: this.#logger,
      url: `redis+unix://${path}`,
      processTtlMs: rest.processTtlMs,
      timeoutMs: rest.timeoutMs ?? 2000,
    });
  }

  /** `primary`: this process may hold the aggregator; `worker`: it only flushes. */
  get role(): 'primary' | 'worker' {
    return this.#role;
  }

  /** Whether this process holds the aggregator now (it may take over later). */
  get holdsAggregator(): boolean {
    return this.#started && !this.#closed && native.aggregatorHolding();
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
    if (this.#closed)
      throw new BackendConfigError(`${WHAT}: a closed backend cannot be loaded again; create a new one`);
    if (this.#privateDir !== undefined) ensurePrivateDir(this.#privateDir);
    // Before the flusher: the core's exit hooks run last-registered first, so at exit the
    // flusher sends its last values before this process stops holding the aggregator.
    native.aggregatorStart({
      socket: this.#path,
      lock: beside(this.#path, 'lock'),
      snapshot: beside(this.#path, 'snap'),
      pollMs: this.#pollMs,
      maxAgeMs: this.#ttlMs,
      never: this.#role === 'worker',
    });
    try {
      this.#inner.start();
    } catch (err) {
      native.aggregatorStop();
      throw err;
    }
    native.aggregatorOwnProcess(this.#inner.processId as string);
    process.env[AGGREGATOR_SOCKET_ENV] = this.#path;
    this.#started = true;
    this.#installSignals();
    this.#watchHolding();
  }

  // One info line when this process starts or stops holding the aggregator (a takeover).
  #watchHolding(): void {
    let held = false;
    const check = (): void => {
      const now = native.aggregatorHolding();
      if (now === held) return;
      held = now;
      this.#logger.info(
        now
          ? `promsd: this process holds the embedded aggregator at ${this.#path}`
          : `promsd: this process no longer holds the embedded aggregator at ${this.#path}`,
      );
    };
    check();
    this.#watch = setInterval(check, this.#pollMs);
    this.#watch.unref();
  }

  flush(): Promise<void> {
    return this.#inner.flush().catch(renamedError(this.#path));
  }

  render(options: RenderOptions): Promise<string> {
    return this.#inner.render(options).catch(renamedError(this.#path));
  }

  /** Flushes, then renders the aggregate in the protobuf format (native histograms included). */
  renderProtobuf(options: { defaultLabels: string[] }): Promise<Buffer> {
    return this.#inner.renderProtobuf(options).catch(renamedError(this.#path));
  }

  /**
   * Sends the last values, stops holding or waiting for the aggregator (a holder writes a last
   * snapshot, so another process takes over with everything) and removes the socket and lock.
   */
  async close(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#removeSignals();
    clearInterval(this.#watch);
    unloadBackend(this);
    try {
      await this.#inner.close(options).catch(renamedError(this.#path));
    } finally {
      if (this.#started) {
        native.aggregatorStop();
        if (process.env[AGGREGATOR_SOCKET_ENV] === this.#path) delete process.env[AGGREGATOR_SOCKET_ENV];
      }
    }
  }

  // Node's default SIGINT/SIGTERM action ends the process without exit hooks, leaving the socket
  // and lock behind (harmless — the next holder replaces them — but untidy). When no one else
  // handles the signal, close first, then let the default action end the process. When the
  // application handles it, it is in charge: the exit hooks clean up if it exits.
  #installSignals(): void {
    this.#removeSignals();
    this.#onSignal = closeOnSignals(() => this.close({ timeoutMs: 1000 }), { onlyWhenAlone: true });
  }

  #removeSignals(): void {
    this.#onSignal?.();
    this.#onSignal = undefined;
  }
}

/**
 * The core speaks the Redis protocol to the aggregator and says "Redis" in its lines; here they
 * name what it is: `connected to the embedded aggregator at /run/user/1000/promsd/app.sock`.
 */
function renamed(m: string, path: string): string {
  return m
    .replace(/\bRedis at \S+?(:?)(?=\s|$)/g, (_m, colon: string) => `the embedded aggregator at ${path}${colon}`)
    .replace(/\bRedis\b/g, 'the embedded aggregator');
}

/** The same for a rejection of the core. */
function renamedError(path: string): (err: unknown) => never {
  return (err) => {
    if (err instanceof Error) err.message = renamed(err.message, path);
    throw err;
  };
}

function asEmbedded(logger: Logger, path: string): Logger {
  const rename = (m: string): string => renamed(m, path);
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
