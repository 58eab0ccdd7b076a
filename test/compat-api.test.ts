import vm from 'node:vm';
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as promsd from '../index';
import {
  Counter,
  Gauge,
  Histogram,
  InvalidLabelsError,
  InvalidMetricError,
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  Registry,
  register,
  Summary,
  validateLabel,
} from '../index';
import { native } from '../metrics/native';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('realm independence', () => {
  it("the core accepts shared memory made by another vm context's SharedArrayBuffer", () => {
    const slots = vm.runInNewContext('new Float64Array(new SharedArrayBuffer(64))') as Float64Array;
    expect(slots instanceof Float64Array).toBe(false);
    const shard = native.shardOpen(globalThis);
    expect(native.chunkAttach(shard, slots)).toBeGreaterThanOrEqual(0);
  });

  it('the core still refuses a plain ArrayBuffer, from any realm', () => {
    const plain = vm.runInNewContext('new Float64Array(8)') as Float64Array;
    const shard = native.shardOpen(globalThis);
    expect(() => native.chunkAttach(shard, plain)).toThrow('slots must be a Float64Array over a SharedArrayBuffer');
    expect(() => native.chunkAttach(shard, new Float64Array(8))).toThrow(
      'slots must be a Float64Array over a SharedArrayBuffer',
    );
  });
});

describe('labels, as prom-client accepts them', () => {
  it('a partial or undefined label leaves the label out; default labels fill what a series lacks', async () => {
    const reg = new Registry();
    reg.setDefaultLabels({ code: 'none', env: 'dev' });
    const c = new Counter({ name: 'p_total', help: 'P.', labelNames: ['method', 'code'], registers: [reg] });
    c.inc({ method: 'GET', code: undefined });
    c.inc({ method: 'GET' }, 2);
    c.inc({ code: '200', method: 'POST' });
    c.inc();
    expect(await reg.metrics()).toBe(
      [
        '# HELP p_total P.',
        '# TYPE p_total counter',
        'p_total{method="GET",code="none",env="dev"} 3',
        'p_total{method="POST",code="200",env="dev"} 1',
        'p_total{code="none",env="dev"} 1',
        '',
      ].join('\n'),
    );
    expect((await c.get()).values).toEqual([
      { value: 3, labels: { method: 'GET' } },
      { value: 1, labels: { method: 'POST', code: '200' } },
      { value: 1, labels: {} },
    ]);
  });

  it('non-string values are stringified as prom-client does, and the same values find the same series', async () => {
    const reg = new Registry();
    const g = new Gauge({ name: 'v', help: 'V.', labelNames: ['a', 'b'], registers: [reg] });
    g.set({ a: true as never, b: null as never }, 1);
    g.inc({ a: 'true', b: 'null' });
    g.set({ a: 10n as never, b: { x: 1 } as never }, 5);
    g.remove({ a: true as never, b: null as never });
    expect(await reg.metrics()).toBe('# HELP v V.\n# TYPE v gauge\nv{a="10",b="[object Object]"} 5\n');
  });

  it('a value that cannot be turned into a string is refused, naming the label', () => {
    const c = new Counter({ name: 's_total', help: 'S.', labelNames: ['a'], registers: [] });
    const hostile = {
      toString(): string {
        throw new Error('no');
      },
    };
    expect(() => c.inc({ a: hostile as never })).toThrow(
      new InvalidLabelsError('Counter "s_total": label "a" cannot be converted to a string: {}'),
    );
  });

  it('repeated updates with one partial label set count in one series', async () => {
    const reg = new Registry();
    const c = new Counter({ name: 'pl_total', help: 'P.', labelNames: ['method', 'route'], registers: [reg] });
    const labels = { method: 'GET' };
    for (let i = 0; i < 1000; i++) c.inc(labels);
    c.inc({ method: 'GET', route: undefined });
    expect(await reg.metrics()).toBe('# HELP pl_total P.\n# TYPE pl_total counter\npl_total{method="GET"} 1001\n');
  });

  it('an unknown label name is still refused; a missing key does not let an unknown one through', () => {
    const c = new Counter({ name: 'u_total', help: 'U.', labelNames: ['a', 'b'], registers: [] });
    c.inc({ a: '1' });
    expect(() => c.inc({ a: '1', c: 'x' } as never)).toThrow(
      new InvalidLabelsError('Counter "u_total": label "c" is not one of [a, b]'),
    );
  });

  it('strict: true on a metric refuses partial label sets and non-string values', () => {
    const c = new Counter({ name: 'st_total', help: 'S.', labelNames: ['a'], registers: [], strict: true });
    expect(c.strict).toBe(true);
    expect(() => c.inc({})).toThrow(
      'Counter "st_total": label "a" is missing (got {}; every label of [a] is required)',
    );
    expect(() => c.inc({ a: true as never })).toThrow(
      'Counter "st_total": label "a" must be a string or a number, got true',
    );
  });

  it('a strict option that is not a boolean is refused, on a metric and on a registry', () => {
    expect(() => new Counter({ name: 'x_total', help: 'X.', registers: [], strict: 'yes' as never })).toThrow(
      new InvalidMetricError('Counter "x_total": strict must be a boolean, got "yes"'),
    );
    expect(() => new Registry(undefined, { strict: 1 as never })).toThrow(
      new InvalidMetricError('Registry: strict must be a boolean, got 1'),
    );
    expect(() => new Registry(undefined, 'strict' as never)).toThrow(
      new InvalidMetricError('Registry: options must be an object, got "strict"'),
    );
  });

  it("labels are written in the key order of the metric's first labelled call; le and quantile first", async () => {
    const reg = new Registry();
    reg.setDefaultLabels({ env: 'dev' });
    const h = new Histogram({ name: 'o_seconds', help: 'O.', labelNames: ['a', 'b'], buckets: [1], registers: [reg] });
    h.observe({ b: 'x', a: 'y' }, 0.5);
    const s = new Summary({
      name: 'o_bytes',
      help: 'O.',
      labelNames: ['a', 'b'],
      percentiles: [0.5],
      registers: [reg],
    });
    s.observe({ b: 'x', a: 'y' }, 2);
    expect((await reg.metrics()).split('\n').filter((l) => !l.startsWith('#'))).toEqual([
      'o_seconds_bucket{le="1",env="dev",b="x",a="y"} 1',
      'o_seconds_bucket{le="+Inf",env="dev",b="x",a="y"} 1',
      'o_seconds_sum{env="dev",b="x",a="y"} 0.5',
      'o_seconds_count{env="dev",b="x",a="y"} 1',
      '',
      'o_bytes{quantile="0.5",b="x",a="y",env="dev"} 2',
      'o_bytes_sum{b="x",a="y",env="dev"} 2',
      'o_bytes_count{b="x",a="y",env="dev"} 1',
      '',
    ]);
  });

  it("validateLabel throws prom-client's message", () => {
    expect(() => validateLabel(['a', 'b'], { a: 1, c: 2 })).toThrow(
      "Added label \"c\" is not included in initial labelset: [ 'a', 'b' ]",
    );
  });
});

