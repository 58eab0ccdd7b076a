import { Counter } from '../counter';
import { PROCESS_WIDE, type DefaultMetricOptions } from './common';

const PROCESS_CPU_USER_SECONDS = 'process_cpu_user_seconds_total';
const PROCESS_CPU_SYSTEM_SECONDS = 'process_cpu_system_seconds_total';
const PROCESS_CPU_SECONDS = 'process_cpu_seconds_total';

/**
 * CPU time of the process, counted from the call (as prom-client does: the
 * counters start at 0 and grow by the `process.cpuUsage()` delta at each collect).
 */
export function processCpuTotal({ prefix, labels, labelNames, registers }: DefaultMetricOptions): void {
  let lastCpuUsage = process.cpuUsage();

  const cpuUserUsageCounter = new Counter({
    name: prefix + PROCESS_CPU_USER_SECONDS,
    help: 'Total user CPU time spent in seconds.',
    registers,
    labelNames,
    // process.cpuUsage() is the whole process's: see PROCESS_WIDE.
    aggregator: PROCESS_WIDE,
    // Use this one metric's `collect` to set all metrics' values.
    collect(): void {
      const cpuUsage = process.cpuUsage();
      const userUsageMicros = cpuUsage.user - lastCpuUsage.user;
      const systemUsageMicros = cpuUsage.system - lastCpuUsage.system;
      lastCpuUsage = cpuUsage;

      cpuUserUsageCounter.inc(labels, userUsageMicros / 1e6);
      cpuSystemUsageCounter.inc(labels, systemUsageMicros / 1e6);
      cpuUsageCounter.inc(labels, (userUsageMicros + systemUsageMicros) / 1e6);
    },
  });
  const cpuSystemUsageCounter = new Counter({
    name: prefix + PROCESS_CPU_SYSTEM_SECONDS,
    help: 'Total system CPU time spent in seconds.',
    registers,
    labelNames,
    aggregator: PROCESS_WIDE,
  });
  const cpuUsageCounter = new Counter({
    name: prefix + PROCESS_CPU_SECONDS,
    help: 'Total user and system CPU time spent in seconds.',
    registers,
    labelNames,
    aggregator: PROCESS_WIDE,
  });
}
