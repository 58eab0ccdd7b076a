// The Rust Redis backend: a flusher thread in the core owns the connection and sends this
// process's changed series every `flushIntervalMs` (protocol: docs/REDIS-PROTOCOL.md). Nothing
// here runs per update: updates keep going to the shards; the core reads them.
import { hostname } from 'node:os';

import { native } from '../metrics/native';
import { shard } from '../metrics/shard';
import { BackendConfigError } from '../errors';
import { unloadBackend } from './load';
import { backendChecks, checkCa, checkPrefix, checkUrls, resolveBackendOptions } from './options';
import type { Backend, Logger, RenderOptions } from './types';

/** Options of {@link RedisBackend}. */
export interface RedisBackendOptions {
  /** `redis://[user:password@]host:port[/db]`; for a cluster, one or more seed nodes. Default `redis://127.0.0.1:6379`. */
  url?: string | string[];
  /** Talk Redis Cluster (keys of a prefix share one hash slot). Default false. */
  cluster?: boolean;
  /** Namespace shared by the processes of one service, `[A-Za-z0-9_.:-]{1,64}`. Default `promsd`. */
  prefix?: string;
  /** How often changed series are sent (and the heartbeat renewed). Default 1000 ms. */
  flushIntervalMs?: number;
  /** A process whose heartbeat is older than this is dead: its gauges stop counting. Default 15000 ms. */
  processTtlMs?: number;
  /** How long Redis keeps a dead process's bookkeeping (its exactly-once records). Default 1 h. */
  retainMs?: number;
  /** Connect and command timeout. Default 5000 ms. */
  timeoutMs?: number;
  /** The same error repeated within this window is logged once, then summarised. Default 60000 ms. */
  logThrottleMs?: number;
  /** Value of the `process` label of `perProcess` gauges. Default `<hostname>:<pid>`. */
  processLabel?: string;
  /** Receives connects, reconnects and (throttled) errors. Default `console`. */
  logger?: Logger;
  /** For `rediss://`: PEM of the CA that signed the server certificates (default: the system's roots). */
  tlsCa?: string;
  /**
   * Add the backend's own metrics to the scrapes this process renders: `promsd_backend_up`,
   * `promsd_backend_flush_duration_seconds`, `promsd_backend_flush_errors_total{cause}`,
   * `promsd_backend_series`, `promsd_backend_refused_families`. They describe this process (not
   * the aggregate), and during an outage a scrape still answers with them (`promsd_backend_up 0`).
   * Default false.
   */
  selfMetrics?: boolean;
}

const WHAT = 'RedisBackend';

/**
 * Aggregates the global registry across processes through Redis, from the Rust core.
 *
 * ```ts
 * loadBackend(new RedisBackend({ url: 'redis://127.0.0.1:6379', prefix: 'checkout' }));
 * ```
 */
export class RedisBackend implements Backend {
  readonly #urls: string[];
  readonly #cluster: boolean;
  readonly #prefix: string;
  readonly #flushIntervalMs: number;
  readonly #processTtlMs: number;
  readonly #retainMs: number;
  readonly #timeoutMs: number;
  readonly #logThrottleMs: number;
  readonly #processLabel: string;
  readonly #logger: Logger;
  readonly #tlsCa: string | undefined;
  readonly #selfMetrics: boolean;
  #processId: string | undefined;
  #closed = false;

  constructor(options: RedisBackendOptions = {}) {
    const o = resolveBackendOptions(WHAT, backendChecks(WHAT).object(options));
    this.#urls = o.urls;
    this.#cluster = o.cluster;
    this.#prefix = o.prefix;
    this.#flushIntervalMs = o.flushIntervalMs;
    this.#processTtlMs = o.processTtlMs;
    this.#retainMs = o.retainMs;
    this.#timeoutMs = o.timeoutMs;
    this.#logThrottleMs = o.logThrottleMs;
    this.#processLabel = o.processLabel;
    this.#logger = o.logger;
    this.#tlsCa = o.tlsCa;
    this.#selfMetrics = o.selfMetrics;
  }

