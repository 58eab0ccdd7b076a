import { describe, expect, it } from 'vitest';
import {
  Counter,
  DuplicateMetricError,
  Gauge,
  Histogram,
  InvalidLabelsError,
  InvalidMetricError,
  InvalidValueError,
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  PromsdError,
  Registry,
  Summary,
} from '../index';
import { thrownBy } from './helpers/throws';

// Every class of bad input throws a named error whose message names the metric and the bad
// value, and leaves the exposition exactly as it was: no half-registered metric, no series
// created by an update that was refused, no partial update.

type ErrorClass =
  | typeof InvalidMetricError
  | typeof InvalidLabelsError
  | typeof InvalidValueError
  | typeof DuplicateMetricError;

/** A registry with one metric of each type, each with one series holding known values. */
function fixture(options?: { strict?: boolean }) {
  const reg = new Registry(undefined, options);
  const counter = new Counter({
    name: 'http_requests_total',
    help: 'Requests.',
    labelNames: ['method', 'status'],
    registers: [reg],
  });
  const gauge = new Gauge({ name: 'queue_depth', help: 'Depth.', labelNames: ['queue'], registers: [reg] });
  const histogram = new Histogram({
    name: 'rpc_duration_seconds',
    help: 'RPCs.',
    labelNames: ['method'],
    buckets: [1],
    registers: [reg],
  });
  const summary = new Summary({
    name: 'payload_bytes',
    help: 'Payloads.',
    labelNames: ['route'],
    percentiles: [0.5],
    registers: [reg],
  });
  counter.inc({ method: 'GET', status: '200' });
  gauge.set({ queue: 'a' }, 5);
  histogram.observe({ method: 'get' }, 0.5);
  summary.observe({ route: '/a' }, 10);
  return { reg, counter, gauge, histogram, summary };
}

/** `act` throws `cls` with exactly `message`, and `reg`'s exposition is unchanged. */
async function expectRefused(reg: Registry, act: () => unknown, cls: ErrorClass, message: string): Promise<void> {
  const before = await reg.metrics();
  const err = thrownBy(act);
  expect(err).toBeInstanceOf(cls);
  expect(err).toBeInstanceOf(PromsdError);
  expect(err.name).toBe(cls.name);
  expect(err.message).toBe(message);
  expect(await reg.metrics()).toBe(before);
}

