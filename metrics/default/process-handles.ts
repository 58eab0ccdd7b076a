import { Gauge } from '../gauge';
import { countByConstructorName, setCountsByType, type DefaultMetricOptions } from './common';

const NODEJS_ACTIVE_HANDLES = 'nodejs_active_handles';
const NODEJS_ACTIVE_HANDLES_TOTAL = 'nodejs_active_handles_total';

// Undocumented and deprecated in spirit (getActiveResourcesInfo replaces it), so
// absent from @types/node and possibly from a future Node.
const getActiveHandles = (process as { _getActiveHandles?: () => unknown[] })._getActiveHandles;

/** libuv handles of this thread's event loop, by type (per thread: summed across threads). */
export function processHandles({ prefix, labels, labelNames, registers }: DefaultMetricOptions): void {
  if (typeof getActiveHandles !== 'function') return;
  const activeHandles = (): unknown[] => getActiveHandles.call(process);

  let types: ReadonlySet<string> = new Set();
  new Gauge({
    name: prefix + NODEJS_ACTIVE_HANDLES,
    help: 'Number of active libuv handles grouped by handle type. Every handle type is C++ class name.',
    labelNames: ['type', ...labelNames],
    registers,
    collect(this: Gauge): void {
      types = setCountsByType(this, countByConstructorName(activeHandles()), labels, types);
    },
  });
  new Gauge({
    name: prefix + NODEJS_ACTIVE_HANDLES_TOTAL,
    help: 'Total number of active handles.',
    registers,
    labelNames,
    collect(this: Gauge): void {
      this.set(labels, activeHandles().length);
    },
  });
}
