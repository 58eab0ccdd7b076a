import { describe, expect, it } from 'vitest';
import {
  Counter,
  Gauge,
  Histogram,
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  Registry,
  type RegistryContentType,
  Summary,
} from '../index';

// Details of the two exposition formats the core encodes: Prometheus text 0.0.4 and OpenMetrics 1.0.

/** A registry with one labelled metric of each type and known values. */
function allTypes(contentType: typeof PROMETHEUS_CONTENT_TYPE | typeof OPENMETRICS_CONTENT_TYPE): Registry {
  const reg = new Registry(contentType);
  new Counter({ name: 'http_requests_total', help: 'Requests.', labelNames: ['method'], registers: [reg] }).inc(
    { method: 'GET' },
    3,
  );
  new Gauge({ name: 'queue_depth', help: 'Depth.', labelNames: ['queue'], registers: [reg] }).set({ queue: 'a' }, -2);
  const h = new Histogram({
    name: 'rpc_duration_seconds',
    help: 'RPCs.',
    labelNames: ['method'],
    buckets: [0.5, 1],
    registers: [reg],
  });
  h.observe({ method: 'get' }, 0.25);
  h.observe({ method: 'get' }, 0.75);
  new Summary({
    name: 'payload_bytes',
    help: 'Payloads.',
    labelNames: ['route'],
    percentiles: [0.5],
    registers: [reg],
  }).observe({ route: '/a' }, 100);
  return reg;
}

/** The sample line of `text` that starts with `prefix`. */
function line(text: string, prefix: string): string {
  const hits = text.split('\n').filter((l) => l.startsWith(prefix));
  if (hits.length !== 1)
    throw new Error(`expected one line starting with ${prefix}, found ${hits.length} in:\n${text}`);
  return hits[0];
}

/** Replaces the summary's one quantile value (sketch-approximate) with Q after checking it. */
function fixQuantile(text: string): string {
  return text.replace(/^(payload_bytes\{quantile="0.5",route="\/a"\}) (\S+)$/m, (_, head: string, v: string) => {
    expect(Math.abs(Number(v) - 100) / 100).toBeLessThanOrEqual(0.01);
    return `${head} Q`;
  });
}

describe('text format 0.0.4', () => {
  it('encodes all four types as prom-client does: HELP, TYPE, samples, families separated by a blank line', async () => {
    const text = fixQuantile(await allTypes(PROMETHEUS_CONTENT_TYPE).metrics());
    expect(text).toBe(
      [
        '# HELP http_requests_total Requests.',
        '# TYPE http_requests_total counter',
        'http_requests_total{method="GET"} 3',
        '',
        '# HELP queue_depth Depth.',
        '# TYPE queue_depth gauge',
        'queue_depth{queue="a"} -2',
        '',
        '# HELP rpc_duration_seconds RPCs.',
        '# TYPE rpc_duration_seconds histogram',
        'rpc_duration_seconds_bucket{le="0.5",method="get"} 1',
        'rpc_duration_seconds_bucket{le="1",method="get"} 2',
        'rpc_duration_seconds_bucket{le="+Inf",method="get"} 2',
        'rpc_duration_seconds_sum{method="get"} 1',
        'rpc_duration_seconds_count{method="get"} 2',
        '',
        '# HELP payload_bytes Payloads.',
        '# TYPE payload_bytes summary',
        'payload_bytes{quantile="0.5",route="/a"} Q',
        'payload_bytes_sum{route="/a"} 100',
        'payload_bytes_count{route="/a"} 1',
        '',
      ].join('\n'),
    );
  });

  it('an empty registry is a single newline, as in prom-client', async () => {
    expect(await new Registry().metrics()).toBe('\n');
  });

  it('has no # EOF line', async () => {
    expect(await allTypes(PROMETHEUS_CONTENT_TYPE).metrics()).not.toContain('# EOF');
  });
});