describe('invalid metric definitions throw InvalidMetricError and register nothing', () => {
  /** Refused definition, then the same name is still free in the registry. */
  async function expectDefinitionRefused(
    define: (reg: Registry) => unknown,
    message: string,
    freeName: string,
  ): Promise<void> {
    const { reg } = fixture();
    await expectRefused(reg, () => define(reg), InvalidMetricError, message);
    new Gauge({ name: freeName, help: 'Now valid.', registers: [reg] });
    expect(reg.getSingleMetric(freeName)).toBeDefined();
  }

  it('a metric name that starts with a digit', async () => {
    await expectDefinitionRefused(
      (reg) => new Counter({ name: '1st_requests_total', help: 'x', registers: [reg] }),
      'Counter: invalid metric name "1st_requests_total" (must match [a-zA-Z_:][a-zA-Z0-9_:]*)',
      'first_requests_total',
    );
  });

  it('a metric name with a dash', async () => {
    await expectDefinitionRefused(
      (reg) => new Gauge({ name: 'queue-depth', help: 'x', registers: [reg] }),
      'Gauge: invalid metric name "queue-depth" (must match [a-zA-Z_:][a-zA-Z0-9_:]*)',
      'queue_depth2',
    );
  });

  it('an empty metric name and a missing one', async () => {
    await expectDefinitionRefused(
      (reg) => new Histogram({ name: '', help: 'x', registers: [reg] }),
      'Histogram: invalid metric name "" (must match [a-zA-Z_:][a-zA-Z0-9_:]*)',
      'h2',
    );
    await expectDefinitionRefused(
      (reg) => new Summary({ help: 'x', registers: [reg] } as unknown as ConstructorParameters<typeof Summary>[0]),
      'Summary: invalid metric name undefined (must match [a-zA-Z_:][a-zA-Z0-9_:]*)',
      's2',
    );
  });

  it('an empty help text', async () => {
    await expectDefinitionRefused(
      (reg) => new Counter({ name: 'jobs_total', help: '', registers: [reg] }),
      'Counter "jobs_total": help must be a non-empty string, got ""',
      'jobs_total',
    );
  });

  it('a missing help text', async () => {
    await expectDefinitionRefused(
      (reg) => new Gauge({ name: 'temp', registers: [reg] } as unknown as ConstructorParameters<typeof Gauge>[0]),
      'Gauge "temp": help must be a non-empty string, got undefined',
      'temp',
    );
  });

  it('a label name listed twice', async () => {
    await expectDefinitionRefused(
      (reg) => new Counter({ name: 'jobs_total', help: 'x', labelNames: ['queue', 'kind', 'queue'], registers: [reg] }),
      'Counter "jobs_total": label name "queue" is listed twice',
      'jobs_total',
    );
  });

  it('a label name starting with __', async () => {
    await expectDefinitionRefused(
      (reg) => new Gauge({ name: 'temp', help: 'x', labelNames: ['__room'], registers: [reg] }),
      'Gauge "temp": label name "__room" is reserved (names starting with "__" are for Prometheus)',
      'temp',
    );
  });

  it('a label name that is not an identifier', async () => {
    await expectDefinitionRefused(
      (reg) => new Gauge({ name: 'temp', help: 'x', labelNames: ['room-id'], registers: [reg] }),
      'Gauge "temp": label name "room-id" is invalid (must match ^[a-zA-Z_][a-zA-Z0-9_]*$)',
      'temp',
    );
  });

  it('labelNames that is not an array', async () => {
    await expectDefinitionRefused(
      (reg) =>
        new Gauge({ name: 'temp', help: 'x', labelNames: 'room', registers: [reg] } as unknown as ConstructorParameters<
          typeof Gauge
        >[0]),
      'Gauge "temp": labelNames must be an array of strings, got "room"',
      'temp',
    );
  });

  it('the label name le on a histogram', async () => {
    await expectDefinitionRefused(
      (reg) => new Histogram({ name: 'latency_seconds', help: 'x', labelNames: ['method', 'le'], registers: [reg] }),
      'Histogram "latency_seconds": label name "le" is reserved for this metric type',
      'latency_seconds',
    );
  });

  it('the label name quantile on a summary', async () => {
    await expectDefinitionRefused(
      (reg) => new Summary({ name: 'latency_seconds', help: 'x', labelNames: ['quantile'], registers: [reg] }),
      'Summary "latency_seconds": label name "quantile" is reserved for this metric type',
      'latency_seconds',
    );
  });

  it('le and quantile stay usable as label names on the other types', () => {
    const reg = new Registry();
    expect(
      new Counter({ name: 'a_total', help: 'x', labelNames: ['le', 'quantile'], registers: [reg] }).labelNames,
    ).toEqual(['le', 'quantile']);
    expect(new Summary({ name: 'b', help: 'x', labelNames: ['le'], registers: [reg] }).labelNames).toEqual(['le']);
    expect(new Histogram({ name: 'c', help: 'x', labelNames: ['quantile'], registers: [reg] }).labelNames).toEqual([
      'quantile',
    ]);
  });

  it('buckets that do not increase', async () => {
    await expectDefinitionRefused(
      (reg) => new Histogram({ name: 'latency_seconds', help: 'x', buckets: [0.1, 0.5, 0.5, 1], registers: [reg] }),
      'Histogram "latency_seconds": buckets must be strictly increasing, but 0.5 is followed by 0.5',
      'latency_seconds',
    );
    await expectDefinitionRefused(
      (reg) => new Histogram({ name: 'latency_seconds', help: 'x', buckets: [1, 0.5], registers: [reg] }),
      'Histogram "latency_seconds": buckets must be strictly increasing, but 1 is followed by 0.5',
      'latency_seconds',
    );
  });

  // (`buckets: []` is valid: a native-only histogram, see native-histograms.test.ts.)
  it('buckets that are not an array, and buckets that are only +Inf', async () => {
    await expectDefinitionRefused(
      (reg) => new Histogram({ name: 'latency_seconds', help: 'x', buckets: 5 as never, registers: [reg] }),
      'Histogram "latency_seconds": buckets must be a non-empty array of numbers, got 5',
      'latency_seconds',
    );
    await expectDefinitionRefused(
      (reg) => new Histogram({ name: 'latency_seconds', help: 'x', buckets: [Infinity], registers: [reg] }),
      'Histogram "latency_seconds": buckets must contain at least one finite upper bound',
      'latency_seconds',
    );
  });

  it('buckets that are not finite numbers', async () => {
    await expectDefinitionRefused(
      (reg) =>
        new Histogram({
          name: 'latency_seconds',
          help: 'x',
          buckets: [0.1, '1' as unknown as number],
          registers: [reg],
        }),
      'Histogram "latency_seconds": bucket "1" at index 1 is not a finite number',
      'latency_seconds',
    );
    await expectDefinitionRefused(
      (reg) => new Histogram({ name: 'latency_seconds', help: 'x', buckets: [NaN, 1], registers: [reg] }),
      'Histogram "latency_seconds": bucket NaN at index 0 is not a finite number',
      'latency_seconds',
    );
  });

  it('a trailing +Inf bucket is accepted and not doubled', async () => {
    const reg = new Registry();
    const h = new Histogram({ name: 'latency_seconds', help: 'x', buckets: [1, Infinity], registers: [reg] });
    expect(h.upperBounds).toEqual([1]);
    expect(await reg.metrics()).toBe(
      '# HELP latency_seconds x\n# TYPE latency_seconds histogram\nlatency_seconds_bucket{le="1"} 0\nlatency_seconds_bucket{le="+Inf"} 0\nlatency_seconds_sum 0\nlatency_seconds_count 0\n',
    );
  });

  it('percentiles outside [0, 1], NaN or empty', async () => {
    await expectDefinitionRefused(
      (reg) => new Summary({ name: 'latency_seconds', help: 'x', percentiles: [0.5, 1.5], registers: [reg] }),
      'Summary "latency_seconds": percentile 1.5 is not a number in [0, 1]',
      'latency_seconds',
    );
    await expectDefinitionRefused(
      (reg) => new Summary({ name: 'latency_seconds', help: 'x', percentiles: [-0.1], registers: [reg] }),
      'Summary "latency_seconds": percentile -0.1 is not a number in [0, 1]',
      'latency_seconds',
    );
    await expectDefinitionRefused(
      (reg) => new Summary({ name: 'latency_seconds', help: 'x', percentiles: [NaN], registers: [reg] }),
      'Summary "latency_seconds": percentile NaN is not a number in [0, 1]',
      'latency_seconds',
    );
    await expectDefinitionRefused(
      (reg) => new Summary({ name: 'latency_seconds', help: 'x', percentiles: [], registers: [reg] }),
      'Summary "latency_seconds": percentiles must be a non-empty array, got []',
      'latency_seconds',
    );
  });

  it('a non-positive maxAgeSeconds and an out-of-range ageBuckets', async () => {
    await expectDefinitionRefused(
      (reg) => new Summary({ name: 'latency_seconds', help: 'x', maxAgeSeconds: 0, registers: [reg] }),
      'Summary "latency_seconds": maxAgeSeconds must be a positive number, got 0',
      'latency_seconds',
    );
    await expectDefinitionRefused(
      (reg) => new Summary({ name: 'latency_seconds', help: 'x', maxAgeSeconds: 60, ageBuckets: 0, registers: [reg] }),
      'Summary "latency_seconds": ageBuckets must be an integer from 1 to 120, got 0',
      'latency_seconds',
    );
  });

  it("an aggregator that is not one of prom-client's", async () => {
    await expectDefinitionRefused(
      (reg) => new Gauge({ name: 'temp', help: 'x', aggregator: 'median' as 'sum', registers: [reg] }),
      'Gauge "temp": aggregator "median" is not one of [omit, sum, first, min, max, average, last, perProcess]',
      'temp',
    );
  });

  it('a collect that is not a function', async () => {
    await expectDefinitionRefused(
      (reg) => new Gauge({ name: 'temp', help: 'x', collect: 5 as unknown as () => void, registers: [reg] }),
      'Gauge "temp": collect must be a function, got 5',
      'temp',
    );
  });

  it('exemplars on a registry that is not OpenMetrics', async () => {
    await expectDefinitionRefused(
      (reg) => new Counter({ name: 'traced_total', help: 'x', enableExemplars: true, registers: [reg] }),
      'Counter "traced_total": exemplars are supported only on OpenMetrics registries (new Registry(Registry.OPENMETRICS_CONTENT_TYPE))',
      'traced_total',
    );
  });
});

