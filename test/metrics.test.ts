import { describe, expect, it } from 'vitest';
import * as prom from 'prom-client';
import {
  Counter,
  DuplicateMetricError,
  Gauge,
  Histogram,
  InvalidMetricError,
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  Registry,
  Summary,
  exponentialBuckets,
  linearBuckets,
  validateMetricName,
} from '../index';
import { binOf } from '../metrics/summary';

// The prom-client-compatible API, checked against exact expositions and, where the two should
// agree, against prom-client 15 itself doing the same operations.
//
// Documented differences from prom-client (asserted below, not hidden by the comparisons):
// - get()/getMetricsAsJSON() label values are strings (`{ code: '200' }`); prom-client keeps
//   whatever type the caller passed (`{ code: 200 }`). `le` and `quantile` are numbers in both.
// - histogram bucket values carry no `exemplar: null` key when exemplars are disabled.
// - the histogram `le` / summary `quantile` label comes last in text output; prom-client puts it first.
// - summary quantiles come from a 1 %-accurate sketch, not prom-client's t-digest, and are NaN
//   (not 0) while a summary is empty.
// - Summary.reset() drops every labelled series; prom-client keeps them with zeroed values.

/** One sample line of an exposition. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: string;
}

/** Parses the sample lines of a text exposition (label values unescaped). */
function samplesOf(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparseable sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[k] = v.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    out.push({ name: m[1], labels, value: m[3] });
  }
  return out;
}

/** Samples with labels in sorted order, as comparable strings. */
function canonical(text: string): string[] {
  return samplesOf(text)
    .map((s) => {
      const labels = Object.keys(s.labels)
        .sort()
        .map((k) => `${k}=${JSON.stringify(s.labels[k])}`);
      return `${s.name}{${labels.join(',')}} ${s.value}`;
    })
    .sort();
}

type JsonValue = { value: number; labels: Record<string, unknown>; metricName?: string; exemplar?: unknown };

/** prom-client's get() values made comparable with promsd's: label values as strings, no `exemplar: null`. */
function promValuesAsPromsd(values: readonly JsonValue[]): JsonValue[] {
  return values.map((v) => {
    const labels: Record<string, unknown> = {};
    for (const [k, l] of Object.entries(v.labels)) labels[k] = k === 'le' || k === 'quantile' ? l : String(l);
    const out: JsonValue = { value: v.value, labels };
    if (v.metricName !== undefined) out.metricName = v.metricName;
    // prom-client gives every histogram bucket `exemplar: null` when it has none; so does promsd.
    if (v.exemplar !== undefined) out.exemplar = v.exemplar;
    return out;
  });
}

/** The value of the one sample of `text` matching `name` and `labels` exactly. */
function sampleOf(text: string, name: string, labels: Record<string, string> = {}): string {
  const hits = samplesOf(text).filter(
    (s) =>
      s.name === name &&
      JSON.stringify(Object.entries(s.labels).sort()) === JSON.stringify(Object.entries(labels).sort()),
  );
  if (hits.length !== 1)
    throw new Error(`expected one sample ${name}${JSON.stringify(labels)}, found ${hits.length} in:\n${text}`);
  return hits[0].value;
}

