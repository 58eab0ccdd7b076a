// prom-client's AggregatorRegistry on the one-host aggregation. prom-client's primary asks every
// worker over IPC for its metrics and gives up after 5 s ("Operation timed out.") when one is
// busy; here every process's core flushes to the aggregator embedded in the primary from its own
// thread, so `clusterMetrics()` answers from what is already there, however busy a worker is.
import { InvalidOptionsError } from '../errors';
import { aggregators } from '../metrics/aggregators';
import type { MetricCollector } from '../metrics/collector';
import type { MetricObjectWithValues } from '../metrics/metric';
import {
  PROMETHEUS_CONTENT_TYPE,
  type PrometheusContentType,
  Registry,
  type RegistryContentType,
  register,
} from '../metrics/registry';
import { EmbeddedBackend } from './embedded';
import { getBackend, loadBackend } from './load';

/**
 * A registry whose `clusterMetrics()` is the aggregate of every process of the node:cluster (or
 * of every process sharing the embedded aggregator). Constructing one loads an
 * {@link EmbeddedBackend} when no backend is loaded yet: the primary then holds the aggregator
 * and the workers (which construct one too, as in prom-client's examples) flush to it.
 */
export class AggregatorRegistry<T extends RegistryContentType = PrometheusContentType> extends Registry<T> {
  constructor(contentType?: T) {
    super(contentType ?? (PROMETHEUS_CONTENT_TYPE as T));
    if (getBackend() === undefined) loadBackend(new EmbeddedBackend());
  }

  /** The aggregate of the global registry over every process, in this registry's content type. */
  clusterMetrics(): Promise<string> {
    return register.metrics({ contentType: this.contentType });
  }

  /**
   * A registry holding the aggregate of `metricsArr`, each an array from
   * `registry.getMetricsAsJSON()` (prom-client's or promsd's): metrics of the same name are
   * combined with their `aggregator` (`sum` when absent).
   */
  static aggregate<T extends RegistryContentType = PrometheusContentType>(
    metricsArr: MetricObjectWithValues<string>[][],
    contentType?: T,
  ): Registry<T> {
    const out = new Registry<T>(contentType ?? (PROMETHEUS_CONTENT_TYPE as T));
    const byName = new Map<string, MetricObjectWithValues<string>[]>();
    for (const metrics of metricsArr) {
      for (const m of metrics) {
        let g = byName.get(m.name);
        if (g === undefined) byName.set(m.name, (g = []));
        g.push(m);
      }
    }
    for (const metrics of byName.values()) {
      const name = metrics[0].aggregator ?? 'sum';
      const fn = (aggregators as Record<string, (typeof aggregators)['sum']>)[name];
      // prom-client's message.
      if (typeof fn !== 'function') throw new InvalidOptionsError(`'${String(name)}' is not a defined aggregator.`);
      const aggregated = fn(metrics);
      if (aggregated === undefined) continue;
      const collector: MetricCollector = { ...aggregated, get: () => aggregated };
      out.registerMetric(collector);
    }
    return out;
  }

  /**
   * The registries a worker contributes (prom-client's). The embedded aggregation carries the
   * global registry, so the metrics of any other registry given here are added to it (those
   * registered there later are not).
   */
  static setRegistries(regs: Registry<RegistryContentType> | Registry<RegistryContentType>[]): void {
    const list = Array.isArray(regs) ? regs : [regs];
    for (const r of list) {
      if (!(r instanceof Registry)) throw new TypeError(`Expected Registry, got ${typeof r}`);
    }
    for (const r of list) {
      if ((r as Registry) === register) continue;
      for (const m of r.getMetricsAsArray()) register.registerMetric(m);
    }
  }
}
