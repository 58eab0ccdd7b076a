import { getActiveResourcesInfo } from 'node:process';
import { Gauge } from '../gauge';
import { countStrings, setCountsByType, type DefaultMetricOptions } from './common';

const NODEJS_ACTIVE_RESOURCES = 'nodejs_active_resources';
const NODEJS_ACTIVE_RESOURCES_TOTAL = 'nodejs_active_resources_total';

/** Resources keeping this thread's event loop alive, by type (per thread: summed across threads). */
export function processResources({ prefix, labels, labelNames, registers }: DefaultMetricOptions): void {
  let types: ReadonlySet<string> = new Set();
  new Gauge({
    name: prefix + NODEJS_ACTIVE_RESOURCES,
    help: 'Number of active resources that are currently keeping the event loop alive, grouped by async resource type.',
    labelNames: ['type', ...labelNames],
    registers,
    collect(this: Gauge): void {
      types = setCountsByType(this, countStrings(getActiveResourcesInfo()), labels, types);
    },
  });
  new Gauge({
    name: prefix + NODEJS_ACTIVE_RESOURCES_TOTAL,
    help: 'Total number of active resources.',
    registers,
    labelNames,
    collect(this: Gauge): void {
      this.set(labels, getActiveResourcesInfo().length);
    },
  });
}