  /** This process's id in Redis (32 hex digits, random per start), once loaded. */
  /** The core holds this backend: every thread can render through it. */
  readonly inCore = true;

  get processId(): string | undefined {
    return this.#processId;
  }

  /** The namespace. */
  get prefix(): string {
    return this.#prefix;
  }

  /** @internal Called by `loadBackend`. */
  start(): void {
    if (this.#closed)
      throw new BackendConfigError(`${WHAT}: a closed backend cannot be loaded again; create a new one`);
    if (this.#processId !== undefined) return;
    // The shard registers its exit hook first, so the backend's final flush runs before it.
    shard();
    const logger = this.#logger;
    this.#processId = native.backendOpen(
      {
        urls: this.#urls,
        cluster: this.#cluster,
        prefix: this.#prefix,
        flushIntervalMs: this.#flushIntervalMs,
        liveMs: this.#processTtlMs,
        retainMs: Math.min(this.#retainMs, 2 ** 32 - 1),
        timeoutMs: this.#timeoutMs,
        logThrottleMs: this.#logThrottleMs,
        processLabel: this.#processLabel,
        host: hostname(),
        tlsCa: this.#tlsCa,
        selfMetrics: this.#selfMetrics,
      },
      (level: string, message: string) => {
        try {
          (logger[level as keyof Logger] ?? logger.error).call(logger, message);
        } catch {
          // A throwing logger must not take the process down.
        }
      },
    );
  }

  #check(op: string): void {
    if (this.#processId === undefined || this.#closed) {
      throw new BackendConfigError(`${WHAT}: ${op}() needs a loaded, open backend (loadBackend(backend))`);
    }
  }

  async flush(): Promise<void> {
    this.#check('flush');
    await native.backendFlush(this.#timeoutMs * 2 + 1000);
  }

  async render(options: RenderOptions): Promise<string> {
    this.#check('render');
    return native.backendRender(options.openMetrics, options.defaultLabels, this.#timeoutMs * 3 + 1000);
  }

  /** Flushes, then renders the aggregate in the protobuf format (native histograms included). */
  async renderProtobuf(options: { defaultLabels: string[] }): Promise<Buffer> {
    this.#check('render');
    return native.backendRenderProtobuf(options.defaultLabels, this.#timeoutMs * 3 + 1000);
  }

  async close(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    unloadBackend(this);
    if (this.#processId === undefined) return;
    const timeout = backendChecks(WHAT).integer('close timeoutMs', options.timeoutMs, this.#timeoutMs * 2, {
      min: 1,
      unit: 'ms',
    });
    await native.backendClose(timeout);
  }
}

/** Options of {@link renderRedis}. */
export interface RenderRedisOptions {
  /** As in {@link RedisBackendOptions}. */
  url?: string | string[];
  /** As in {@link RedisBackendOptions}. */
  cluster?: boolean;
  /** As in {@link RedisBackendOptions}. Default `promsd`. */
  prefix?: string;
  /** Connect and command timeout. Default 5000 ms. */
  timeoutMs?: number;
  /** OpenMetrics instead of text 0.0.4. Default false. */
  openMetrics?: boolean;
  /** Labels added to every series that lacks them. */
  defaultLabels?: Record<string, string>;
  /** As in {@link RedisBackendOptions}. */
  tlsCa?: string;
}

/**
 * Renders a prefix's aggregate from Redis in a process that defines no metrics (a sidecar such
 * as `promsd serve`): one round trip, read and encoded off the JS thread.
 */
export async function renderRedis(options: RenderRedisOptions = {}): Promise<string> {
  const opt = backendChecks('renderRedis');
  const urls = checkUrls(opt, options.url);
  return native.redisRender({
    urls,
    cluster: options.cluster ?? urls.length > 1,
    prefix: checkPrefix(opt, options.prefix),
    timeoutMs: opt.integer('timeoutMs', options.timeoutMs, 5000, { min: 1, unit: 'ms' }),
    openMetrics: options.openMetrics ?? false,
    defaultLabels: Object.entries(options.defaultLabels ?? {}).flat(),
    tlsCa: checkCa(opt, options.tlsCa),
  });
}