describe('OpenMetrics 1.0', () => {
  it('names counter families without _total, suffixes their samples with _total, and ends with # EOF', async () => {
    const text = fixQuantile(await allTypes(OPENMETRICS_CONTENT_TYPE).metrics());
    expect(text).toBe(
      [
        '# HELP http_requests Requests.',
        '# TYPE http_requests counter',
        'http_requests_total{method="GET"} 3',
        '# HELP queue_depth Depth.',
        '# TYPE queue_depth gauge',
        'queue_depth{queue="a"} -2',
        '# HELP rpc_duration_seconds RPCs.',
        '# TYPE rpc_duration_seconds histogram',
        'rpc_duration_seconds_bucket{le="0.5",method="get"} 1',
        'rpc_duration_seconds_bucket{le="1",method="get"} 2',
        'rpc_duration_seconds_bucket{le="+Inf",method="get"} 2',
        'rpc_duration_seconds_sum{method="get"} 1',
        'rpc_duration_seconds_count{method="get"} 2',
        '# HELP payload_bytes Payloads.',
        '# TYPE payload_bytes summary',
        'payload_bytes{quantile="0.5",route="/a"} Q',
        'payload_bytes_sum{route="/a"} 100',
        'payload_bytes_count{route="/a"} 1',
        '# EOF',
        '',
      ].join('\n'),
    );
  });

  it('a counter named without _total keeps its name for the family and gets _total on its sample', async () => {
    const reg = new Registry(OPENMETRICS_CONTENT_TYPE);
    new Counter({ name: 'jobs', help: 'Jobs.', registers: [reg] }).inc(2);
    expect(await reg.metrics()).toBe('# HELP jobs Jobs.\n# TYPE jobs counter\njobs_total 2\n# EOF\n');
  });

  it('an empty registry is just # EOF', async () => {
    expect(await new Registry(OPENMETRICS_CONTENT_TYPE).metrics()).toBe('# EOF\n');
  });

  it('switching a registry to OpenMetrics with setContentType() switches the encoding', async () => {
    const reg = new Registry();
    new Counter({ name: 'jobs_total', help: 'Jobs.', registers: [reg] }).inc();
    reg.setContentType(OPENMETRICS_CONTENT_TYPE);
    expect(await reg.metrics()).toBe('# HELP jobs Jobs.\n# TYPE jobs counter\njobs_total 1\n# EOF\n');
  });
});

describe('escaping', () => {
  const nasty = 'C:\\dir "quoted"\nnext line';

  it('label values escape backslash, double quote and newline in text format', async () => {
    const reg = new Registry();
    new Gauge({ name: 'path_info', help: 'Paths.', labelNames: ['path'], registers: [reg] }).set({ path: nasty }, 1);
    expect(line(await reg.metrics(), 'path_info{')).toBe('path_info{path="C:\\\\dir \\"quoted\\"\\nnext line"} 1');
  });

  it('label values escape backslash, double quote and newline in OpenMetrics', async () => {
    const reg = new Registry(OPENMETRICS_CONTENT_TYPE);
    new Gauge({ name: 'path_info', help: 'Paths.', labelNames: ['path'], registers: [reg] }).set({ path: nasty }, 1);
    expect(line(await reg.metrics(), 'path_info{')).toBe('path_info{path="C:\\\\dir \\"quoted\\"\\nnext line"} 1');
  });

  it('default label values are escaped the same way', async () => {
    const reg = new Registry();
    reg.setDefaultLabels({ host: 'a"b\\c\nd' });
    new Gauge({ name: 'up', help: 'Up.', registers: [reg] }).set(1);
    expect(line(await reg.metrics(), 'up')).toBe('up{host="a\\"b\\\\c\\nd"} 1');
  });

  it('HELP escapes backslash and newline, but not double quote, in text format', async () => {
    const reg = new Registry();
    new Gauge({ name: 'up', help: nasty, registers: [reg] });
    expect(line(await reg.metrics(), '# HELP')).toBe('# HELP up C:\\\\dir "quoted"\\nnext line');
  });

  it('HELP escapes backslash, newline and double quote in OpenMetrics', async () => {
    const reg = new Registry(OPENMETRICS_CONTENT_TYPE);
    new Gauge({ name: 'up', help: nasty, registers: [reg] });
    expect(line(await reg.metrics(), '# HELP')).toBe('# HELP up C:\\\\dir \\"quoted\\"\\nnext line');
  });

  it('UTF-8 label values and help pass through unchanged', async () => {
    const reg = new Registry();
    new Gauge({ name: 'city_temp', help: 'Température °C.', labelNames: ['city'], registers: [reg] }).set(
      { city: 'Zürich 東京' },
      1,
    );
    expect(await reg.metrics()).toBe(
      '# HELP city_temp Température °C.\n# TYPE city_temp gauge\ncity_temp{city="Zürich 東京"} 1\n',
    );
  });
});

