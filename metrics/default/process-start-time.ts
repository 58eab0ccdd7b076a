import { Gauge } from '../gauge';
import { PROCESS_WIDE, type DefaultMetricOptions } from './common';

const PROCESS_START_TIME = 'process_start_time_seconds';

// Computed once at load, like prom-client, so every collect reports the same value.
const startInSeconds = Math.round(Date.now() / 1000 - process.uptime());

/** Start time of the process. */
export function processStartTime({ prefix, labels, labelNames, registers }: DefaultMetricOptions): void {
  new Gauge({
    name: prefix + PROCESS_START_TIME,
    help: 'Start time of the process since unix epoch in seconds.',
    registers,
    labelNames,
    // prom-client says 'omit' (start times of different processes cannot be
    // combined), which would drop it as soon as two threads of one process
    // register it; every thread reports the same value: see PROCESS_WIDE.
    aggregator: PROCESS_WIDE,
    collect(this: Gauge): void {
      this.set(labels, startInSeconds);
    },
  });
}
