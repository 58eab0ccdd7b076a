// The ioredis twin of RedisBackend: ioredis I/O over the core's protocol writer and reader
// (docs/REDIS-PROTOCOL.md §7–§8, native/src/twin_api.rs, native/src/reader_api.rs). The core takes
// this process's snapshot, diffs it against what Redis acknowledged and hands over the apply
// calls as ready argv; it records the replies and says whether to flush again (epoch/lost
// recovery), and its throttle rules the error log. Reads run the core's reader: this file sends
// the commands it names and feeds back the replies; aggregation and encoding (text, OpenMetrics,
// protobuf) are the core's, off the JS thread. Here: the connection, pipelines, EVALSHA with the
// EVAL fallback, timeouts, the flush schedule and logging.
import { hostname } from 'node:os';

import type { ChainableCommander, Cluster, Redis, RedisOptions } from 'ioredis';

/** ioredis, loaded when a client is created (requiring promsd does not load it). */
function ioredis(): typeof import('ioredis') {
  return require('ioredis') as typeof import('ioredis');
}

import { show } from '../errors';
import { native, type NativeTypes } from '../metrics/native';
import { shard } from '../metrics/shard';
import { BackendConfigError } from '../errors';
import { redactUrl } from '../config/rules';
import { unloadBackend } from './load';
import { backendChecks, resolveBackendOptions } from './options';
import type { RedisBackendOptions } from './redis';
import type { Backend, Logger, RenderOptions } from './types';

/** Options of {@link IoredisBackend}: those of {@link RedisBackendOptions}, plus `redis`. */
export interface IoredisBackendOptions extends RedisBackendOptions {
  /**
   * An ioredis client (`Redis` or `Cluster`) to use instead of connecting to `url`. The backend
   * does not close it, and its reconnects and offline queue are its own (the backend keeps at
   * most one batch in flight). Without it the backend owns a connection that holds no reference
   * on the event loop.
   */
  redis?: Redis | Cluster;
  /** For `rediss://`: PEM of the CA that signed the server certificates (default: the system's roots). */
  tlsCa?: string;
}

type Client = Redis | Cluster;

/** The protocol's scripts, as the core embeds them (same bytes, same SHA1 as the Rust flusher's). */
function luaScripts(): NativeTypes.ProtocolScripts {
  scripts ??= native.protocolScripts();
  return scripts;
}
let scripts: NativeTypes.ProtocolScripts | undefined;

const WHAT = 'IoredisBackend';
const LIB = 'promsd-ioredis 0.1.0';