describe('special and awkward values', () => {
  it('a gauge set to +Infinity, -Infinity and NaN is written +Inf, -Inf and NaN in both formats', async () => {
    for (const type of [PROMETHEUS_CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE] as const) {
      const reg = new Registry(type);
      const g = new Gauge({ name: 'ratio', help: 'Ratio.', labelNames: ['k'], registers: [reg] });
      g.set({ k: 'pos' }, Infinity);
      g.set({ k: 'neg' }, -Infinity);
      g.set({ k: 'nan' }, NaN);
      const text = await reg.metrics();
      expect(line(text, 'ratio{k="pos"}')).toBe('ratio{k="pos"} +Inf');
      expect(line(text, 'ratio{k="neg"}')).toBe('ratio{k="neg"} -Inf');
      expect(line(text, 'ratio{k="nan"}')).toBe('ratio{k="nan"} NaN');
    }
  });

  it('finite values round-trip exactly through the text', async () => {
    const values = [0.1 + 0.2, 1e21, 1.5e300, 1e-7, -2.5e-10, 123456789012345, 1e15, 2 ** 53 + 2, 5e-324, -7];
    const reg = new Registry();
    const g = new Gauge({ name: 'v', help: 'Values.', labelNames: ['i'], registers: [reg] });
    for (const [i, v] of values.entries()) g.set({ i }, v);
    const text = await reg.metrics();
    for (const [i, v] of values.entries()) {
      expect(Number(line(text, `v{i="${i}"}`).split(' ')[1]), `value ${v}`).toBe(v);
    }
    expect(line(text, 'v{i="0"}')).toBe('v{i="0"} 0.30000000000000004');
    expect(line(text, 'v{i="5"}')).toBe('v{i="5"} 123456789012345');
  });
});

describe('histograms', () => {
  it('buckets are cumulative, an observation equal to a bound counts in that bucket, sum and count are exact', async () => {
    const reg = new Registry();
    const h = new Histogram({ name: 'size_bytes', help: 'Sizes.', buckets: [-1, 0, 10, 100], registers: [reg] });
    for (const v of [-5, -1, 0, 0.5, 10, 10.5, 99, 100, 1000]) h.observe(v);
    expect(await reg.metrics()).toBe(
      [
        '# HELP size_bytes Sizes.',
        '# TYPE size_bytes histogram',
        'size_bytes_bucket{le="-1"} 2',
        'size_bytes_bucket{le="0"} 3',
        'size_bytes_bucket{le="10"} 5',
        'size_bytes_bucket{le="100"} 8',
        'size_bytes_bucket{le="+Inf"} 9',
        'size_bytes_sum 1214',
        'size_bytes_count 9',
        '',
      ].join('\n'),
    );
  });

  it('fractional bucket bounds are written as JavaScript prints them', async () => {
    const reg = new Registry();
    new Histogram({ name: 'latency_seconds', help: 'Latency.', buckets: [0.005, 0.025, 2.5], registers: [reg] });
    const les = [...(await reg.metrics()).matchAll(/le="([^"]+)"/g)].map((m) => m[1]);
    expect(les).toEqual(['0.005', '0.025', '2.5', '+Inf']);
  });
});

describe('summaries', () => {
  it('quantiles of 1..1000 are within 1 % of the true quantiles; sum and count are exact', async () => {
    const reg = new Registry();
    const percentiles = [0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999];
    const s = new Summary({ name: 'work_items', help: 'Items.', percentiles, registers: [reg] });
    // A scrambled order: the result must not depend on the order of observations.
    for (let i = 0; i < 1000; i++) s.observe(((i * 7919) % 1000) + 1);
    const text = await reg.metrics();
    for (const q of percentiles) {
      const truth = Math.ceil(q * 1000); // nearest rank
      const got = Number(line(text, `work_items{quantile="${q}"}`).split(' ')[1]);
      expect(Math.abs(got - truth) / truth, `quantile ${q}: got ${got}, true ${truth}`).toBeLessThanOrEqual(0.01);
    }
    expect(line(text, 'work_items_sum')).toBe('work_items_sum 500500');
    expect(line(text, 'work_items_count')).toBe('work_items_count 1000');
  });

  it('quantiles of zero and small observations are within 1 % too (negative ones are refused: issue 15)', async () => {
    const reg = new Registry();
    const s = new Summary({ name: 'offset_seconds', help: 'Offsets.', percentiles: [0.1, 0.5, 0.9], registers: [reg] });
    for (let i = 0; i <= 999; i++) s.observe(i);
    const text = await reg.metrics();
    // Nearest ranks 100, 500 and 900 of 0..999.
    for (const [q, truth] of [
      [0.1, 99],
      [0.5, 499],
      [0.9, 899],
    ] as const) {
      const got = Number(line(text, `offset_seconds{quantile="${q}"}`).split(' ')[1]);
      expect(Math.abs(got - truth) / Math.abs(truth), `quantile ${q}: got ${got}, true ${truth}`).toBeLessThanOrEqual(
        0.01,
      );
    }
  });

  it('an empty summary has NaN quantiles and zero sum and count, in both formats', async () => {
    for (const type of [PROMETHEUS_CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE] as const) {
      const reg = new Registry(type);
      new Summary({ name: 'work_items', help: 'Items.', percentiles: [0.5, 0.99], registers: [reg] });
      const samples = (await reg.metrics()).split('\n').filter((l) => l.startsWith('work_items'));
      expect(samples).toEqual([
        'work_items{quantile="0.5"} NaN',
        'work_items{quantile="0.99"} NaN',
        'work_items_sum 0',
        'work_items_count 0',
      ]);
    }
  });
});

