import { readFileSync } from 'node:fs';
import { Gauge } from '../gauge';
import { PROCESS_WIDE, safeMemoryUsage, type DefaultMetricOptions } from './common';

const PROCESS_RESIDENT_MEMORY = 'process_resident_memory_bytes';
const PROCESS_VIRTUAL_MEMORY = 'process_virtual_memory_bytes';
const PROCESS_HEAP = 'process_heap_bytes';

/**
 * Memory of the whole process: RSS, and on Linux also virtual size and data
 * segment from /proc/self/status. All of it is process-wide: see PROCESS_WIDE.
 */
export function osMemoryHeap(options: DefaultMetricOptions): void {
  if (process.platform === 'linux') linuxVariant(options);
  else notLinuxVariant(options);
}

function notLinuxVariant({ prefix, labels, labelNames, registers }: DefaultMetricOptions): void {
  new Gauge({
    name: prefix + PROCESS_RESIDENT_MEMORY,
    help: 'Resident memory size in bytes.',
    registers,
    labelNames,
    aggregator: PROCESS_WIDE,
    collect(this: Gauge): void {
      const memUsage = safeMemoryUsage();
      if (memUsage) this.set(labels, memUsage.rss);
    },
  });
}

/** Reads the `VmSize`, `VmRSS` and `VmData` lines of /proc/self/status, in bytes. */
function readProcStatus(): Map<string, number> {
  // /proc is not disk I/O: it maps to in-kernel data and never blocks, and
  // libuv reads it the same way for process.memoryUsage().
  const status = readFileSync('/proc/self/status', 'utf8');
  const values = new Map<string, number>();
  for (const line of status.split('\n')) {
    const match = /^(VmSize|VmRSS|VmData):\s*(\d+)\s*kB/.exec(line);
    if (match) values.set(match[1] as string, Number(match[2]) * 1024);
  }
  return values;
}

function linuxVariant({ prefix, labels, labelNames, registers }: DefaultMetricOptions): void {
  const residentMemGauge = new Gauge({
    name: prefix + PROCESS_RESIDENT_MEMORY,
    help: 'Resident memory size in bytes.',
    registers,
    labelNames,
    aggregator: PROCESS_WIDE,
    // Use this one metric's `collect` to set all metrics' values.
    collect(): void {
      let status: Map<string, number>;
      try {
        status = readProcStatus();
      } catch {
        return; // no procfs (e.g. a sandbox): report nothing rather than fail the scrape
      }
      const rss = status.get('VmRSS');
      const size = status.get('VmSize');
      const data = status.get('VmData');
      if (rss !== undefined) residentMemGauge.set(labels, rss);
      if (size !== undefined) virtualMemGauge.set(labels, size);
      if (data !== undefined) heapSizeMemGauge.set(labels, data);
    },
  });
  const virtualMemGauge = new Gauge({
    name: prefix + PROCESS_VIRTUAL_MEMORY,
    help: 'Virtual memory size in bytes.',
    registers,
    labelNames,
    aggregator: PROCESS_WIDE,
  });
  const heapSizeMemGauge = new Gauge({
    name: prefix + PROCESS_HEAP,
    help: 'Process heap size in bytes.',
    registers,
    labelNames,
    aggregator: PROCESS_WIDE,
  });
}
