import { Gauge } from '../gauge';
import { countByConstructorName, setCountsByType, type DefaultMetricOptions } from './common';

const NODEJS_ACTIVE_REQUESTS = 'nodejs_active_requests';
const NODEJS_ACTIVE_REQUESTS_TOTAL = 'nodejs_active_requests_total';

// Undocumented (absent from @types/node) and possibly absent from a future Node.
const getActiveRequests = (process as { _getActiveRequests?: () => unknown[] })._getActiveRequests;

/** libuv requests of this thread's event loop, by type (per thread: summed across threads). */
export function processRequests({ prefix, labels, labelNames, registers }: DefaultMetricOptions): void {
  if (typeof getActiveRequests !== 'function') return;
  const activeRequests = (): unknown[] => getActiveRequests.call(process);

  let types: ReadonlySet<string> = new Set();
  new Gauge({
    name: prefix + NODEJS_ACTIVE_REQUESTS,
    help: 'Number of active libuv requests grouped by request type. Every request type is C++ class name.',
    labelNames: ['type', ...labelNames],
    registers,
    collect(this: Gauge): void {
      types = setCountsByType(this, countByConstructorName(activeRequests()), labels, types);
    },
  });
  new Gauge({
    name: prefix + NODEJS_ACTIVE_REQUESTS_TOTAL,
    help: 'Total number of active requests.',
    registers,
    labelNames,
    collect(this: Gauge): void {
      this.set(labels, activeRequests().length);
    },
  });
}
