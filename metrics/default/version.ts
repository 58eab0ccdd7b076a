import { Gauge } from '../gauge';
import type { DefaultMetricOptions } from './common';

const NODE_VERSION_INFO = 'nodejs_version_info';

const version = process.version;
const [major, minor, patch] = version.slice(1).split('.').map(Number) as [number, number, number];

/** Node.js version as labels of a constant 1. */
export function versionInfo({ prefix, labels, labelNames, registers }: DefaultMetricOptions): void {
  new Gauge({
    name: prefix + NODE_VERSION_INFO,
    help: 'Node.js version info.',
    labelNames: ['version', 'major', 'minor', 'patch', ...labelNames],
    registers,
    // prom-client's choice: every thread and process of one deployment reports
    // the same series, so it is taken once rather than summed.
    aggregator: 'first',
    // Set in collect() so the value is back after a registry reset.
    collect(this: Gauge): void {
      this.set({ version, major, minor, patch, ...labels }, 1);
    },
  });
}
