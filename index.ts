/**
 * promsd: Prometheus metrics for Node.js services that run as many threads and processes.
 * A drop-in for prom-client's API: switch the import, keep the code.
 *
 * ```ts
 * import { Counter, register } from 'promsd';
 * const requests = new Counter({ name: 'http_requests_total', help: 'Requests.', labelNames: ['method'] });
 * requests.inc({ method: 'GET' });
 * console.log(await register.metrics());
 * ```
 */
import { OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE } from './metrics/registry';

export { Counter } from './metrics/counter';
export type { CounterChild, CounterConfiguration, IncreaseDataWithExemplar } from './metrics/counter';
export { Gauge } from './metrics/gauge';
export type { GaugeChild, GaugeConfiguration } from './metrics/gauge';
export { Histogram } from './metrics/histogram';
export type { HistogramChild, HistogramConfiguration, ObserveDataWithExemplar } from './metrics/histogram';
export type { NativeHistogramConfiguration } from './metrics/native-histogram';
export { Summary } from './metrics/summary';
export type { SummaryChild, SummaryConfiguration } from './metrics/summary';
export type { Metric } from './metrics/metric';
export type {
  Aggregator,
  CollectFunction,
  MetricConfiguration,
  Collector,
  MetricObject,
  MetricObjectWithValues,
  MetricType,
  MetricValue,
  MetricValueWithName,
} from './metrics/metric';
export type { LabelValues } from './metrics/labels';
export {
  Registry,
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  PROTOBUF_CONTENT_TYPE,
  register,
} from './metrics/registry';
export type {
  Charset,
  ExpositionContentType,
  OpenMetricsContentType,
  OpenMetricsMIME,
  OpenMetricsVersion,
  PrometheusContentType,
  PrometheusMetricsVersion,
  PrometheusMIME,
  RegistryContentType,
  RegistryOptions,
} from './metrics/registry';
export { exponentialBuckets, linearBuckets } from './metrics/buckets';
export { validateLabel, validateLabelName, validateMetricName } from './metrics/validation';
export { collectDefaultMetrics } from './metrics/default-metrics';
export type { DefaultMetricsCollectorConfiguration } from './metrics/default-metrics';
export { countExceptions, time, trackInprogress } from './metrics/wrappers';
export type {
  AnyFunction,
  CountExceptionsOptions,
  ErrorClass,
  LabelsFunction,
  TimeOptions,
  TrackInprogressOptions,
  Wrapper,
} from './metrics/wrappers';
export { currentTrace, currentTraceId, runWithTrace } from './metrics/trace';
export type { TraceContext } from './metrics/trace';
export { metricsMiddleware } from './server/middleware';
export type { MetricsMiddlewareOptions, RequestInfo } from './server/middleware';
export {
  DuplicateMetricError,
  InvalidLabelsError,
  InvalidMetricError,
  InvalidOptionsError,
  InvalidValueError,
  PromsdError,
  ServerStartError,
} from './errors';
export * from './server/index';
export * from './sd/index';
export { loadBackend } from './backend/load';
export { RedisBackend, renderRedis } from './backend/redis';
export type { RedisBackendOptions, RenderRedisOptions } from './backend/redis';
export { EmbeddedBackend } from './backend/embedded';
export type { EmbeddedBackendOptions } from './backend/embedded';
export { IoredisBackend, type IoredisBackendOptions } from './backend/ioredis';
export type { Backend, RenderOptions } from './backend/types';
export { createLogger, setLogger } from './log';
export type { Logger } from './log';
export { resolveConfig } from './config/index';
export type {
  ConfigSource,
  PromsdConfig,
  PromsdConfigInput,
  ResolveConfigInput,
  ResolvedConfig,
} from './config/index';
export { BackendConfigError, BackendLoadedError, ConfigError, PushgatewayError } from './errors';
export { AggregatorRegistry } from './backend/aggregator-registry';
export { Pushgateway } from './push/pushgateway';
export type { PushgatewayOptions, PushgatewayParameters, PushgatewayResponse } from './push/pushgateway';
export { AggregatorFactory, aggregators } from './metrics/aggregators';
export type { AggregatorFunction } from './metrics/aggregators';
export type { CollectorValue, MetricCollector } from './metrics/collector';

/** The default registry's content type (prom-client compatible; follows `register.setContentType`). */
export { globalContentType as contentType } from './metrics/registry';
/** Alias of PROMETHEUS_CONTENT_TYPE (prom-client compatible). */
export const prometheusContentType = PROMETHEUS_CONTENT_TYPE;
/** Alias of OPENMETRICS_CONTENT_TYPE (prom-client compatible). */
export const openMetricsContentType = OPENMETRICS_CONTENT_TYPE;