describe('Counter', () => {
  it('is exposed at 0 before any update when it has no labels', async () => {
    const reg = new Registry();
    new Counter({ name: 'jobs_total', help: 'Jobs.', registers: [reg] });
    expect(await reg.metrics()).toBe('# HELP jobs_total Jobs.\n# TYPE jobs_total counter\njobs_total 0\n');
  });

  it('inc() adds 1, inc(n) adds n, inc(0) changes nothing', async () => {
    const reg = new Registry();
    const c = new Counter({ name: 'jobs_total', help: 'Jobs.', registers: [reg] });
    c.inc();
    c.inc(2.5);
    c.inc(0);
    expect(await reg.metrics()).toBe('# HELP jobs_total Jobs.\n# TYPE jobs_total counter\njobs_total 3.5\n');
  });

  it('inc(labels, n) adds only to that label set, and number and string label values name the same series', async () => {
    const reg = new Registry();
    const c = new Counter({
      name: 'http_requests_total',
      help: 'Requests.',
      labelNames: ['method', 'code'],
      registers: [reg],
    });
    c.inc({ method: 'GET', code: 200 });
    c.inc({ method: 'GET', code: '200' }, 2);
    c.inc({ code: 500, method: 'POST' }, 5);
    expect(await reg.metrics()).toBe(
      [
        '# HELP http_requests_total Requests.',
        '# TYPE http_requests_total counter',
        'http_requests_total{method="GET",code="200"} 3',
        'http_requests_total{method="POST",code="500"} 5',
        '',
      ].join('\n'),
    );
  });

  it('labels() children, positional or by object, write to the same series as inc(labels)', async () => {
    const reg = new Registry();
    const c = new Counter({
      name: 'http_requests_total',
      help: 'Requests.',
      labelNames: ['method', 'code'],
      registers: [reg],
    });
    const positional = c.labels('GET', 200);
    const byObject = c.labels({ method: 'GET', code: '200' });
    positional.inc();
    byObject.inc(4);
    c.inc({ method: 'GET', code: 200 }, 10);
    positional.inc(0.5);
    expect(sampleOf(await reg.metrics(), 'http_requests_total', { method: 'GET', code: '200' })).toBe('15.5');
  });

  it('remove() by object or by positional values drops only that series', async () => {
    const reg = new Registry();
    const c = new Counter({
      name: 'http_requests_total',
      help: 'Requests.',
      labelNames: ['method', 'code'],
      registers: [reg],
    });
    c.inc({ method: 'GET', code: '200' }, 1);
    c.inc({ method: 'GET', code: '500' }, 2);
    c.inc({ method: 'POST', code: '200' }, 3);
    c.remove({ method: 'GET', code: '200' });
    c.remove('POST', 200);
    expect(await reg.metrics()).toBe(
      '# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\nhttp_requests_total{method="GET",code="500"} 2\n',
    );
  });

  it('remove() of a label set that was never used changes nothing', async () => {
    const reg = new Registry();
    const c = new Counter({ name: 'http_requests_total', help: 'Requests.', labelNames: ['method'], registers: [reg] });
    c.inc({ method: 'GET' }, 7);
    c.remove({ method: 'PUT' });
    expect(await reg.metrics()).toBe(
      '# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\nhttp_requests_total{method="GET"} 7\n',
    );
  });

  it('reset() drops every labelled series', async () => {
    const reg = new Registry();
    const c = new Counter({ name: 'http_requests_total', help: 'Requests.', labelNames: ['method'], registers: [reg] });
    c.inc({ method: 'GET' }, 7);
    c.inc({ method: 'PUT' }, 1);
    c.reset();
    expect(await reg.metrics()).toBe('# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\n');
    c.inc({ method: 'GET' });
    expect(sampleOf(await reg.metrics(), 'http_requests_total', { method: 'GET' })).toBe('1');
  });

  it('reset() puts an unlabelled counter back at 0, like prom-client', async () => {
    const reg = new Registry();
    const c = new Counter({ name: 'jobs_total', help: 'Jobs.', registers: [reg] });
    c.inc(9);
    c.reset();
    expect(await reg.metrics()).toBe('# HELP jobs_total Jobs.\n# TYPE jobs_total counter\njobs_total 0\n');
    c.inc();
    expect(sampleOf(await reg.metrics(), 'jobs_total')).toBe('1');
  });

  it('zero() creates a series at 0 and sets an existing one back to 0', async () => {
    const reg = new Registry();
    const c = new Counter({ name: 'http_requests_total', help: 'Requests.', labelNames: ['method'], registers: [reg] });
    c.inc({ method: 'GET' }, 4);
    c.zero({ method: 'GET' });
    c.zero({ method: 'PUT' });
    expect(await reg.metrics()).toBe(
      [
        '# HELP http_requests_total Requests.',
        '# TYPE http_requests_total counter',
        'http_requests_total{method="GET"} 0',
        'http_requests_total{method="PUT"} 0',
        '',
      ].join('\n'),
    );
  });

  it('1000 new label sets incremented once each, and one of them 3 more times, are all exact (growing the address table loses no update)', async () => {
    const reg = new Registry();
    const c = new Counter({
      name: 'tenant_requests_total',
      help: 'Requests by tenant.',
      labelNames: ['tenant'],
      registers: [reg],
    });
    // A child resolved while the address table is still at its initial size.
    const early = c.labels('t0');
    for (let i = 0; i < 1000; i++) c.inc({ tenant: `t${i}` });
    c.inc({ tenant: 't617' });
    c.inc({ tenant: 't617' }, 2);
    early.inc(10);
    const values = new Map((await c.get()).values.map((v) => [v.labels.tenant, v.value]));
    expect(values.size).toBe(1000);
    for (let i = 0; i < 1000; i++) {
      const expected = i === 617 ? 4 : i === 0 ? 11 : 1;
      expect(values.get(`t${i}`), `tenant t${i}`).toBe(expected);
    }
    const text = await reg.metrics();
    expect(samplesOf(text)).toHaveLength(1000);
    expect(sampleOf(text, 'tenant_requests_total', { tenant: 't617' })).toBe('4');
    expect(sampleOf(text, 'tenant_requests_total', { tenant: 't999' })).toBe('1');
  });

  it('a series removed and then re-created starts again at 0', async () => {
    const reg = new Registry();
    const c = new Counter({ name: 'http_requests_total', help: 'Requests.', labelNames: ['method'], registers: [reg] });
    c.inc({ method: 'GET' }, 5);
    c.remove({ method: 'GET' });
    c.inc({ method: 'GET' }, 2);
    expect(sampleOf(await reg.metrics(), 'http_requests_total', { method: 'GET' })).toBe('2');
  });

  it('a child cached before remove() writes to the re-created series, not to the freed slot now used by another series', async () => {
    const reg = new Registry();
    const c = new Counter({ name: 'http_requests_total', help: 'Requests.', labelNames: ['method'], registers: [reg] });
    const get = c.labels('GET');
    get.inc(5);
    c.remove('GET');
    // A new series takes the freed slot (and index) first.
    c.inc({ method: 'PUT' }, 100);
    get.inc(1);
    const text = await reg.metrics();
    expect(sampleOf(text, 'http_requests_total', { method: 'GET' })).toBe('1');
    expect(sampleOf(text, 'http_requests_total', { method: 'PUT' })).toBe('100');
  });

  it('a child cached before reset() writes to the re-created series', async () => {
    const reg = new Registry();
    const c = new Counter({ name: 'http_requests_total', help: 'Requests.', labelNames: ['method'], registers: [reg] });
    const get = c.labels('GET');
    get.inc(5);
    c.reset();
    get.inc(2);
    expect(await reg.metrics()).toBe(
      '# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\nhttp_requests_total{method="GET"} 2\n',
    );
  });
});

