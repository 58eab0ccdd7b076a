import type { Registry } from '../registry';
import type { Gauge } from '../gauge';

/** Label names and values added to every default metric (the `labels` option). */
export type DefaultLabels = Readonly<Record<string, string | number>>;

/** The options every metric group reads, resolved once by `collectDefaultMetrics`. */
export interface DefaultMetricOptions {
  /** Prepended to every metric name ('' when not set). */
  readonly prefix: string;
  /** Static labels added to every sample ({} when not set). */
  readonly labels: DefaultLabels;
  /** `Object.keys(labels)`, in the order the labels were given. */
  readonly labelNames: string[];
  /** Passed as the metrics' `registers`: the `register` option, else the global registry, as in prom-client. */
  readonly registers: Registry[];
  /** Histogram buckets of `nodejs_gc_duration_seconds`. */
  readonly gcDurationBuckets: readonly number[];
  /** `monitorEventLoopDelay` resolution in milliseconds. */
  readonly eventLoopMonitoringPrecision: number;
}

/** Installs one group of default metrics. */
export type DefaultMetricGroup = (options: DefaultMetricOptions) => void;

/*
 * Aggregators of values that belong to the whole process.
 *
 * prom-client's aggregators decide how one series is combined across the
 * members of an aggregated view; prom-client only aggregates across cluster
 * *processes*, so it leaves most metrics on the default 'sum'. promsd also
 * merges the worker_threads of one process that register into one registry
 * (the global one is shared by all threads), and every thread that calls
 * collectDefaultMetrics reads the same process-wide value (RSS, open fds, CPU
 * time of the process...). Summing those would count the process once per
 * thread, so every process_* metric takes PROCESS_WIDE ('max') instead:
 *  - a thread whose metrics were never collected (collect() runs on the thread
 *    that scrapes) holds 0 in its unlabelled series; 'max' ignores it, where
 *    'first', 'min' or 'average' would report it.
 *  - process_cpu_*_seconds_total: each thread's counter holds the process's CPU
 *    time since *that thread* called collectDefaultMetrics, so the largest one
 *    (the earliest thread's) is the closest to the truth, and it stays monotonic.
 *  - process_start_time_seconds: prom-client's 'omit' would drop the metric from
 *    any view with two threads, although they all report the same value.
 * Limitation: a thread that collected once and not since keeps its old value,
 * and 'max' may pick it over a fresher, lower one.
 * nodejs_version_info keeps prom-client's 'first' (the same series everywhere).
 * Values that are per thread (event loop lag, active handles/requests/resources,
 * heap and heap spaces of this isolate, gc) keep prom-client's aggregators:
 * each thread contributes its own share.
 */
export const PROCESS_WIDE = 'max';

/** `process.memoryUsage()` can throw on some platforms (prom-client #67). */
export function safeMemoryUsage(): NodeJS.MemoryUsage | undefined {
  try {
    return process.memoryUsage();
  } catch {
    return undefined;
  }
}

/** Counts objects by constructor name, as prom-client's processMetricsHelpers. */
export function countByConstructorName(list: readonly unknown[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of list) {
    // Handles are native wrappers; null or prototype-less ones have no type to report.
    if (item === null || item === undefined) continue;
    const ctor: unknown = (item as { constructor?: unknown }).constructor;
    if (typeof ctor !== 'function') continue;
    counts.set(ctor.name, (counts.get(ctor.name) ?? 0) + 1);
  }
  return counts;
}

/** Counts equal strings. */
export function countStrings(list: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of list) counts.set(item, (counts.get(item) ?? 0) + 1);
  return counts;
}

/**
 * Makes a `type`-labelled gauge hold exactly `counts` (plus `labels`), as
 * prom-client's updateMetrics does with reset() then set(). Here types still
 * present keep their series and only the types that went away are removed:
 * a series is registered with the core once, not again at every scrape.
 *
 * @returns the types now present: pass them back as `previous` at the next call.
 */
export function setCountsByType(
  gauge: Gauge,
  counts: ReadonlyMap<string, number>,
  labels: DefaultLabels,
  previous: ReadonlySet<string>,
): Set<string> {
  for (const type of previous) {
    if (!counts.has(type)) gauge.remove({ type, ...labels });
  }
  for (const [type, count] of counts) gauge.set({ type, ...labels }, count);
  return new Set(counts.keys());
}
