// The contract every cross-process backend implements (the Rust RedisBackend, the ioredis twin,
// the embedded one). `loadBackend` starts one per process; the global registry renders through it
// from every thread (the core routes each scrape: native/src/route_api.rs).

export type { Logger } from '../log';

/** What `Registry.metrics()` asks a backend for. */
export interface RenderOptions {
  /** OpenMetrics instead of text 0.0.4. */
  openMetrics: boolean;
  /** The registry's default labels as `[name, value, …]`. */
  defaultLabels: string[];
}

/** A cross-process aggregation backend. */
export interface Backend {
  /** This process's identity in the backend (random per process start), once started. */
  readonly processId: string | undefined;
  /**
   * True when the Rust core holds the backend (it knows it is open once `start()` ran); false or
   * absent when it lives in JS on the thread that loaded it: `loadBackend` then registers it
   * with the core, which calls `render`/`renderProtobuf` on that thread for every thread's scrape.
   */
  readonly inCore?: boolean;
  /** @internal Called by `loadBackend`: start flushing the global registry. */
  start(): void;
  /** Sends this process's pending values now. Rejects when they could not be sent (they stay pending). */
  flush(): Promise<void>;
  /** The aggregate of every process, rendered (flushes this process's values first). */
  render(options: RenderOptions): Promise<string>;
  /**
   * The aggregate in the protobuf format (native histograms included). A backend without it is
   * asked for OpenMetrics when a scraper prefers protobuf.
   */
  renderProtobuf?(options: { defaultLabels: string[] }): Promise<Buffer>;
  /** Flushes what is pending (bounded by `timeoutMs`) and releases everything. Safe to call twice. */
  close(options?: { timeoutMs?: number }): Promise<void>;
}
