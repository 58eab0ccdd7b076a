import { Gauge } from '../gauge';
import { safeMemoryUsage, type DefaultMetricOptions } from './common';

const NODEJS_HEAP_SIZE_TOTAL = 'nodejs_heap_size_total_bytes';
const NODEJS_HEAP_SIZE_USED = 'nodejs_heap_size_used_bytes';
const NODEJS_EXTERNAL_MEMORY = 'nodejs_external_memory_bytes';

/**
 * V8 heap of this thread's isolate. Every worker_thread has its own isolate,
 * so these are per thread and keep prom-client's 'sum': the sum is the JS heap
 * of the process.
 */
export function heapSizeAndUsed({ prefix, labels, labelNames, registers }: DefaultMetricOptions): void {
  const heapSizeTotal = new Gauge({
    name: prefix + NODEJS_HEAP_SIZE_TOTAL,
    help: 'Process heap size from Node.js in bytes.',
    registers,
    labelNames,
    // Use this one metric's `collect` to set all metrics' values.
    collect(): void {
      const memUsage = safeMemoryUsage();
      if (!memUsage) return;
      heapSizeTotal.set(labels, memUsage.heapTotal);
      heapSizeUsed.set(labels, memUsage.heapUsed);
      externalMemUsed.set(labels, memUsage.external);
    },
  });
  const heapSizeUsed = new Gauge({
    name: prefix + NODEJS_HEAP_SIZE_USED,
    help: 'Process heap size used from Node.js in bytes.',
    registers,
    labelNames,
  });
  const externalMemUsed = new Gauge({
    name: prefix + NODEJS_EXTERNAL_MEMORY,
    help: 'Node.js external memory size in bytes.',
    registers,
    labelNames,
  });
}