describe('a second metric of the same name throws DuplicateMetricError', () => {
  it('and the first metric keeps its series and keeps counting', async () => {
    const { reg, counter } = fixture();
    await expectRefused(
      reg,
      () =>
        new Counter({
          name: 'http_requests_total',
          help: 'Other.',
          labelNames: ['method', 'status'],
          registers: [reg],
        }),
      DuplicateMetricError,
      'A metric with the name http_requests_total has already been registered.',
    );
    counter.inc({ method: 'GET', status: '200' }, 2);
    expect(await reg.getSingleMetricAsString('http_requests_total')).toBe(
      '# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\nhttp_requests_total{method="GET",status="200"} 3',
    );
  });

  it('also when the second metric has another type', async () => {
    const { reg } = fixture();
    await expectRefused(
      reg,
      () => new Histogram({ name: 'queue_depth', help: 'x', registers: [reg] }),
      DuplicateMetricError,
      'A metric with the name queue_depth has already been registered.',
    );
  });
});

describe('bad labels on updates throw InvalidLabelsError and create no series', () => {
  it('an unknown label name', async () => {
    const { reg, counter } = fixture();
    await expectRefused(
      reg,
      () => counter.inc({ methd: 'GET', status: '200' } as never),
      InvalidLabelsError,
      'Counter "http_requests_total": label "methd" is not one of [method, status]',
    );
  });

  it('an extra label besides the declared ones', async () => {
    const { reg, gauge } = fixture();
    await expectRefused(
      reg,
      () => gauge.set({ queue: 'b', region: 'eu' } as never, 1),
      InvalidLabelsError,
      'Gauge "queue_depth": label "region" is not one of [queue]',
    );
  });

  it('a label on a metric declared without labels', async () => {
    const reg = new Registry();
    const c = new Counter({ name: 'jobs_total', help: 'Jobs.', registers: [reg] });
    await expectRefused(
      reg,
      () => c.inc({ queue: 'a' } as never),
      InvalidLabelsError,
      'Counter "jobs_total": label "queue" is not one of []',
    );
  });

  it('with strict: true, a partial label set, by object and positionally', async () => {
    const { reg, counter } = fixture({ strict: true });
    await expectRefused(
      reg,
      () => counter.inc({ method: 'POST' }),
      InvalidLabelsError,
      'Counter "http_requests_total": label "status" is missing (got {"method":"POST"}; every label of [method, status] is required)',
    );
    await expectRefused(
      reg,
      () => counter.labels('POST'),
      InvalidLabelsError,
      'Counter "http_requests_total": expected 2 label values for [method, status], got 1: ["POST"]',
    );
  });

  it('with strict: true, a partial label set on histograms and summaries', async () => {
    const { reg, histogram, summary } = fixture({ strict: true });
    await expectRefused(
      reg,
      () => histogram.observe({} as never, 1),
      InvalidLabelsError,
      'Histogram "rpc_duration_seconds": label "method" is missing (got {}; every label of [method] is required)',
    );
    await expectRefused(
      reg,
      () => summary.observe({ route: undefined }, 1),
      InvalidLabelsError,
      'Summary "payload_bytes": label "route" is missing (got {}; every label of [route] is required)',
    );
  });

  it('with strict: true, a remove() with a partial label set', async () => {
    const { reg, counter } = fixture({ strict: true });
    await expectRefused(
      reg,
      () => counter.remove({ method: 'GET' }),
      InvalidLabelsError,
      'Counter "http_requests_total": label "status" is missing (got {"method":"GET"}; every label of [method, status] is required)',
    );
  });

  it('with strict: true, label values that are neither strings nor numbers', async () => {
    const { reg, counter, gauge, histogram } = fixture({ strict: true });
    await expectRefused(
      reg,
      () => counter.inc({ method: 'GET', status: true as never }),
      InvalidLabelsError,
      'Counter "http_requests_total": label "status" must be a string or a number, got true',
    );
    await expectRefused(
      reg,
      () => gauge.set({ queue: null as never }, 1),
      InvalidLabelsError,
      'Gauge "queue_depth": label "queue" must be a string or a number, got null',
    );
    await expectRefused(
      reg,
      () => histogram.labels({ method: { name: 'get' } as never }),
      InvalidLabelsError,
      'Histogram "rpc_duration_seconds": label "method" must be a string or a number, got {"name":"get"}',
    );
    await expectRefused(
      reg,
      () => counter.labels('GET', [200] as never),
      InvalidLabelsError,
      'Counter "http_requests_total": label "status" must be a string or a number, got [200]',
    );
  });

  it('labels that are not an object', async () => {
    const { reg, counter } = fixture();
    await expectRefused(
      reg,
      () => counter.inc([] as never, 1),
      InvalidLabelsError,
      'Counter "http_requests_total": labels must be an object, got []',
    );
  });

  it('null in place of the labels object', async () => {
    const { reg, counter, gauge, histogram } = fixture();
    await expectRefused(
      reg,
      () => counter.inc(null as never, 1),
      InvalidLabelsError,
      'Counter "http_requests_total": labels must be an object, got null',
    );
    await expectRefused(
      reg,
      () => gauge.set(null as never, 1),
      InvalidLabelsError,
      'Gauge "queue_depth": labels must be an object, got null',
    );
    await expectRefused(
      reg,
      () => histogram.observe(null as never, 1),
      InvalidLabelsError,
      'Histogram "rpc_duration_seconds": labels must be an object, got null',
    );
  });
});

