import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';
import { Histogram } from '../histogram';
import type { DefaultMetricOptions } from './common';

const NODEJS_GC_DURATION_SECONDS = 'nodejs_gc_duration_seconds';

/** prom-client's default buckets of `nodejs_gc_duration_seconds`, in seconds. */
export const DEFAULT_GC_DURATION_BUCKETS: readonly number[] = [0.001, 0.01, 0.1, 1, 2, 5];

const kinds = new Map<number, string>([
  [constants.NODE_PERFORMANCE_GC_MAJOR, 'major'],
  [constants.NODE_PERFORMANCE_GC_MINOR, 'minor'],
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL, 'incremental'],
  [constants.NODE_PERFORMANCE_GC_WEAKCB, 'weakcb'],
]);

/** The gc kind of a 'gc' performance entry (`entry.detail.kind` since Node 16). */
function gcKind(entry: PerformanceEntry): number | undefined {
  // @types/node does not declare `detail` on the base PerformanceEntry.
  const detail: unknown = (entry as { detail?: unknown }).detail;
  if (typeof detail !== 'object' || detail === null || !('kind' in detail)) return undefined;
  return typeof detail.kind === 'number' ? detail.kind : undefined;
}

/**
 * Durations of this thread's garbage collections (every worker_thread has its
 * own isolate and heap, so these are per thread and summed across threads).
 */
export function gc({ prefix, labels, labelNames, registers, gcDurationBuckets }: DefaultMetricOptions): void {
  const gcHistogram = new Histogram({
    name: prefix + NODEJS_GC_DURATION_SECONDS,
    help: 'Garbage collection duration by kind, one of major, minor, incremental or weakcb.',
    labelNames: ['kind', ...labelNames],
    buckets: [...gcDurationBuckets],
    registers,
  });

  // Never disconnected, as in prom-client: an observer does not keep the process alive.
  const observer = new PerformanceObserver((list) => {
    // prom-client observes only getEntries()[0]; entries are delivered in
    // batches, so that loses every other gc of the batch. Observe them all.
    for (const entry of list.getEntries()) {
      const kindCode = gcKind(entry);
      const kind = (kindCode !== undefined ? kinds.get(kindCode) : undefined) ?? 'unknown';
      // Duration is in milliseconds. A throw from an observer callback would crash the host
      // process (e.g. a Jest worker after its test file's environment was torn down).
      try {
        gcHistogram.observe({ kind, ...labels }, entry.duration / 1000);
      } catch {
        return;
      }
    }
  });
  observer.observe({ entryTypes: ['gc'] });
}