describe('exemplars', () => {
  /** `# {labels} value timestamp` of a sample line, checked for a timestamp in [before, after]. */
  function exemplarOf(sampleLine: string, before: number, after: number): string {
    const m = / # (\{.*\}) (\S+) (\d+\.\d{3})$/.exec(sampleLine);
    if (!m) throw new Error(`no exemplar on ${JSON.stringify(sampleLine)}`);
    const ts = Number(m[3]);
    expect(ts).toBeGreaterThanOrEqual(Math.floor(before * 1000) / 1000);
    expect(ts).toBeLessThanOrEqual(after + 0.001);
    return `${m[1]} ${m[2]}`;
  }

  function tracedRegistry() {
    const reg = new Registry<RegistryContentType>(OPENMETRICS_CONTENT_TYPE);
    const counter = new Counter({
      name: 'traced_requests_total',
      help: 'Requests.',
      labelNames: ['method'],
      enableExemplars: true,
      registers: [reg],
    });
    const histogram = new Histogram({
      name: 'traced_duration_seconds',
      help: 'Durations.',
      labelNames: ['method'],
      buckets: [0.1, 1],
      enableExemplars: true,
      registers: [reg],
    });
    return { reg, counter, histogram };
  }

  it('a counter increment with exemplarLabels shows the exemplar on its sample in OpenMetrics', async () => {
    const { reg, counter } = tracedRegistry();
    const before = Date.now() / 1000;
    counter.inc({ labels: { method: 'GET' }, value: 2, exemplarLabels: { trace_id: 'abc123' } });
    counter.inc({ labels: { method: 'GET' }, value: 3 });
    const after = Date.now() / 1000;
    const sample = line(await reg.metrics(), 'traced_requests_total{method="GET"}');
    expect(sample.startsWith('traced_requests_total{method="GET"} 5 # ')).toBe(true);
    expect(exemplarOf(sample, before, after)).toBe('{trace_id="abc123"} 2');
  });

  it('a histogram observation with exemplarLabels shows the exemplar on the bucket it fell in only', async () => {
    const { reg, histogram } = tracedRegistry();
    const before = Date.now() / 1000;
    histogram.observe({ labels: { method: 'GET' }, value: 0.5, exemplarLabels: { trace_id: 'def', span_id: '7' } });
    histogram.observe({ labels: { method: 'GET' }, value: 0.05 });
    const after = Date.now() / 1000;
    const text = await reg.metrics();
    expect(line(text, 'traced_duration_seconds_bucket{le="0.1",method="GET"}')).toBe(
      'traced_duration_seconds_bucket{le="0.1",method="GET"} 1',
    );
    const bucket = line(text, 'traced_duration_seconds_bucket{le="1",method="GET"}');
    expect(bucket.startsWith('traced_duration_seconds_bucket{le="1",method="GET"} 2 # ')).toBe(true);
    expect(exemplarOf(bucket, before, after)).toBe('{trace_id="def",span_id="7"} 0.5');
    expect(line(text, 'traced_duration_seconds_bucket{le="+Inf",method="GET"}')).toBe(
      'traced_duration_seconds_bucket{le="+Inf",method="GET"} 2',
    );
    expect(line(text, 'traced_duration_seconds_sum')).toBe('traced_duration_seconds_sum{method="GET"} 0.55');
  });

  it('the latest exemplar of a series replaces the earlier one', async () => {
    const { reg, counter } = tracedRegistry();
    counter.inc({ labels: { method: 'GET' }, value: 1, exemplarLabels: { trace_id: 'first' } });
    counter.inc({ labels: { method: 'GET' }, value: 4, exemplarLabels: { trace_id: 'second' } });
    const sample = line(await reg.metrics(), 'traced_requests_total{method="GET"}');
    expect(sample).toMatch(/^traced_requests_total\{method="GET"\} 5 # \{trace_id="second"\} 4 \d+\.\d{3}$/);
  });

  it('exemplar label values are escaped', async () => {
    const { reg, counter } = tracedRegistry();
    counter.inc({ labels: { method: 'GET' }, value: 1, exemplarLabels: { note: 'a"b\\c\nd' } });
    expect(line(await reg.metrics(), 'traced_requests_total')).toMatch(/ # \{note="a\\"b\\\\c\\nd"\} 1 \d+\.\d{3}$/);
  });

  it('exemplars are not written in text format', async () => {
    const { reg, counter, histogram } = tracedRegistry();
    counter.inc({ labels: { method: 'GET' }, value: 2, exemplarLabels: { trace_id: 'abc' } });
    histogram.observe({ labels: { method: 'GET' }, value: 0.5, exemplarLabels: { trace_id: 'def' } });
    reg.setContentType(PROMETHEUS_CONTENT_TYPE);
    const text = await reg.metrics();
    expect(text).not.toContain('trace_id');
    expect(line(text, 'traced_requests_total')).toBe('traced_requests_total{method="GET"} 2');
    expect(line(text, 'traced_duration_seconds_bucket{le="1",method="GET"}')).toBe(
      'traced_duration_seconds_bucket{le="1",method="GET"} 1',
    );
  });
});

describe('default labels', () => {
  it('are appended to every sample of every type, and a series label of the same name wins', async () => {
    const reg = new Registry();
    reg.setDefaultLabels({ service: 'api', method: 'default' });
    const c = new Counter({ name: 'http_requests_total', help: 'Requests.', labelNames: ['method'], registers: [reg] });
    c.inc({ method: 'GET' });
    new Gauge({ name: 'up', help: 'Up.', registers: [reg] }).set(1);
    new Histogram({
      name: 'rpc_duration_seconds',
      help: 'RPCs.',
      labelNames: ['method'],
      buckets: [1],
      registers: [reg],
    }).observe({ method: 'get' }, 2);
    expect(await reg.metrics()).toBe(
      [
        '# HELP http_requests_total Requests.',
        '# TYPE http_requests_total counter',
        'http_requests_total{method="GET",service="api"} 1',
        '',
        '# HELP up Up.',
        '# TYPE up gauge',
        'up{service="api",method="default"} 1',
        '',
        '# HELP rpc_duration_seconds RPCs.',
        '# TYPE rpc_duration_seconds histogram',
        'rpc_duration_seconds_bucket{le="1",service="api",method="get"} 0',
        'rpc_duration_seconds_bucket{le="+Inf",service="api",method="get"} 1',
        'rpc_duration_seconds_sum{service="api",method="get"} 2',
        'rpc_duration_seconds_count{service="api",method="get"} 1',
        '',
      ].join('\n'),
    );
  });

  it('are merged the same way in OpenMetrics', async () => {
    const reg = new Registry(OPENMETRICS_CONTENT_TYPE);
    reg.setDefaultLabels({ service: 'api', method: 'default' });
    new Counter({ name: 'http_requests_total', help: 'Requests.', labelNames: ['method'], registers: [reg] }).inc({
      method: 'GET',
    });
    new Counter({ name: 'jobs_total', help: 'Jobs.', registers: [reg] }).inc(2);
    expect(await reg.metrics()).toBe(
      [
        '# HELP http_requests Requests.',
        '# TYPE http_requests counter',
        'http_requests_total{method="GET",service="api"} 1',
        '# HELP jobs Jobs.',
        '# TYPE jobs counter',
        'jobs_total{service="api",method="default"} 2',
        '# EOF',
        '',
      ].join('\n'),
    );
  });

  it('setting them again replaces the earlier set', async () => {
    const reg = new Registry();
    new Gauge({ name: 'up', help: 'Up.', registers: [reg] }).set(1);
    reg.setDefaultLabels({ service: 'api', zone: 'a' });
    reg.setDefaultLabels({ region: 'eu' });
    expect(line(await reg.metrics(), 'up')).toBe('up{region="eu"} 1');
  });
});