describe('bad values on updates throw InvalidValueError and change nothing', () => {
  it('counter inc(NaN), on an existing and on a new label set', async () => {
    const { reg, counter } = fixture();
    await expectRefused(
      reg,
      () => counter.inc({ method: 'GET', status: '200' }, NaN),
      InvalidValueError,
      'Counter "http_requests_total": increment must be a non-negative number, got NaN',
    );
    await expectRefused(
      reg,
      () => counter.inc({ method: 'POST', status: '500' }, NaN),
      InvalidValueError,
      'Counter "http_requests_total": increment must be a non-negative number, got NaN',
    );
  });

  it('counter inc(-1), unlabelled, labelled and through a child', async () => {
    const { reg, counter } = fixture();
    const unlabelled = new Counter({ name: 'jobs_total', help: 'Jobs.', registers: [reg] });
    await expectRefused(
      reg,
      () => unlabelled.inc(-1),
      InvalidValueError,
      'Counter "jobs_total": increment must be a non-negative number, got -1 (counters cannot decrease)',
    );
    await expectRefused(
      reg,
      () => counter.inc({ method: 'PUT', status: '201' }, -1),
      InvalidValueError,
      'Counter "http_requests_total": increment must be a non-negative number, got -1 (counters cannot decrease)',
    );
    const child = counter.labels('GET', '200');
    await expectRefused(
      reg,
      () => child.inc(-0.5),
      InvalidValueError,
      'Counter "http_requests_total": increment must be a non-negative number, got -0.5 (counters cannot decrease)',
    );
  });

  it("counter inc('5')", async () => {
    const { reg, counter } = fixture();
    const unlabelled = new Counter({ name: 'jobs_total', help: 'Jobs.', registers: [reg] });
    await expectRefused(
      reg,
      () => unlabelled.inc('5' as never),
      InvalidValueError,
      'Counter "jobs_total": increment must be a non-negative number, got "5"',
    );
    await expectRefused(
      reg,
      () => counter.inc({ method: 'DELETE', status: '204' }, '5' as never),
      InvalidValueError,
      'Counter "http_requests_total": increment must be a non-negative number, got "5"',
    );
    await expectRefused(
      reg,
      () => counter.labels('GET', '200').inc('5' as never),
      InvalidValueError,
      'Counter "http_requests_total": increment must be a non-negative number, got "5"',
    );
  });

  it('gauge inc(NaN), dec(NaN) and set() of a non-number', async () => {
    const { reg, gauge } = fixture();
    await expectRefused(
      reg,
      () => gauge.inc({ queue: 'a' }, NaN),
      InvalidValueError,
      'Gauge "queue_depth": inc needs a number (not NaN), got NaN',
    );
    await expectRefused(
      reg,
      () => gauge.dec({ queue: 'new' }, NaN),
      InvalidValueError,
      'Gauge "queue_depth": dec needs a number (not NaN), got NaN',
    );
    await expectRefused(
      reg,
      () => gauge.inc({ queue: 'new' }, '1' as never),
      InvalidValueError,
      'Gauge "queue_depth": inc needs a number (not NaN), got "1"',
    );
    await expectRefused(
      reg,
      () => gauge.set({ queue: 'new' }, '1' as never),
      InvalidValueError,
      'Gauge "queue_depth": set needs a number, got "1"',
    );
    await expectRefused(
      reg,
      () => gauge.labels('a').set(undefined as never),
      InvalidValueError,
      'Gauge "queue_depth": set needs a number, got undefined',
    );
  });

  it('histogram observe(NaN) and observe() of a non-number', async () => {
    const { reg, histogram } = fixture();
    await expectRefused(
      reg,
      () => histogram.observe({ method: 'get' }, NaN),
      InvalidValueError,
      'Histogram "rpc_duration_seconds": observed value must be a number (not NaN), got NaN',
    );
    await expectRefused(
      reg,
      () => histogram.observe({ method: 'put' }, NaN),
      InvalidValueError,
      'Histogram "rpc_duration_seconds": observed value must be a number (not NaN), got NaN',
    );
    await expectRefused(
      reg,
      () => histogram.labels('get').observe('0.5' as never),
      InvalidValueError,
      'Histogram "rpc_duration_seconds": observed value must be a number (not NaN), got "0.5"',
    );
  });

  it('summary observe(NaN)', async () => {
    const { reg, summary } = fixture();
    await expectRefused(
      reg,
      () => summary.observe({ route: '/a' }, NaN),
      InvalidValueError,
      'Summary "payload_bytes": observed value must be a number (not NaN), got NaN',
    );
    await expectRefused(
      reg,
      () => summary.observe({ route: '/b' }, NaN),
      InvalidValueError,
      'Summary "payload_bytes": observed value must be a number (not NaN), got NaN',
    );
  });
});