/** A reply as the reader takes it: its items as strings (an `HGETALL` is field, value, …). */
function flat(r: unknown): (string | string[])[] {
  if (Array.isArray(r)) return r.map((x) => (Array.isArray(x) ? x.map(String) : String(x)));
  if (r === null || r === undefined) return [];
  if (typeof r === 'object') return Object.entries(r as Record<string, unknown>).flatMap(([k, v]) => [k, String(v)]);
  return [String(r)];
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Rejects with `msg` when `p` has not settled after `ms`; the timer holds the event loop meanwhile. */
function within<T>(p: Promise<T>, ms: number, msg: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(msg)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Aggregates the global registry across processes through Redis, in TypeScript on ioredis —
 * for platforms where the Rust backend's own Redis client cannot run. Processes on this backend
 * and on {@link RedisBackend} share a prefix and add up into the same series.
 *
 * ```ts
 * loadBackend(new IoredisBackend({ url: 'redis://127.0.0.1:6379', prefix: 'checkout' }));
 * ```
 */
export class IoredisBackend implements Backend {
  readonly #urls: string[];
  readonly #cluster: boolean;
  readonly #prefix: string;
  readonly #flushIntervalMs: number;
  readonly #processTtlMs: number;
  readonly #retainMs: number;
  readonly #timeoutMs: number;
  readonly #selfMetrics: boolean;
  /** The cause of the failure being raised, as named for the self-metrics. */
  #failureCause: string | undefined;
  readonly #processLabel: string;
  readonly #logger: Logger;
  readonly #given: Client | undefined;
  readonly #tlsCa: string | undefined;
  readonly #throttle: NativeTypes.ErrorThrottle;
  #writer: NativeTypes.ProtocolWriter | undefined;
  #client: Client | undefined;
  #processId: string | undefined;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #down = false;
  #everConnected = false;
  /** The last connection error of our own client (its connect() only says "Connection is closed."). */
  #lastError: Error | undefined;
  readonly #onBeforeExit = (): void => {
    // A process that ends its work without close() still sends its last values.
    this.close().catch(() => undefined);
  };

  constructor(options: IoredisBackendOptions = {}) {
    backendChecks(WHAT).object(options);
    if (options.redis !== undefined) {
      const r = options.redis as unknown as Record<string, unknown> | null;
      if (typeof r?.pipeline !== 'function' || typeof r?.evalsha !== 'function' || typeof r?.connect !== 'function') {
        throw new BackendConfigError(
          `${WHAT}: redis must be an ioredis Redis or Cluster instance, got ${show(options.redis)}`,
        );
      }
      if (options.url !== undefined || options.cluster !== undefined) {
        throw new BackendConfigError(`${WHAT}: pass either redis (an ioredis client) or url/cluster, not both`);
      }
    }
    this.#given = options.redis;
    const o = resolveBackendOptions(WHAT, options as Record<string, unknown>);
    this.#urls = o.urls;
    this.#cluster = o.cluster;
    this.#prefix = o.prefix;
    this.#flushIntervalMs = o.flushIntervalMs;
    this.#processTtlMs = o.processTtlMs;
    this.#retainMs = o.retainMs;
    this.#timeoutMs = o.timeoutMs;
    this.#selfMetrics = o.selfMetrics;
    this.#processLabel = o.processLabel;
    this.#logger = o.logger;
    this.#tlsCa = o.tlsCa;
    this.#throttle = new native.ErrorThrottle(o.logThrottleMs);
  }

  /** This process's id in Redis (32 hex digits, random per start), once loaded. */
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
    shard();
    this.#writer = new native.ProtocolWriter({
      prefix: this.#prefix,
      processLabel: this.#processLabel,
      host: hostname(),
      lib: LIB,
      liveMs: this.#processTtlMs,
      retainMs: Math.min(this.#retainMs, 2 ** 32 - 1),
    });
    this.#processId = this.#writer.processId;
    this.#client = this.#given ?? this.#connectTo();
    process.on('beforeExit', this.#onBeforeExit);
    this.#schedule();
  }

  /** A connection of our own: connects on demand, never queues offline, holds no ref on the loop. */
  #connectTo(): Client {
    const common: RedisOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: this.#timeoutMs,
      commandTimeout: this.#timeoutMs,
      // Reconnects happen at the next flush, like the Rust flusher's.
      retryStrategy: () => null,
      ...(this.#tlsCa !== undefined && this.#urls[0].startsWith('rediss:') ? { tls: { ca: this.#tlsCa } } : {}),
    };
    const unref = (r: Redis): void => {
      r.on('connect', () => (r.stream as { unref?: () => void } | undefined)?.unref?.());
    };
    let client: Client;
    if (this.#cluster) {
      const first = new URL(this.#urls[0]);
      const cluster = new (ioredis().Cluster)(
        this.#urls.map((u) => {
          const x = new URL(u);
          return { host: x.hostname, port: Number(x.port || 6379) };
        }),
        {
          lazyConnect: true,
          enableOfflineQueue: false,
          clusterRetryStrategy: () => null,
          redisOptions: {
            ...common,
            lazyConnect: undefined,
            username: first.username ? decodeURIComponent(first.username) : undefined,
            password: first.password ? decodeURIComponent(first.password) : undefined,
            tls: first.protocol === 'rediss:' ? (this.#tlsCa === undefined ? {} : { ca: this.#tlsCa }) : undefined,
          },
        },
      );
      cluster.on('+node', (node: Redis) => unref(node));
      client = cluster;
    } else if (/^(redis\+unix|unix):\/\//.test(this.#urls[0])) {
      // A Unix socket (the embedded one-host server of the protocol answers no INFO).
      const r = new (ioredis().Redis)({
        ...common,
        path: decodeURIComponent(new URL(this.#urls[0]).pathname),
        enableReadyCheck: false,
      });
      unref(r);
      client = r;
    } else {
      const r = new (ioredis().Redis)(this.#urls[0], common);
      unref(r);
      client = r;
    }
    // Errors reach us through connect() and commands; the listener keeps ioredis quiet.
    client.on('error', (e: Error) => {
      this.#lastError = e;
    });
    return client;
  }

  #log(level: keyof Logger, msg: string): void {
    try {
      (this.#logger[level] ?? this.#logger.error).call(this.#logger, msg);
    } catch {
      // A throwing logger must not take the process down.
    }
  }

  #error(msg: string, cause?: string): void {
    for (const line of this.#throttle.error(msg, cause)) {
      this.#log(line.startsWith('suppressed ') ? 'warn' : 'error', line);
    }
  }

  /** An error's cause, named by the rule the Rust backends use (`dns`, `auth`, `timeout`, …). */
  #named(e: unknown): { cause: string; message: string } {
    const code = typeof (e as { code?: unknown })?.code === 'string' ? (e as { code: string }).code : undefined;
    const tls = this.#urls[0]?.startsWith('rediss:') === true;
    return native.nameRedisFailure(code, message(e), tls, this.#timeoutMs);
  }

  #target(): string {
    return this.#given !== undefined ? 'the given ioredis client' : this.#urls.map(redactUrl).join(',');
  }

  /** Runs `fn` after every earlier operation settled: one flush, render or close at a time. */
  #enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#enqueue(async () => {
        try {
          await this.#flushOnce();
        } catch {
          // Logged (throttled); the values stay pending for the next flush.
        }
        for (const line of this.#throttle.tick()) this.#log('warn', line);
      }).finally(() => this.#schedule());
    }, this.#flushIntervalMs);
    this.#timer.unref();
  }

  async #connect(): Promise<void> {
    const c = this.#client as Client;
    if (c.status === 'ready') return;
    if (this.#given !== undefined && c.status !== 'wait') return; // theirs: its own reconnects
    try {
      await c.connect();
    } catch (e) {
      this.#down = true;
      const f = this.#named(this.#lastError ?? e);
      const msg = `promsd: cannot connect to Redis at ${this.#target()}: ${f.message}`;
      this.#lastError = undefined;
      this.#failureCause = f.cause;
      this.#error(msg, f.cause);
      throw new Error(msg);
    }
    this.#lastError = undefined;
    for (const line of this.#throttle.drain()) this.#log('warn', line);
    this.#log(
      this.#down ? 'warn' : 'info',
      `promsd: ${this.#everConnected ? 'reconnected to' : 'connected to'} Redis at ${this.#target()} (prefix "${this.#prefix}")`,
    );
    this.#everConnected = true;
    this.#down = false;
  }

  #drop(): void {
    if (this.#given === undefined) this.#client?.disconnect();
  }

  /** Runs the apply script with `argv` (`[sha, numkeys, …keys, …args]`); on NOSCRIPT, again with EVAL. */
  async #applyCall([sha, ...rest]: string[]): Promise<unknown> {
    const client = this.#client as Client;
    try {
      return await client.call('EVALSHA', sha, ...rest);
    } catch (e) {
      if (!(e instanceof Error) || !/NOSCRIPT/.test(e.message)) throw e;
      return client.call('EVAL', luaScripts().apply.source, ...rest);
    }
  }

  /**
   * Sends the writer's batch, one call at a time (a reply that refuses a family stops the batch:
   * the later calls still carry that family's items), and hands the replies back to it, up to the
   * first failed call; the error of that call, if any.
   */
  async #apply(writer: NativeTypes.ProtocolWriter): Promise<{ next: string; error: unknown }> {
    const calls = writer.batch();
    const replies: unknown[] = [];
    let error: unknown;
    for (const call of calls) {
      let r: unknown;
      try {
        r = await this.#applyCall(call);
      } catch (e) {
        error = e;
        break;
      }
      replies.push(r);
      if (Array.isArray(r) && Array.isArray(r[3]) && r[3].length > 0) break;
    }
    const outcome = writer.onReplies(replies);
    for (const msg of outcome.refused) this.#error(msg);
    for (const name of outcome.accepted) {
      this.#log(
        'info',
        `promsd: metric ${JSON.stringify(name)} accepted by the aggregate: no live process holds the definition it differed from`,
      );
    }
    if (outcome.unexpected !== undefined && outcome.unexpected !== null) {
      error = new Error(`unexpected reply of the apply script: ${show(replies[outcome.unexpected])}`);
    }
    return { next: outcome.next, error };
  }

  /** One flush, recorded for the backend's own metrics (`selfMetrics`). */
  async #flushOnce(): Promise<void> {
    const started = performance.now();
    this.#failureCause = undefined;
    try {
      await this.#flushRounds();
      this.#writer?.recordFlush((performance.now() - started) / 1000);
    } catch (e) {
      this.#writer?.recordFlush((performance.now() - started) / 1000, this.#failureCause ?? this.#named(e).cause);
      throw e;
    }
  }

  /** One flush (§7): snapshot, batch, one pipeline, replies; again at once after epoch/lost. */
  async #flushRounds(): Promise<void> {
    await this.#connect();
    const writer = this.#writer as NativeTypes.ProtocolWriter;
    for (let round = 0; round < 4; round++) {
      writer.update();
      const { next, error } = await this.#apply(writer);
      if (error !== undefined) {
        this.#drop();
        this.#down = true;
        const f = this.#named(error);
        const msg = `promsd: flush to Redis at ${this.#target()} failed: ${f.message}`;
        this.#failureCause = f.cause;
        this.#error(msg, f.cause);
        throw new Error(msg);
      }
      if (next === 'done') return;
      if (next === 'more') continue;
      this.#log('warn', "promsd: Redis lost this process's data (restart or expiry); resending all series");
    }
  }

  #check(op: string): void {
    if (this.#processId === undefined || this.#closed) {
      throw new BackendConfigError(`${WHAT}: ${op}() needs a loaded, open backend (loadBackend(backend))`);
    }
  }

  /** Sends this process's pending values now. Rejects when they could not be sent (they stay pending). */
  async flush(): Promise<void> {
    this.#check('flush');
    await within(
      this.#enqueue(() => this.#flushOnce()),
      this.#timeoutMs * 2 + 1000,
      'promsd: the backend did not answer in time',
    );
  }

  /** Flushes, then reads the aggregate (protocol v2: two pipelined round trips) and renders it. */
  async render(options: RenderOptions): Promise<string> {
    this.#check('render');
    const body = await this.#read({ openMetrics: options.openMetrics, defaultLabels: options.defaultLabels });
    return body.toString('utf8');
  }

  /** Flushes, then renders the aggregate in the protobuf format (native histograms included). */
  async renderProtobuf(options: { defaultLabels: string[] }): Promise<Buffer> {
    this.#check('render');
    return this.#read({ protobuf: true, defaultLabels: options.defaultLabels });
  }

  /** Flush, then run the core's reader over this connection, one pipeline per round, and render. */
  #read(options: NativeTypes.ProtocolRenderOptions): Promise<Buffer> {
    const work = this.#enqueue(async () => {
      let flushed = true;
      try {
        await this.#flushOnce();
      } catch {
        // Logged; render what Redis has.
        flushed = false;
      }
      const self = this.#selfMetrics ? this.#writer : undefined;
      const reader = new native.ProtocolReader({ prefix: this.#prefix });
      try {
        await this.#connect();
        for (let done = false; !done; ) {
          const cmds = reader.commands();
          const p: ChainableCommander = (this.#client as Client).pipeline();
          for (const [name, ...args] of cmds) p.call(name, ...args);
          const results = ((await p.exec()) ?? []) as [Error | null, unknown][];
          done = reader.feed(
            cmds.map((_, i) => {
              const [e, r] = results[i] ?? [new Error('no reply'), undefined];
              return e !== null ? e.message : flat(r);
            }),
          );
        }
      } catch (e) {
        this.#drop();
        // With self-metrics on, a scrape during an outage still says so (promsd_backend_up 0).
        if (self !== undefined && !flushed) {
          return new native.ProtocolReader({ prefix: this.#prefix }).render(options, self);
        }
        throw new Error(
          `promsd: reading the aggregate from Redis at ${this.#target()} failed: ${this.#named(e).message}`,
        );
      }
      return reader.render(options, self);
    });
    return within(work, this.#timeoutMs * 3 + 1000, 'promsd: the backend did not answer in time');
  }

  /**
   * Flushes what is pending (bounded by `timeoutMs`, default twice the backend's), removes this
   * process's heartbeat and gauges from Redis and releases the connection (a client passed as
   * `redis` stays open). Safe to call twice.
   */
  async close(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.#closed) return;
    const timeout = backendChecks(WHAT).integer('close timeoutMs', options?.timeoutMs, this.#timeoutMs * 2, {
      min: 1,
      unit: 'ms',
    });
    this.#closed = true;
    unloadBackend(this);
    process.removeListener('beforeExit', this.#onBeforeExit);
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#processId === undefined) return;
    const work = this.#enqueue(async () => {
      let failure: unknown;
      try {
        await this.#flushOnce();
      } catch (e) {
        failure = e;
      }
      const c = this.#client as Client;
      if (c.status === 'ready') {
        try {
          const p = c.pipeline();
          for (const [name, ...args] of (this.#writer as NativeTypes.ProtocolWriter).goodbye()) {
            p.call(name, ...args);
          }
          await p.exec();
        } catch {
          // Gauges then go when the heartbeat expires.
        }
      }
      for (const line of this.#throttle.drain()) this.#log('warn', line);
      if (failure !== undefined) throw failure;
    });
    try {
      await within(work, timeout, 'promsd: close timed out; pending values were not all sent');
    } finally {
      this.#drop();
    }
  }
}