describe('collector objects', () => {
  it('a hand-written collector is exposed, found, reset and removed like a metric', async () => {
    const reg = new Registry();
    let resets = 0;
    const collector = {
      name: 'hand_total',
      help: 'By hand.',
      type: 'counter',
      aggregator: 'sum',
      get: async () => ({
        name: 'hand_total',
        help: 'By hand.',
        type: 'counter' as const,
        aggregator: 'sum' as const,
        values: [{ value: 3, labels: { k: 'a"b' } }],
      }),
      reset: () => {
        resets++;
      },
    };
    reg.registerMetric(collector);
    expect(reg.getSingleMetric('hand_total')).toBe(collector);
    expect(await reg.metrics()).toBe(
      '# HELP hand_total By hand.\n# TYPE hand_total counter\nhand_total{k="a\\"b"} 3\n',
    );
    reg.setContentType(OPENMETRICS_CONTENT_TYPE);
    expect(await reg.metrics()).toBe('# HELP hand By hand.\n# TYPE hand counter\nhand_total{k="a\\"b"} 3\n# EOF\n');
    reg.resetMetrics();
    expect(resets).toBe(1);
    expect(() => reg.registerMetric({ ...collector })).toThrow(
      'A metric with the name hand_total has already been registered.',
    );
    reg.removeSingleMetric('hand_total');
    expect(await reg.metrics()).toBe('# EOF\n');
  });

  it('an object that is not a collector is refused with a clear error', () => {
    const reg = new Registry();
    expect(() => reg.registerMetric({ name: 'ok', help: 'x', type: 'gauge' } as never)).toThrow(
      new InvalidMetricError('registerMetric: collector "ok" has no get() function'),
    );
    expect(() => reg.registerMetric(null as never)).toThrow(
      new InvalidMetricError('registerMetric: expected a metric or a collector object, got null'),
    );
  });
});

