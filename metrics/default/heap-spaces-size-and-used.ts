import { getHeapSpaceStatistics } from 'node:v8';
import { Gauge } from '../gauge';
import type { DefaultMetricOptions } from './common';

const NODEJS_HEAP_SPACE_SIZE_TOTAL = 'nodejs_heap_space_size_total_bytes';
const NODEJS_HEAP_SPACE_SIZE_USED = 'nodejs_heap_space_size_used_bytes';
const NODEJS_HEAP_SPACE_SIZE_AVAILABLE = 'nodejs_heap_space_size_available_bytes';

/** 'new_space' -> 'new', as prom-client labels them. */
function shortSpaceName(spaceName: string): string {
  // prom-client uses substr(0, indexOf('_space')), which yields '' when the suffix is missing.
  const end = spaceName.indexOf('_space');
  return end === -1 ? '' : spaceName.slice(0, end);
}

/**
 * V8 heap spaces of this thread's isolate (per thread: prom-client's 'sum').
 */
export function heapSpacesSizeAndUsed({ prefix, labels, labelNames, registers }: DefaultMetricOptions): void {
  const spaceLabelNames = ['space', ...labelNames];

  const total = new Gauge({
    name: prefix + NODEJS_HEAP_SPACE_SIZE_TOTAL,
    help: 'Process heap space size total from Node.js in bytes.',
    labelNames: spaceLabelNames,
    registers,
    // Use this one metric's `collect` to set all metrics' values.
    collect(): void {
      for (const space of getHeapSpaceStatistics()) {
        const spaceLabels = { space: shortSpaceName(space.space_name), ...labels };
        total.set(spaceLabels, space.space_size);
        used.set(spaceLabels, space.space_used_size);
        available.set(spaceLabels, space.space_available_size);
      }
    },
  });
  const used = new Gauge({
    name: prefix + NODEJS_HEAP_SPACE_SIZE_USED,
    help: 'Process heap space size used from Node.js in bytes.',
    labelNames: spaceLabelNames,
    registers,
  });
  const available = new Gauge({
    name: prefix + NODEJS_HEAP_SPACE_SIZE_AVAILABLE,
    help: 'Process heap space size available from Node.js in bytes.',
    labelNames: spaceLabelNames,
    registers,
  });
}