describe('Gauge', () => {
  it('set, inc and dec on the unlabelled series give exact values', async () => {
    const reg = new Registry();
    const g = new Gauge({ name: 'queue_depth', help: 'Depth.', registers: [reg] });
    g.set(10);
    g.inc();
    g.inc(4.5);
    g.dec();
    g.dec(2);
    expect(await reg.metrics()).toBe('# HELP queue_depth Depth.\n# TYPE queue_depth gauge\nqueue_depth 12.5\n');
  });

  it('set, inc and dec with labels and through labels() children update one series each', async () => {
    const reg = new Registry();
    const g = new Gauge({ name: 'queue_depth', help: 'Depth.', labelNames: ['queue'], registers: [reg] });
    g.set({ queue: 'a' }, 3);
    g.inc({ queue: 'a' }, 2);
    g.dec({ queue: 'b' }, 1);
    const child = g.labels('b');
    child.set(-4);
    child.inc();
    child.dec(0.25);
    expect(await reg.metrics()).toBe(
      [
        '# HELP queue_depth Depth.',
        '# TYPE queue_depth gauge',
        'queue_depth{queue="a"} 5',
        'queue_depth{queue="b"} -3.25',
        '',
      ].join('\n'),
    );
  });

  it('setToCurrentTime() sets Unix seconds between the times read before and after', async () => {
    const reg = new Registry();
    const g = new Gauge({
      name: 'last_run_timestamp_seconds',
      help: 'Last run.',
      labelNames: ['job'],
      registers: [reg],
    });
    const before = Date.now() / 1000;
    g.setToCurrentTime({ job: 'a' });
    g.labels('b').setToCurrentTime();
    const after = Date.now() / 1000;
    for (const v of (await g.get()).values) {
      expect(v.value).toBeGreaterThanOrEqual(before);
      expect(v.value).toBeLessThanOrEqual(after);
    }
    expect((await g.get()).values).toHaveLength(2);
  });

  it('startTimer() sets the elapsed seconds it returns, with start and end labels merged', async () => {
    const reg = new Registry();
    const g = new Gauge({
      name: 'batch_duration_seconds',
      help: 'Batch.',
      labelNames: ['job', 'result'],
      registers: [reg],
    });
    const end = g.startTimer({ job: 'import' });
    const seconds = end({ result: 'ok' });
    expect(seconds).toBeGreaterThanOrEqual(0);
    expect(seconds).toBeLessThan(1);
    expect((await g.get()).values).toEqual([{ value: seconds, labels: { job: 'import', result: 'ok' } }]);
  });

  it('a gauge may be set to NaN and to ±Infinity', async () => {
    const reg = new Registry();
    const g = new Gauge({ name: 'ratio', help: 'Ratio.', labelNames: ['k'], registers: [reg] });
    g.set({ k: 'nan' }, NaN);
    g.set({ k: 'pos' }, Infinity);
    g.set({ k: 'neg' }, -Infinity);
    const text = await reg.metrics();
    expect(sampleOf(text, 'ratio', { k: 'nan' })).toBe('NaN');
    expect(sampleOf(text, 'ratio', { k: 'pos' })).toBe('+Inf');
    expect(sampleOf(text, 'ratio', { k: 'neg' })).toBe('-Inf');
  });

  it('reset() puts an unlabelled gauge back at 0, like prom-client', async () => {
    const reg = new Registry();
    const g = new Gauge({ name: 'queue_depth', help: 'Depth.', registers: [reg] });
    g.set(8);
    g.reset();
    expect(await reg.metrics()).toBe('# HELP queue_depth Depth.\n# TYPE queue_depth gauge\nqueue_depth 0\n');
  });
});

