import { readFileSync } from 'node:fs';
import { Gauge } from '../gauge';
import { PROCESS_WIDE, type DefaultMetricOptions } from './common';

const PROCESS_MAX_FDS = 'process_max_fds';

// Read once per process, like prom-client: the limit rarely changes at run time.
let maxFds: number | undefined;

function readMaxFds(): number | undefined {
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8');
    for (const line of limits.split('\n')) {
      if (line.startsWith('Max open files')) {
        // Columns are separated by runs of spaces: name, soft limit, hard limit, units.
        const soft = line.split(/ {2,}/)[1]?.trim();
        // prom-client reports NaN for "unlimited"; +Inf says what the kernel means.
        return soft === 'unlimited' ? Infinity : Number(soft);
      }
    }
  } catch {
    // no Linux-like procfs
  }
  return undefined;
}

/** Soft limit on open file descriptors (only where /proc/self/limits exists). */
export function processMaxFileDescriptors({ prefix, labels, labelNames, registers }: DefaultMetricOptions): void {
  maxFds ??= readMaxFds();
  if (maxFds === undefined) return;
  const value = maxFds;

  new Gauge({
    name: prefix + PROCESS_MAX_FDS,
    help: 'Maximum number of open file descriptors.',
    registers,
    labelNames,
    // A process limit: see PROCESS_WIDE.
    aggregator: PROCESS_WIDE,
    collect(this: Gauge): void {
      this.set(labels, value);
    },
  });
}
