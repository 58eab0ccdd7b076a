import { readdirSync } from 'node:fs';
import { Gauge } from '../gauge';
import { PROCESS_WIDE, type DefaultMetricOptions } from './common';

const PROCESS_OPEN_FDS = 'process_open_fds';

/** Open file descriptors of the process (Linux only, from /proc/self/fd). */
export function processOpenFileDescriptors({ prefix, labels, labelNames, registers }: DefaultMetricOptions): void {
  if (process.platform !== 'linux') return;

  new Gauge({
    name: prefix + PROCESS_OPEN_FDS,
    help: 'Number of open file descriptors.',
    registers,
    labelNames,
    // The fd table belongs to the process: see PROCESS_WIDE.
    aggregator: PROCESS_WIDE,
    collect(this: Gauge): void {
      try {
        // Minus 1: readdirSync's own descriptor is listed, and it is closed by now.
        this.set(labels, readdirSync('/proc/self/fd').length - 1);
      } catch {
        // procfs unavailable: leave the value as it was
      }
    },
  });
}
