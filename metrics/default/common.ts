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
 * aggregates across the worker_threads of one process, and every thread that
 * calls collectDefaultMetrics reads the same process-wide value (RSS, open fds,
 * CPU time of the process...). Summing those would count the process once per
 * thread, so they take PROCESS_WIDE ('max') instead:
 *  - gauges: each thread reads the same quantity at slightly different times;
 *    'max' does not depend on the order of threads, unlike 'first'.
 *  - process_cpu_*_seconds_total: each thread's counter holds the process's CPU
 *    time since *that thread* called collectDefaultMetrics, so the largest one
 *    (the earliest thread's) is the closest to the truth, and it stays monotonic.
 * prom-client's own non-sum choices already avoid double counting and are kept:
 * process_start_time_seconds ('omit'), nodejs_version_info ('first').
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

/** Replaces all series of a `type`-labelled gauge with `counts`, as prom-client's updateMetrics. */
export function setCountsByType(
  gauge: Gauge,
  counts: ReadonlyMap<string, number>,
  labels: DefaultLabels,
): void {
  // reset() first so that types that went away do not linger with a stale count.
  gauge.reset();
  for (const [type, count] of counts) gauge.set({ type, ...labels }, count);
}