describe('bad exemplars throw InvalidLabelsError and the update is not applied', () => {
  function omFixture() {
    const reg = new Registry(OPENMETRICS_CONTENT_TYPE);
    const counter = new Counter({
      name: 'traced_total',
      help: 'Traced.',
      labelNames: ['route'],
      enableExemplars: true,
      registers: [reg],
    });
    const histogram = new Histogram({
      name: 'traced_seconds',
      help: 'Traced.',
      buckets: [1],
      enableExemplars: true,
      registers: [reg],
    });
    counter.inc({ labels: { route: '/a' }, value: 1, exemplarLabels: { trace_id: 'abc' } });
    return { reg, counter, histogram };
  }

  it('exemplar labels longer than 128 characters', async () => {
    const { reg, counter } = omFixture();
    const long = 'x'.repeat(130);
    await expectRefused(
      reg,
      () => counter.inc({ labels: { route: '/a' }, value: 1, exemplarLabels: { trace_id: long } }),
      InvalidLabelsError,
      `Counter "traced_total": exemplar labels {"trace_id":"${long}"} exceed 128 characters`,
    );
  });

  it('an invalid exemplar label name', async () => {
    const { reg, histogram } = omFixture();
    await expectRefused(
      reg,
      () => histogram.observe({ value: 0.5, exemplarLabels: { 'trace-id': 'abc' } }),
      InvalidLabelsError,
      'Histogram "traced_seconds": exemplar label name "trace-id" is invalid',
    );
  });

  it('exemplar labels that are not an object', async () => {
    const { reg, counter } = omFixture();
    await expectRefused(
      reg,
      () => counter.inc({ labels: { route: '/b' }, value: 1, exemplarLabels: 'abc' as never }),
      InvalidLabelsError,
      'Counter "traced_total": exemplarLabels must be an object, got "abc"',
    );
  });
});

