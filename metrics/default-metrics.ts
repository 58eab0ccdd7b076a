import { register as globalRegistry, type Registry, type RegistryContentType } from './registry';
import { DEFAULT_GC_DURATION_BUCKETS, gc } from './default/gc';
import type { DefaultMetricGroup, DefaultMetricOptions } from './default/common';
import { eventLoopLag } from './default/event-loop-lag';
import { heapSizeAndUsed } from './default/heap-size-and-used';
import { heapSpacesSizeAndUsed } from './default/heap-spaces-size-and-used';
import { osMemoryHeap } from './default/os-memory-heap';
import { processCpuTotal } from './default/process-cpu-total';
import { processHandles } from './default/process-handles';
import { processMaxFileDescriptors } from './default/process-max-file-descriptors';
import { processOpenFileDescriptors } from './default/process-open-file-descriptors';
import { processRequests } from './default/process-requests';
import { processResources } from './default/process-resources';
import { processStartTime } from './default/process-start-time';
import { versionInfo } from './default/version';

/** Options of {@link collectDefaultMetrics}; the same as prom-client's. */
export interface DefaultMetricsCollectorConfiguration<T extends RegistryContentType = RegistryContentType> {
  /** Registry to register the metrics in. Default: the global `register`. */
  register?: Registry<T>;
  /** Prepended to every metric name, e.g. `'my_app_'`. Default: none. */
  prefix?: string;
  /** Buckets of `nodejs_gc_duration_seconds`, in seconds. Default: `[0.001, 0.01, 0.1, 1, 2, 5]`. */
  gcDurationBuckets?: readonly number[];
  /** Sampling interval of the event loop delay monitor, in milliseconds (an integer > 0). Default: 10. */
  eventLoopMonitoringPrecision?: number;
  /** Labels added to every sample of every default metric, e.g. `{ app: 'api' }`. Default: none. */
  labels?: Readonly<Record<string, string | number>>;
}

// Same keys, in the same order, as prom-client 15's, so `metricsList` matches.
// (prom-client leaves out processResources on Node < 17.3; promsd needs Node 20.)
const metrics: Readonly<Record<string, DefaultMetricGroup>> = {
  processCpuTotal,
  processStartTime,
  osMemoryHeap,
  processOpenFileDescriptors,
  processMaxFileDescriptors,
  eventLoopLag,
  processResources,
  processHandles,
  processRequests,
  heapSizeAndUsed,
  heapSpacesSizeAndUsed,
  version: versionInfo,
  gc,
};

/**
 * Registers the metrics Prometheus recommends for every process and Node.js's
 * own, with the names, help texts, labels and buckets of prom-client 15:
 * `process_cpu_*_seconds_total`, `process_start_time_seconds`,
 * `process_resident_memory_bytes` (and on Linux `process_virtual_memory_bytes`,
 * `process_heap_bytes`, `process_open_fds`, `process_max_fds`),
 * `nodejs_eventloop_lag_*`, `nodejs_active_{handles,requests,resources}*`,
 * `nodejs_heap_*`, `nodejs_external_memory_bytes`, `nodejs_version_info` and
 * `nodejs_gc_duration_seconds`.
 *
 * Values are read when the registry is scraped (through each metric's
 * `collect`), except gc durations, which are observed as collections happen.
 * Call it once per registry and thread: a second call with the same registry
 * throws, because the names are already registered.
 *
 * Unlike prom-client, values that are the same for every thread of a process
 * (`process_*`) are not summed when several threads expose one aggregated view.
 *
 * @param config - Optional settings; see {@link DefaultMetricsCollectorConfiguration}.
 * @throws TypeError if `config` is neither an object, `null` nor `undefined`.
 * @throws If one of the metrics is already registered in the target registry.
 * @example
 * ```ts
 * import { collectDefaultMetrics, Registry } from 'promsd';
 * const register = new Registry();
 * collectDefaultMetrics({ register, prefix: 'api_', labels: { service: 'api' } });
 * ```
 */
export function collectDefaultMetrics<T extends RegistryContentType>(
  config?: DefaultMetricsCollectorConfiguration<T> | null,
): void {
  if (config !== null && config !== undefined && typeof config !== 'object') {
    throw new TypeError('config must be null, undefined, or an object');
  }
  // Copied so that later changes to the caller's object cannot desynchronize labels and labelNames.
  const labels = { ...config?.labels };
  const options: DefaultMetricOptions = {
    prefix: config?.prefix ?? '',
    labels,
    labelNames: Object.keys(labels),
    registers: [config?.register ?? globalRegistry],
    gcDurationBuckets: config?.gcDurationBuckets ?? DEFAULT_GC_DURATION_BUCKETS,
    eventLoopMonitoringPrecision: config?.eventLoopMonitoringPrecision ?? 10,
  };
  for (const install of Object.values(metrics)) install(options);
}

/** Names of the metric groups `collectDefaultMetrics` installs, as prom-client's `metricsList`. */
collectDefaultMetrics.metricsList = Object.keys(metrics);
