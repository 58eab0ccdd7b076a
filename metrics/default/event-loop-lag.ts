import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Gauge } from '../gauge';
import type { DefaultLabels, DefaultMetricOptions } from './common';

const NODEJS_EVENTLOOP_LAG = 'nodejs_eventloop_lag_seconds';
const NODEJS_EVENTLOOP_LAG_MIN = 'nodejs_eventloop_lag_min_seconds';
const NODEJS_EVENTLOOP_LAG_MAX = 'nodejs_eventloop_lag_max_seconds';
const NODEJS_EVENTLOOP_LAG_MEAN = 'nodejs_eventloop_lag_mean_seconds';
const NODEJS_EVENTLOOP_LAG_STDDEV = 'nodejs_eventloop_lag_stddev_seconds';
const NODEJS_EVENTLOOP_LAG_P50 = 'nodejs_eventloop_lag_p50_seconds';
const NODEJS_EVENTLOOP_LAG_P90 = 'nodejs_eventloop_lag_p90_seconds';
const NODEJS_EVENTLOOP_LAG_P99 = 'nodejs_eventloop_lag_p99_seconds';

function reportEventLoopLag(start: bigint, gauge: Gauge, labels: DefaultLabels): void {
  // Runs from the event loop, outside any caller: a throw here would crash the host process
  // (e.g. a Jest worker whose test file's environment has already been torn down).
  try {
    gauge.set(labels, Number(process.hrtime.bigint() - start) / 1e9);
  } catch {
    // Nothing to report to: the next scrape shows the previous value.
  }
}

/**
 * Event loop delay of this thread: the time a setImmediate queued at collect
 * waits (reported at the next scrape, as in prom-client), and the statistics of
 * a `monitorEventLoopDelay` histogram, reset at every collect.
 *
 * Every thread has its own event loop, so these keep prom-client's per-member
 * aggregators (average, min, max).
 */
export function eventLoopLag({
  prefix,
  labels,
  labelNames,
  registers,
  eventLoopMonitoringPrecision,
}: DefaultMetricOptions): void {
  // Never disabled, as in prom-client: its timer is unref'd, so it does not keep the process alive.
  const histogram = monitorEventLoopDelay({ resolution: eventLoopMonitoringPrecision });
  histogram.enable();

  const lag = new Gauge({
    name: prefix + NODEJS_EVENTLOOP_LAG,
    help: 'Lag of event loop in seconds.',
    registers,
    labelNames,
    aggregator: 'average',
    // Use this one metric's `collect` to set all metrics' values.
    collect(): void {
      setImmediate(reportEventLoopLag, process.hrtime.bigint(), lag, labels);

      lagMin.set(labels, histogram.min / 1e9);
      lagMax.set(labels, histogram.max / 1e9);
      lagMean.set(labels, histogram.mean / 1e9);
      lagStddev.set(labels, histogram.stddev / 1e9);
      lagP50.set(labels, histogram.percentile(50) / 1e9);
      lagP90.set(labels, histogram.percentile(90) / 1e9);
      lagP99.set(labels, histogram.percentile(99) / 1e9);

      histogram.reset();
    },
  });
  const lagMin = new Gauge({
    name: prefix + NODEJS_EVENTLOOP_LAG_MIN,
    help: 'The minimum recorded event loop delay.',
    registers,
    labelNames,
    aggregator: 'min',
  });
  const lagMax = new Gauge({
    name: prefix + NODEJS_EVENTLOOP_LAG_MAX,
    help: 'The maximum recorded event loop delay.',
    registers,
    labelNames,
    aggregator: 'max',
  });
  const lagMean = new Gauge({
    name: prefix + NODEJS_EVENTLOOP_LAG_MEAN,
    help: 'The mean of the recorded event loop delays.',
    registers,
    labelNames,
    aggregator: 'average',
  });
  const lagStddev = new Gauge({
    name: prefix + NODEJS_EVENTLOOP_LAG_STDDEV,
    help: 'The standard deviation of the recorded event loop delays.',
    registers,
    labelNames,
    aggregator: 'average',
  });
  const lagP50 = new Gauge({
    name: prefix + NODEJS_EVENTLOOP_LAG_P50,
    help: 'The 50th percentile of the recorded event loop delays.',
    registers,
    labelNames,
    aggregator: 'average',
  });
  const lagP90 = new Gauge({
    name: prefix + NODEJS_EVENTLOOP_LAG_P90,
    help: 'The 90th percentile of the recorded event loop delays.',
    registers,
    labelNames,
    aggregator: 'average',
  });
  const lagP99 = new Gauge({
    name: prefix + NODEJS_EVENTLOOP_LAG_P99,
    help: 'The 99th percentile of the recorded event loop delays.',
    registers,
    labelNames,
    aggregator: 'average',
  });
}