describe('bad registry settings throw InvalidMetricError and leave the registry as it was', () => {
  it('an unsupported content type, in the constructor and in setContentType()', async () => {
    const message = `Content type text/html is unsupported (use ${PROMETHEUS_CONTENT_TYPE} or ${OPENMETRICS_CONTENT_TYPE})`;
    expect(() => new Registry('text/html' as never)).toThrow(new InvalidMetricError(message));
    const { reg } = fixture();
    await expectRefused(reg, () => reg.setContentType('text/html' as never), InvalidMetricError, message);
    expect(reg.contentType).toBe(PROMETHEUS_CONTENT_TYPE);
  });

  it('a default label name that is invalid or starts with __', async () => {
    const { reg } = fixture();
    reg.setDefaultLabels({ service: 'api' });
    await expectRefused(
      reg,
      () => reg.setDefaultLabels({ __meta: 'x' }),
      InvalidMetricError,
      'setDefaultLabels: label name "__meta" is invalid',
    );
    await expectRefused(
      reg,
      () => reg.setDefaultLabels({ 'host-name': 'x' }),
      InvalidMetricError,
      'setDefaultLabels: label name "host-name" is invalid',
    );
  });

  it('a default label named le or quantile never gives a sample two labels of one name', async () => {
    const { reg } = fixture();
    reg.setDefaultLabels({ le: 'x', quantile: 'y' });
    let text: string;
    try {
      text = await reg.metrics();
    } catch (e) {
      // Refusing such default labels up front is fine too.
      expect(e).toBeInstanceOf(InvalidMetricError);
      return;
    }
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      const names = [...line.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"/g)].map((m) => m[1]);
      expect(new Set(names).size, line).toBe(names.length);
    }
  });
});