describe('Histogram', () => {
  it('observe() counts into cumulative buckets with exact sum and count', async () => {
    const reg = new Registry();
    const h = new Histogram({ name: 'job_duration_seconds', help: 'Jobs.', buckets: [0.5, 1, 2], registers: [reg] });
    for (const v of [0.25, 0.5, 0.75, 1, 1.5, 4]) h.observe(v);
    expect(await reg.metrics()).toBe(
      [
        '# HELP job_duration_seconds Jobs.',
        '# TYPE job_duration_seconds histogram',
        'job_duration_seconds_bucket{le="0.5"} 2',
        'job_duration_seconds_bucket{le="1"} 4',
        'job_duration_seconds_bucket{le="2"} 5',
        'job_duration_seconds_bucket{le="+Inf"} 6',
        'job_duration_seconds_sum 8',
        'job_duration_seconds_count 6',
        '',
      ].join('\n'),
    );
  });

  it("uses prom-client's default buckets when none are given", () => {
    const h = new Histogram({ name: 'job_duration_seconds', help: 'Jobs.', registers: [new Registry()] });
    const p = new prom.Histogram({ name: 'job_duration_seconds', help: 'Jobs.', registers: [new prom.Registry()] });
    expect(h.upperBounds).toEqual([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
    expect(h.upperBounds).toEqual((p as unknown as { upperBounds: number[] }).upperBounds);
  });

  it('labelled observations, children, zero() and remove() each touch one series', async () => {
    const reg = new Registry();
    const h = new Histogram({
      name: 'rpc_duration_seconds',
      help: 'RPCs.',
      labelNames: ['method'],
      buckets: [1],
      registers: [reg],
    });
    h.observe({ method: 'get' }, 0.5);
    const put = h.labels('put');
    put.observe(3);
    put.observe(0.25);
    h.labels({ method: 'del' }).zero();
    h.observe({ method: 'head' }, 1);
    h.remove('head');
    expect(await reg.metrics()).toBe(
      [
        '# HELP rpc_duration_seconds RPCs.',
        '# TYPE rpc_duration_seconds histogram',
        'rpc_duration_seconds_bucket{le="1",method="get"} 1',
        'rpc_duration_seconds_bucket{le="+Inf",method="get"} 1',
        'rpc_duration_seconds_sum{method="get"} 0.5',
        'rpc_duration_seconds_count{method="get"} 1',
        'rpc_duration_seconds_bucket{le="1",method="put"} 1',
        'rpc_duration_seconds_bucket{le="+Inf",method="put"} 2',
        'rpc_duration_seconds_sum{method="put"} 3.25',
        'rpc_duration_seconds_count{method="put"} 2',
        'rpc_duration_seconds_bucket{le="1",method="del"} 0',
        'rpc_duration_seconds_bucket{le="+Inf",method="del"} 0',
        'rpc_duration_seconds_sum{method="del"} 0',
        'rpc_duration_seconds_count{method="del"} 0',
        '',
      ].join('\n'),
    );
  });

  it('zero() sets a series with observations back to empty buckets', async () => {
    const reg = new Registry();
    const h = new Histogram({
      name: 'rpc_duration_seconds',
      help: 'RPCs.',
      labelNames: ['method'],
      buckets: [1],
      registers: [reg],
    });
    h.observe({ method: 'get' }, 0.5);
    h.observe({ method: 'get' }, 5);
    h.zero({ method: 'get' });
    h.observe({ method: 'get' }, 2);
    const text = await reg.metrics();
    expect(sampleOf(text, 'rpc_duration_seconds_bucket', { method: 'get', le: '1' })).toBe('0');
    expect(sampleOf(text, 'rpc_duration_seconds_bucket', { method: 'get', le: '+Inf' })).toBe('1');
    expect(sampleOf(text, 'rpc_duration_seconds_sum', { method: 'get' })).toBe('2');
  });

  it('startTimer() observes the elapsed seconds it returns', async () => {
    const reg = new Registry();
    const h = new Histogram({
      name: 'rpc_duration_seconds',
      help: 'RPCs.',
      labelNames: ['method'],
      buckets: [1],
      registers: [reg],
    });
    const seconds = h.startTimer({ method: 'get' })();
    const childSeconds = h.labels('put').startTimer()();
    const text = await reg.metrics();
    expect(Number(sampleOf(text, 'rpc_duration_seconds_sum', { method: 'get' }))).toBe(seconds);
    expect(sampleOf(text, 'rpc_duration_seconds_bucket', { method: 'get', le: '1' })).toBe('1');
    expect(Number(sampleOf(text, 'rpc_duration_seconds_sum', { method: 'put' }))).toBe(childSeconds);
    expect(sampleOf(text, 'rpc_duration_seconds_count', { method: 'put' })).toBe('1');
  });

  it('a child cached before remove() writes to the re-created series', async () => {
    const reg = new Registry();
    const h = new Histogram({
      name: 'rpc_duration_seconds',
      help: 'RPCs.',
      labelNames: ['method'],
      buckets: [1],
      registers: [reg],
    });
    const get = h.labels('get');
    get.observe(0.5);
    h.remove('get');
    h.observe({ method: 'put' }, 7);
    get.observe(2);
    const text = await reg.metrics();
    expect(sampleOf(text, 'rpc_duration_seconds_count', { method: 'get' })).toBe('1');
    expect(sampleOf(text, 'rpc_duration_seconds_sum', { method: 'get' })).toBe('2');
    expect(sampleOf(text, 'rpc_duration_seconds_sum', { method: 'put' })).toBe('7');
  });

  it('reset() drops every series, an unlabelled one included, like prom-client', async () => {
    const reg = new Registry();
    const h = new Histogram({ name: 'job_duration_seconds', help: 'Jobs.', buckets: [1], registers: [reg] });
    h.observe(0.5);
    h.reset();
    expect(await reg.metrics()).toBe('# HELP job_duration_seconds Jobs.\n# TYPE job_duration_seconds histogram\n');
    h.observe(3);
    expect(sampleOf(await reg.metrics(), 'job_duration_seconds_count')).toBe('1');
  });
});

describe('Summary', () => {
  it("the sketch bin from a double's bits is ceil(ln v / ln γ) for every value, edges, subnormals and Infinity included", () => {
    const inv = 1 / Math.log(1.01 / 0.99);
    const exact = (v: number): number => Math.min(40000, Math.max(-40000, Math.ceil(Math.log(v) * inv)));
    const values = [1, 2, 0.5, 1e-300, 5e-324, 2.2250738585072014e-308, Number.MAX_VALUE, 1e308, 3, 100, 0.001];
    for (let i = -700; i <= 700; i++) {
      const edge = (1.01 / 0.99) ** i;
      values.push(edge, edge * (1 + 1e-15), edge * (1 - 1e-15), edge * 1.005);
    }
    // A fixed pseudo-random spread over the whole double range (xorshift, so the run is repeatable).
    let x = 0x9e3779b9;
    for (let i = 0; i < 20000; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      values.push(Math.exp(((x >>> 0) / 2 ** 32 - 0.5) * 1400));
    }
    const wrong = values.filter((v) => binOf(v) !== exact(v));
    expect(wrong).toEqual([]);
    expect([binOf(1), binOf(2), binOf(Infinity), binOf(5e-324)]).toEqual([0, 35, 40000, -37220]);
  });

  it('sum and count are exact and a single observation is its own quantile within 1 %', async () => {
    const reg = new Registry();
    const s = new Summary({ name: 'payload_bytes', help: 'Payloads.', percentiles: [0.5, 0.9], registers: [reg] });
    s.observe(100);
    s.observe(100);
    s.observe(100);
    const values = (await s.get()).values;
    expect(values.map((v) => [v.metricName, v.labels])).toEqual([
      [undefined, { quantile: 0.5 }],
      [undefined, { quantile: 0.9 }],
      ['payload_bytes_sum', {}],
      ['payload_bytes_count', {}],
    ]);
    expect(Math.abs(values[0].value - 100) / 100).toBeLessThanOrEqual(0.01);
    expect(Math.abs(values[1].value - 100) / 100).toBeLessThanOrEqual(0.01);
    expect(values[2].value).toBe(300);
    expect(values[3].value).toBe(3);
  });

  it('labelled observations, children and startTimer() each feed their own series', async () => {
    const reg = new Registry();
    const s = new Summary({
      name: 'payload_bytes',
      help: 'Payloads.',
      labelNames: ['route'],
      percentiles: [0.5],
      registers: [reg],
    });
    s.observe({ route: '/a' }, 10);
    s.labels('/b').observe(20);
    s.labels({ route: '/b' }).observe(30);
    const seconds = s.labels('/c').startTimer()();
    const text = await reg.metrics();
    expect(sampleOf(text, 'payload_bytes_sum', { route: '/a' })).toBe('10');
    expect(sampleOf(text, 'payload_bytes_count', { route: '/a' })).toBe('1');
    expect(sampleOf(text, 'payload_bytes_sum', { route: '/b' })).toBe('50');
    expect(sampleOf(text, 'payload_bytes_count', { route: '/b' })).toBe('2');
    expect(Number(sampleOf(text, 'payload_bytes_sum', { route: '/c' }))).toBe(seconds);
  });

  it('remove() drops one series; a re-created one has no memory of earlier observations', async () => {
    const reg = new Registry();
    const s = new Summary({
      name: 'payload_bytes',
      help: 'Payloads.',
      labelNames: ['route'],
      percentiles: [0.5],
      registers: [reg],
    });
    s.observe({ route: '/a' }, 1000);
    s.observe({ route: '/b' }, 5);
    s.remove('/a');
    s.observe({ route: '/a' }, 2);
    const text = await reg.metrics();
    expect(
      Math.abs(Number(sampleOf(text, 'payload_bytes', { route: '/a', quantile: '0.5' })) - 2) / 2,
    ).toBeLessThanOrEqual(0.01);
    expect(sampleOf(text, 'payload_bytes_count', { route: '/a' })).toBe('1');
    expect(sampleOf(text, 'payload_bytes_sum', { route: '/b' })).toBe('5');
  });

  it('reset() drops every series (prom-client instead keeps them with zeroed values)', async () => {
    const reg = new Registry();
    const s = new Summary({
      name: 'payload_bytes',
      help: 'Payloads.',
      labelNames: ['route'],
      percentiles: [0.5],
      registers: [reg],
    });
    s.observe({ route: '/a' }, 1000);
    s.reset();
    expect(await reg.metrics()).toBe('# HELP payload_bytes Payloads.\n# TYPE payload_bytes summary\n');
    s.observe({ route: '/a' }, 4);
    expect(sampleOf(await reg.metrics(), 'payload_bytes_sum', { route: '/a' })).toBe('4');
  });

  it("an unlabelled summary's observe(v) after remove() and reset() counts only what came after, in new pages", async () => {
    const reg = new Registry();
    const s = new Summary({ name: 'payload_bytes', help: 'Payloads.', percentiles: [0, 0.5, 1], registers: [reg] });
    const expo = (q0: string, q5: string, q1: string, sum: string, count: string): string =>
      `# HELP payload_bytes Payloads.\n# TYPE payload_bytes summary\npayload_bytes{quantile="0"} ${q0}\npayload_bytes{quantile="0.5"} ${q5}\npayload_bytes{quantile="1"} ${q1}\npayload_bytes_sum ${sum}\npayload_bytes_count ${count}\n`;
    s.observe(3);
    s.observe(3);
    s.observe(1e6);
    // q=1 is the top bin's value (within 1 %), inside the observed range.
    expect(await reg.metrics()).toBe(expo('3', '3', '994912.7844253505', '1000006', '3'));
    s.remove();
    expect(await reg.metrics()).toBe('# HELP payload_bytes Payloads.\n# TYPE payload_bytes summary\n');
    s.observe(7);
    expect(await reg.metrics()).toBe(expo('7', '7', '7', '7', '1'));
    s.reset();
    expect(await reg.metrics()).toBe(expo('NaN', 'NaN', 'NaN', '0', '0'));
    s.observe(0.25);
    s.observe(0);
    expect(await reg.metrics()).toBe(expo('0', '0', '0.24905131021792878', '0.25', '2'));
  });

  it('zero() forgets earlier observations, quantiles included', async () => {
    const reg = new Registry();
    const s = new Summary({ name: 'payload_bytes', help: 'Payloads.', percentiles: [0.5], registers: [reg] });
    s.observe(5);
    s.observe(5);
    s.zero();
    expect(await reg.metrics()).toBe(
      '# HELP payload_bytes Payloads.\n# TYPE payload_bytes summary\npayload_bytes{quantile="0.5"} NaN\npayload_bytes_sum 0\npayload_bytes_count 0\n',
    );
    s.observe(1);
    const median = Number(sampleOf(await reg.metrics(), 'payload_bytes', { quantile: '0.5' }));
    expect(Math.abs(median - 1)).toBeLessThanOrEqual(0.01);
  });
});

describe('collect callbacks', () => {
  it('a sync collect runs before each scrape with `this` bound to the metric', async () => {
    const reg = new Registry();
    let calls = 0;
    new Gauge({
      name: 'scrapes_seen',
      help: 'Scrapes.',
      registers: [reg],
      collect() {
        calls++;
        this.set(calls * 10);
      },
    });
    expect(sampleOf(await reg.metrics(), 'scrapes_seen')).toBe('10');
    expect(sampleOf(await reg.metrics(), 'scrapes_seen')).toBe('20');
    expect(calls).toBe(2);
  });

  it('an async collect is awaited before encoding, by metrics(), get(), getMetricsAsJSON() and getSingleMetricAsString()', async () => {
    const reg = new Registry();
    let n = 0;
    const g = new Gauge({
      name: 'pool_size',
      help: 'Pool.',
      labelNames: ['pool'],
      registers: [reg],
      async collect() {
        await new Promise((resolve) => setTimeout(resolve, 5));
        this.set({ pool: 'db' }, ++n);
      },
    });
    expect(sampleOf(await reg.metrics(), 'pool_size', { pool: 'db' })).toBe('1');
    expect((await g.get()).values).toEqual([{ value: 2, labels: { pool: 'db' } }]);
    expect((await reg.getMetricsAsJSON())[0].values).toEqual([{ value: 3, labels: { pool: 'db' } }]);
    expect(await reg.getSingleMetricAsString('pool_size')).toBe(
      '# HELP pool_size Pool.\n# TYPE pool_size gauge\npool_size{pool="db"} 4',
    );
  });

  it('a collect that throws rejects the scrape with its error', async () => {
    const reg = new Registry();
    new Gauge({
      name: 'broken',
      help: 'Broken.',
      registers: [reg],
      collect() {
        throw new Error('sensor offline');
      },
    });
    await expect(reg.metrics()).rejects.toThrow('sensor offline');
  });
});

describe('parity with prom-client', () => {
  /** Builds the same metrics with the same updates in either library. */
  function build(
    lib:
      | typeof prom
      | {
          Registry: typeof Registry;
          Counter: typeof Counter;
          Gauge: typeof Gauge;
          Histogram: typeof Histogram;
          Summary: typeof Summary;
        },
  ) {
    const L = lib as typeof prom;
    const reg = new L.Registry();
    const c = new L.Counter({
      name: 'http_requests_total',
      help: 'Requests.',
      labelNames: ['method', 'code'],
      registers: [reg],
    });
    c.inc({ method: 'GET', code: 200 }, 3);
    c.labels('POST', '500').inc();
    const c0 = new L.Counter({ name: 'jobs_total', help: 'Jobs.', registers: [reg] });
    c0.inc(0.5);
    const g = new L.Gauge({
      name: 'temperature_celsius',
      help: 'Temperature.',
      labelNames: ['room'],
      registers: [reg],
    });
    g.set({ room: 'a' }, 21.5);
    g.dec({ room: 'b' }, 3);
    const h = new L.Histogram({
      name: 'rpc_duration_seconds',
      help: 'RPCs.',
      labelNames: ['method'],
      buckets: [0.1, 1, 10],
      registers: [reg],
    });
    for (const v of [0.05, 0.5, 5, 50]) h.observe({ method: 'get' }, v);
    h.zero({ method: 'put' });
    const s = new L.Summary({
      name: 'payload_bytes',
      help: 'Payloads.',
      labelNames: ['route'],
      percentiles: [0.5, 0.9],
      registers: [reg],
    });
    for (let i = 1; i <= 100; i++) s.observe({ route: '/x' }, i);
    reg.setDefaultLabels({ service: 'api', room: 'default' });
    return reg;
  }

  it("getMetricsAsJSON() equals prom-client's for counters, gauges and histograms, label values being strings", async () => {
    const ours = await build({ Registry, Counter, Gauge, Histogram, Summary }).getMetricsAsJSON();
    const theirs = await build(prom).getMetricsAsJSON();
    expect(ours.map((m) => m.name)).toEqual(theirs.map((m) => m.name));
    for (let i = 0; i < 4; i++) {
      const t = theirs[i];
      expect(ours[i]).toEqual({
        name: t.name,
        help: t.help,
        type: t.type,
        aggregator: t.aggregator,
        values: promValuesAsPromsd(t.values as JsonValue[]),
      });
    }
  });

  it("a summary's get() has prom-client's shape and sum and count; quantiles are within 1 % of the true ones and 2 % of prom-client's", async () => {
    const ours = (await build({ Registry, Counter, Gauge, Histogram, Summary }).getMetricsAsJSON())[4];
    const theirs = (await build(prom).getMetricsAsJSON())[4];
    const expected = promValuesAsPromsd(theirs.values as JsonValue[]);
    expect(ours.values.map((v) => ({ ...v, value: 0 }))).toEqual(expected.map((v) => ({ ...v, value: 0 })));
    // Observations 1..100: the true 0.5 and 0.9 quantiles (nearest rank) are 50 and 90;
    // prom-client's t-digest interpolates to 50.5 and 90.5.
    expect(Math.abs(ours.values[0].value - 50) / 50).toBeLessThanOrEqual(0.01);
    expect(Math.abs(ours.values[1].value - 90) / 90).toBeLessThanOrEqual(0.01);
    expect(Math.abs(ours.values[0].value - expected[0].value) / expected[0].value).toBeLessThanOrEqual(0.02);
    expect(Math.abs(ours.values[1].value - expected[1].value) / expected[1].value).toBeLessThanOrEqual(0.02);
    expect(ours.values.slice(2).map((v) => v.value)).toEqual([5050, 100]);
    expect(expected.slice(2).map((v) => v.value)).toEqual([5050, 100]);
  });

  it("metrics() text equals prom-client's for counters and gauges with default labels", async () => {
    const ours = await build({ Registry, Counter, Gauge, Histogram, Summary }).metrics();
    const theirs = await build(prom).metrics();
    const families = (text: string) => text.split('\n\n').slice(0, 3).join('\n\n');
    expect(families(ours)).toBe(families(theirs));
    expect(families(ours)).toContain('temperature_celsius{room="a",service="api"} 21.5');
  });

  it("metrics() text of a histogram with default labels equals prom-client's, label order included", async () => {
    const ours = (await build({ Registry, Counter, Gauge, Histogram, Summary }).metrics()).split('\n\n')[3];
    const theirs = (await build(prom).metrics()).split('\n\n')[3];
    expect(ours).toBe(theirs);
    expect(canonical(ours)).toEqual(canonical(theirs));
    expect(ours).toContain('rpc_duration_seconds_bucket{le="0.1",service="api",room="default",method="get"} 1');
  });

  it("get() of a labelled counter equals prom-client's with number label values turned into strings", async () => {
    const ours = new Counter({
      name: 'http_requests_total',
      help: 'Requests.',
      labelNames: ['code'],
      registers: [new Registry()],
    });
    const theirs = new prom.Counter({
      name: 'http_requests_total',
      help: 'Requests.',
      labelNames: ['code'],
      registers: [new prom.Registry()],
    });
    for (const m of [ours, theirs] as Counter<'code'>[]) {
      m.inc({ code: 200 }, 2);
      m.labels('404').inc();
    }
    const t = await theirs.get();
    expect(t.values).toEqual([
      { value: 2, labels: { code: 200 } },
      { value: 1, labels: { code: '404' } },
    ]);
    expect(await ours.get()).toEqual({
      name: 'http_requests_total',
      help: 'Requests.',
      type: 'counter',
      aggregator: 'sum',
      values: [
        { value: 2, labels: { code: '200' } },
        { value: 1, labels: { code: '404' } },
      ],
    });
  });

  it('an empty summary reports NaN quantiles where prom-client reports 0', async () => {
    const ours = new Summary({
      name: 'payload_bytes',
      help: 'Payloads.',
      percentiles: [0.5],
      registers: [new Registry()],
    });
    const theirs = new prom.Summary({
      name: 'payload_bytes',
      help: 'Payloads.',
      percentiles: [0.5],
      registers: [new prom.Registry()],
    });
    expect((await theirs.get()).values[0].value).toBe(0);
    expect((await ours.get()).values[0]).toEqual({ value: NaN, labels: { quantile: 0.5 } });
  });
});

describe('Registry', () => {
  it('getSingleMetric() returns the registered instance, and undefined for unknown names', () => {
    const reg = new Registry();
    const c = new Counter({ name: 'jobs_total', help: 'Jobs.', registers: [reg] });
    expect(reg.getSingleMetric('jobs_total')).toBe(c);
    expect(reg.getSingleMetric('nope')).toBeUndefined();
    expect(reg.getMetricsAsArray()).toEqual([c]);
  });

  it("getSingleMetricAsString() is one family without trailing newline, as prom-client's, and '' for unknown names", async () => {
    const reg = new Registry();
    const preg = new prom.Registry();
    new Counter({ name: 'jobs_total', help: 'Jobs.', registers: [reg] }).inc(2);
    new Gauge({ name: 'other', help: 'Other.', registers: [reg] });
    new prom.Counter({ name: 'jobs_total', help: 'Jobs.', registers: [preg] }).inc(2);
    expect(await reg.getSingleMetricAsString('jobs_total')).toBe(
      '# HELP jobs_total Jobs.\n# TYPE jobs_total counter\njobs_total 2',
    );
    expect(await reg.getSingleMetricAsString('jobs_total')).toBe(await preg.getSingleMetricAsString('jobs_total'));
    expect(await reg.getSingleMetricAsString('nope')).toBe('');
  });

  it('getSingleMetricAsString() on an OpenMetrics registry omits # EOF', async () => {
    const reg = new Registry(OPENMETRICS_CONTENT_TYPE);
    new Counter({ name: 'jobs_total', help: 'Jobs.', registers: [reg] }).inc(2);
    expect(await reg.getSingleMetricAsString('jobs_total')).toBe(
      '# HELP jobs Jobs.\n# TYPE jobs counter\njobs_total 2',
    );
  });

  it('removeSingleMetric() drops a metric from the exposition and frees its name', async () => {
    const reg = new Registry();
    new Counter({ name: 'jobs_total', help: 'Jobs.', registers: [reg] }).inc(3);
    new Gauge({ name: 'queue_depth', help: 'Depth.', registers: [reg] }).set(1);
    reg.removeSingleMetric('jobs_total');
    reg.removeSingleMetric('never_registered');
    expect(await reg.metrics()).toBe('# HELP queue_depth Depth.\n# TYPE queue_depth gauge\nqueue_depth 1\n');
    new Counter({ name: 'jobs_total', help: 'Jobs again.', registers: [reg] });
    expect(await reg.getSingleMetricAsString('jobs_total')).toBe(
      '# HELP jobs_total Jobs again.\n# TYPE jobs_total counter\njobs_total 0',
    );
  });

  it('a metric removed from one registry stays in the others', async () => {
    const a = new Registry();
    const b = new Registry();
    const c = new Counter({ name: 'jobs_total', help: 'Jobs.', registers: [a, b] });
    c.inc(4);
    a.removeSingleMetric('jobs_total');
    expect(await a.metrics()).toBe('\n');
    expect(await b.metrics()).toBe('# HELP jobs_total Jobs.\n# TYPE jobs_total counter\njobs_total 4\n');
  });

  it('clear() removes every metric and the default labels', async () => {
    const reg = new Registry();
    reg.setDefaultLabels({ service: 'api' });
    new Counter({ name: 'jobs_total', help: 'Jobs.', registers: [reg] });
    reg.clear();
    expect(reg.getMetricsAsArray()).toEqual([]);
    expect(await reg.metrics()).toBe('\n');
    new Gauge({ name: 'queue_depth', help: 'Depth.', registers: [reg] });
    expect(await reg.metrics()).toBe('# HELP queue_depth Depth.\n# TYPE queue_depth gauge\nqueue_depth 0\n');
  });

  it('resetMetrics() resets every metric of the registry', async () => {
    const reg = new Registry();
    const c = new Counter({ name: 'jobs_total', help: 'Jobs.', registers: [reg] });
    const g = new Gauge({ name: 'queue_depth', help: 'Depth.', labelNames: ['q'], registers: [reg] });
    c.inc(3);
    g.set({ q: 'a' }, 2);
    reg.resetMetrics();
    expect(await reg.metrics()).toBe(
      '# HELP jobs_total Jobs.\n# TYPE jobs_total counter\njobs_total 0\n\n# HELP queue_depth Depth.\n# TYPE queue_depth gauge\n',
    );
  });

  it('setDefaultLabels() adds labels to every series; a series label of the same name wins', async () => {
    const reg = new Registry();
    reg.setDefaultLabels({ service: 'api', region: 'eu' });
    const g = new Gauge({ name: 'queue_depth', help: 'Depth.', labelNames: ['region'], registers: [reg] });
    g.set({ region: 'us' }, 1);
    new Counter({ name: 'jobs_total', help: 'Jobs.', registers: [reg] });
    expect(await reg.metrics()).toBe(
      [
        '# HELP queue_depth Depth.',
        '# TYPE queue_depth gauge',
        'queue_depth{region="us",service="api"} 1',
        '',
        '# HELP jobs_total Jobs.',
        '# TYPE jobs_total counter',
        'jobs_total{service="api",region="eu"} 0',
        '',
      ].join('\n'),
    );
    expect((await reg.getMetricsAsJSON()).map((m) => m.values)).toEqual([
      [{ value: 1, labels: { region: 'us', service: 'api' } }],
      [{ value: 0, labels: { service: 'api', region: 'eu' } }],
    ]);
  });

  it('Registry.merge() exposes the metrics of all registries in one', async () => {
    const a = new Registry();
    const b = new Registry();
    new Counter({ name: 'jobs_total', help: 'Jobs.', registers: [a] }).inc(2);
    new Gauge({ name: 'queue_depth', help: 'Depth.', registers: [b] }).set(7);
    const merged = Registry.merge([a, b]);
    expect(merged.contentType).toBe(PROMETHEUS_CONTENT_TYPE);
    expect(await merged.metrics()).toBe(
      '# HELP jobs_total Jobs.\n# TYPE jobs_total counter\njobs_total 2\n\n# HELP queue_depth Depth.\n# TYPE queue_depth gauge\nqueue_depth 7\n',
    );
  });

  it('Registry.merge() of registries holding different metrics of the same name throws DuplicateMetricError', () => {
    const a = new Registry();
    const b = new Registry();
    new Counter({ name: 'jobs_total', help: 'Jobs.', registers: [a] });
    new Counter({ name: 'jobs_total', help: 'Jobs.', registers: [b] });
    expect(() => Registry.merge([a, b])).toThrow(
      new DuplicateMetricError('A metric with the name jobs_total has already been registered.'),
    );
  });

  it('Registry.merge() of registries with different content types throws InvalidMetricError', () => {
    expect(() => Registry.merge([new Registry(), new Registry(OPENMETRICS_CONTENT_TYPE)])).toThrow(InvalidMetricError);
  });

  it("registering a second metric of the same name throws DuplicateMetricError with prom-client's message", () => {
    const reg = new Registry();
    new Counter({ name: 'jobs_total', help: 'Jobs.', registers: [reg] });
    let err: unknown;
    try {
      new Gauge({ name: 'jobs_total', help: 'Jobs.', registers: [reg] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DuplicateMetricError);
    expect((err as Error).message).toBe('A metric with the name jobs_total has already been registered.');
    const preg = new prom.Registry();
    new prom.Counter({ name: 'jobs_total', help: 'Jobs.', registers: [preg] });
    expect(() => new prom.Gauge({ name: 'jobs_total', help: 'Jobs.', registers: [preg] })).toThrow(
      (err as Error).message,
    );
  });

  it('metrics of the same name may live in different registries', async () => {
    const a = new Registry();
    const b = new Registry();
    new Counter({ name: 'jobs_total', help: 'Jobs.', registers: [a] }).inc(1);
    new Counter({ name: 'jobs_total', help: 'Jobs.', registers: [b] }).inc(2);
    expect(sampleOf(await a.metrics(), 'jobs_total')).toBe('1');
    expect(sampleOf(await b.metrics(), 'jobs_total')).toBe('2');
  });

  it('exposes the content type constants of prom-client', () => {
    expect(Registry.PROMETHEUS_CONTENT_TYPE).toBe(prom.Registry.PROMETHEUS_CONTENT_TYPE);
    expect(Registry.OPENMETRICS_CONTENT_TYPE).toBe(prom.Registry.OPENMETRICS_CONTENT_TYPE);
    expect(new Registry().contentType).toBe(new prom.Registry().contentType);
    const reg = new Registry();
    reg.setContentType(OPENMETRICS_CONTENT_TYPE);
    expect(reg.contentType).toBe(OPENMETRICS_CONTENT_TYPE);
  });
});

describe('helpers', () => {
  it("linearBuckets() and exponentialBuckets() return prom-client's arrays", () => {
    expect(linearBuckets(0, 0.5, 4)).toEqual([0, 0.5, 1, 1.5]);
    expect(exponentialBuckets(1, 2, 5)).toEqual([1, 2, 4, 8, 16]);
    expect(linearBuckets(0.1, 0.1, 5)).toEqual(prom.linearBuckets(0.1, 0.1, 5));
    expect(exponentialBuckets(0.001, 10, 4)).toEqual(prom.exponentialBuckets(0.001, 10, 4));
  });

  it('linearBuckets() and exponentialBuckets() reject counts, widths and factors that give no usable buckets', () => {
    expect(() => linearBuckets(0, 1, 0)).toThrow(
      new InvalidMetricError('linearBuckets: count must be a positive integer, got 0'),
    );
    expect(() => linearBuckets(0, 0, 3)).toThrow(
      new InvalidMetricError('linearBuckets: width must be positive, got 0'),
    );
    expect(() => exponentialBuckets(0, 2, 3)).toThrow(
      new InvalidMetricError('exponentialBuckets: start must be positive, got 0'),
    );
    expect(() => exponentialBuckets(1, 1, 3)).toThrow(
      new InvalidMetricError('exponentialBuckets: factor must be greater than 1, got 1'),
    );
    expect(() => exponentialBuckets(1, 2, 1.5)).toThrow(
      new InvalidMetricError('exponentialBuckets: count must be a positive integer, got 1.5'),
    );
  });

  it("validateMetricName() agrees with prom-client's", () => {
    const names = ['http_requests_total', 'a:b_c', '_x', ':x', '1abc', 'a-b', 'a b', '', 'é', 'A9'];
    expect(names.map(validateMetricName)).toEqual([true, true, true, true, false, false, false, false, false, true]);
    expect(names.map(validateMetricName)).toEqual(names.map((n) => prom.validateMetricName(n)));
  });
});
