// prom-client's public types, used as its users' TypeScript does; compiled under `strict` by
// `npm run typecheck` (never run). A program that type-checks against prom-client 15 should
// type-check against promsd with only the import changed.
import {
  AggregatorRegistry,
  aggregators,
  type Charset,
  type Collector,
  Counter,
  collectDefaultMetrics,
  contentType,
  type DefaultMetricsCollectorConfiguration,
  Gauge,
  Histogram,
  type LabelValues,
  type MetricObject,
  type MetricObjectWithValues,
  type MetricValue,
  type MetricValueWithName,
  type OpenMetricsContentType,
  type OpenMetricsMIME,
  type OpenMetricsVersion,
  openMetricsContentType,
  type PrometheusContentType,
  type PrometheusMetricsVersion,
  type PrometheusMIME,
  Pushgateway,
  prometheusContentType,
  Registry,
  type RegistryContentType,
  register,
  Summary,
  validateMetricName,
} from '../../index';

// Content types.
const charset: Charset = 'utf-8';
const promMime: PrometheusMIME = 'text/plain';
const promVersion: PrometheusMetricsVersion = '0.0.4';
const omMime: OpenMetricsMIME = 'application/openmetrics-text';
const omVersion: OpenMetricsVersion = '1.0.0';
const promType: PrometheusContentType = prometheusContentType;
const omType: OpenMetricsContentType = openMetricsContentType;
const anyType: RegistryContentType = contentType;
export const contentTypes = [charset, promMime, promVersion, omMime, omVersion, promType, omType, anyType];

// Registries, generic over their content type.
const promRegistry: Registry<PrometheusContentType> = new Registry();
const omRegistry = new Registry<OpenMetricsContentType>(Registry.OPENMETRICS_CONTENT_TYPE);
omRegistry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
const merged: Registry = Registry.merge([promRegistry, register]);

// Every metric type registers in a strict program (its `collect` callback typed by its class).
const counter = new Counter({
  name: 'c_total',
  help: 'C.',
  labelNames: ['method'] as const,
  registers: [promRegistry, omRegistry],
  collect() {
    this.inc({ method: 'GET' });
  },
});
const gauge = new Gauge({ name: 'g', help: 'G.', labelNames: ['q'], aggregator: 'max' });
const histogram = new Histogram({ name: 'h', help: 'H.', buckets: [0.1, 1], enableExemplars: true, registers: [] });
const summary = new Summary({
  name: 's',
  help: 'S.',
  percentiles: [0.5],
  maxAgeSeconds: 60,
  ageBuckets: 5,
  pruneAgedBuckets: true,
  compressCount: 1000,
  registers: [],
});
promRegistry.registerMetric(gauge);
promRegistry.registerMetric(histogram);
promRegistry.registerMetric(summary);
register.registerMetric(counter);
merged.removeSingleMetric('c_total');

// The namespaces' types.
const counterChild: Counter.Internal = counter.labels('GET');
counterChild.inc(2);
const gaugeChild: Gauge.Internal<'q'> = gauge.labels({ q: 'a' });
gaugeChild.set(1);
const endGauge: (labels?: LabelValues<'q'>) => number = gaugeChild.startTimer();
endGauge();
const histogramChild: Histogram.Internal<string> = histogram.labels();
histogramChild.observe(1);
const histogramConfig: Histogram.Config = { buckets: [1, 2] };
const summaryChild: Summary.Internal<string> = summary.labels();
summaryChild.observe(1);
const summaryConfig: Summary.Config = { percentiles: [0.9] };
export const configs = [histogramConfig, summaryConfig];

// Timers with exemplars, exemplars in updates.
const end = histogram.startTimer({}, { trace_id: 'a' });
end({}, { span_id: 'b' });
histogram.observe({ value: 1, labels: {}, exemplarLabels: { trace_id: 'x' } });

// get() and getMetricsAsJSON() shapes.
export async function shapes(): Promise<number> {
  const h: MetricObjectWithValues<MetricValueWithName<string>> = await histogram.get();
  const c: MetricObjectWithValues<MetricValue<'method'>> = await counter.get();
  const o: MetricObject = h;
  // Two label names: each value's labels carry both (the values type does not split per name).
  const two = new Counter<'method' | 'status'>({ name: 't_total', help: 'h', labelNames: ['method', 'status'] });
  const [first] = (await two.get()).values;
  const pair: [string | number | undefined, string | number | undefined] = [first.labels.method, first.labels.status];
  const json = await register.getMetricsAsJSON();
  const text: string = await register.metrics();
  return pair.length + h.values.length + c.values.length + o.name.length + json.length + text.length;
}

// Default metrics, generic over the registry's content type.
const defaults: DefaultMetricsCollectorConfiguration<OpenMetricsContentType> = {
  register: omRegistry,
  prefix: 'app_',
  labels: { app: 'x' },
  gcDurationBuckets: [1],
  eventLoopMonitoringPrecision: 10,
};
collectDefaultMetrics(defaults);
export const metricsList: string[] = collectDefaultMetrics.metricsList;

// Collectors (prom-client's Collector type is a plain callback).
const collector: Collector = () => {};
collector();

// Cluster and Pushgateway.
export async function cluster(): Promise<string> {
  const aggregated: Registry<PrometheusContentType> = AggregatorRegistry.aggregate([await register.getMetricsAsJSON()]);
  AggregatorRegistry.setRegistries([promRegistry]);
  AggregatorRegistry.setRegistries(promRegistry);
  const sum = aggregators.sum([await gauge.get()]);
  const gw = new Pushgateway('http://127.0.0.1:9091', { timeout: 5000 }, promRegistry);
  const params: Pushgateway.Parameters = { jobName: 'j', groupings: { instance: 'i' } };
  const pushed: { resp?: unknown; body?: unknown } = await gw.pushAdd(params);
  await gw.push(params);
  await gw.delete(params);
  return `${sum?.name}${String(pushed.body)}${await aggregated.metrics()}`;
}

export const valid: boolean = validateMetricName('x');