describe('summaries as prom-client users see them', () => {
  it('one observation reports itself; two never report below the smallest or above the largest', async () => {
    const s = new Summary({ name: 'q1', help: 'Q.', percentiles: [0.01, 0.5, 0.9, 0.99], registers: [] });
    s.observe(100);
    expect((await s.get()).values.slice(0, 4).map((v) => v.value)).toEqual([100, 100, 100, 100]);
    s.observe(3);
    expect((await s.get()).values.slice(0, 4).map((v) => v.value)).toEqual([3, 3, 3, 3]);
  });

  it('windows follow Date.now as JS sees it (a mocked clock included)', async () => {
    let now = Date.UTC(2026, 0, 1);
    vi.spyOn(Date, 'now').mockImplementation(() => now);
    const s = new Summary({
      name: 'qw',
      help: 'Q.',
      percentiles: [0.5],
      maxAgeSeconds: 10,
      ageBuckets: 2,
      registers: [],
    });
    s.observe(7);
    expect((await s.get()).values.map((v) => v.value)).toEqual([7, 7, 1]);
    now += 11_000;
    expect((await s.get()).values.map((v) => v.value)).toEqual([Number.NaN, 7, 1]);
  });

  it('pruneAgedBuckets drops a series whose window is empty, until its next observation', async () => {
    let now = Date.UTC(2026, 0, 1);
    vi.spyOn(Date, 'now').mockImplementation(() => now);
    const reg = new Registry();
    const s = new Summary({
      name: 'pr',
      help: 'P.',
      labelNames: ['k'],
      percentiles: [0.5],
      maxAgeSeconds: 10,
      ageBuckets: 2,
      pruneAgedBuckets: true,
      registers: [reg],
    });
    s.observe({ k: 'a' }, 1);
    now += 5_000;
    s.observe({ k: 'b' }, 2);
    now += 6_000;
    expect((await reg.metrics()).split('\n').filter((l) => l.startsWith('pr{'))).toEqual([
      'pr{quantile="0.5",k="b"} 2',
    ]);
    s.observe({ k: 'a' }, 3);
    // The series comes back in the place its removal freed.
    expect((await reg.metrics()).split('\n').filter((l) => l.startsWith('pr_count'))).toEqual([
      'pr_count{k="a"} 1',
      'pr_count{k="b"} 1',
    ]);
  });

  it('reset() keeps an unlabelled summary at zero (unless remove() dropped it), as prom-client does', async () => {
    const s = new Summary({ name: 'rs', help: 'R.', percentiles: [0.5], registers: [] });
    s.observe(4);
    s.reset();
    expect((await s.get()).values.map((v) => [v.metricName, v.value])).toEqual([
      [undefined, Number.NaN],
      ['rs_sum', 0],
      ['rs_count', 0],
    ]);
    // prom-client zeroes the series it has: one that remove() dropped does not come back.
    s.remove();
    s.reset();
    expect((await s.get()).values).toEqual([]);
  });

  it('compressCount and pruneAgedBuckets of the wrong type are refused', () => {
    expect(() => new Summary({ name: 'c1', help: 'C.', compressCount: 0, registers: [] })).toThrow(
      new InvalidMetricError('Summary "c1": compressCount must be a positive number, got 0'),
    );
    expect(() => new Summary({ name: 'c2', help: 'C.', pruneAgedBuckets: 'yes' as never, registers: [] })).toThrow(
      new InvalidMetricError('Summary "c2": pruneAgedBuckets must be a boolean, got "yes"'),
    );
  });
});

describe('exemplars and content types', () => {
  it("get() returns exemplars in prom-client's shape; a timer's end adds its exemplar labels", async () => {
    vi.spyOn(Date, 'now').mockReturnValue(1_700_000_000_500);
    const reg = new Registry(OPENMETRICS_CONTENT_TYPE);
    const c = new Counter({ name: 'ex_total', help: 'E.', enableExemplars: true, registers: [reg] });
    c.inc({ value: 2, exemplarLabels: { trace_id: 'a"b' } });
    expect((await c.get()).values).toEqual([
      { value: 2, labels: {}, exemplar: { labelSet: { trace_id: 'a"b' }, value: 2, timestamp: 1_700_000_000.5 } },
    ]);
    const h = new Histogram({
      name: 'ex_seconds',
      help: 'E.',
      buckets: [1000],
      enableExemplars: true,
      registers: [reg],
    });
    h.startTimer({}, { trace_id: 't' })({}, { span_id: 's' });
    const values = (await h.get()).values;
    expect(values[0].exemplar).toEqual({
      labelSet: { trace_id: 't', span_id: 's' },
      value: values[0].exemplar?.value,
      timestamp: 1_700_000_000.5,
    });
    expect(values[1].exemplar).toBeUndefined();
  });

  it('the top-level contentType follows register.setContentType', () => {
    expect(promsd.contentType).toBe(PROMETHEUS_CONTENT_TYPE);
    register.setContentType(OPENMETRICS_CONTENT_TYPE);
    try {
      expect(promsd.contentType).toBe(OPENMETRICS_CONTENT_TYPE);
    } finally {
      register.setContentType(PROMETHEUS_CONTENT_TYPE);
    }
    expect(promsd.contentType).toBe(PROMETHEUS_CONTENT_TYPE);
  });
});
