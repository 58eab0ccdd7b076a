import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import prom from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  AggregatorRegistry,
  aggregators,
  Counter,
  InvalidOptionsError,
  type MetricObjectWithValues,
  Registry,
  register,
} from '../index';
import { AGGREGATOR_SOCKET_ENV } from '../backend/embedded';

/** Two "workers" of prom-client, as its primary receives them: getMetricsAsJSON() arrays. */
async function workerJson(): Promise<MetricObjectWithValues<string>[][]> {
  const out: MetricObjectWithValues<string>[][] = [];
  for (const n of [1, 2]) {
    const reg = new prom.Registry();
    const c = new prom.Counter({ name: 'w_requests_total', help: 'Requests.', labelNames: ['code'], registers: [reg] });
    c.inc({ code: '200' }, n * 10);
    if (n === 2) c.inc({ code: '500' });
    new prom.Gauge({ name: 'w_heap_bytes', help: 'Heap.', aggregator: 'max', registers: [reg] }).set(n * 100);
    new prom.Gauge({ name: 'w_local', help: 'Local.', aggregator: 'omit', registers: [reg] }).set(n);
    new prom.Gauge({ name: 'w_temp', help: 'Temp.', aggregator: 'average', registers: [reg] }).set(n);
    const h = new prom.Histogram({ name: 'w_seconds', help: 'Latency.', buckets: [1], registers: [reg] });
    h.observe(n / 2);
    out.push((await reg.getMetricsAsJSON()) as unknown as MetricObjectWithValues<string>[]);
  }
  return out;
}

describe('AggregatorRegistry', () => {
  it("clusterMetrics() answers at once while a worker's event loop is busy", () => {
    const r = spawnSync(process.execPath, [join(__dirname, 'fixtures', 'aggregator-registry-primary.js')], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, [AGGREGATOR_SOCKET_ENV]: '' },
    });
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1) as string) as { ms: number; text: string };
    expect(out.text).toBe(
      '# HELP ar_requests_total Requests.\n# TYPE ar_requests_total counter\n' +
        'ar_requests_total{worker="1"} 10\nar_requests_total{worker="2"} 20\n',
    );
    // prom-client's fails after 5 s with "Operation timed out." here.
    expect(out.ms).toBeLessThan(1000);
  });

  it("aggregate() of prom-client's JSON exposes what prom-client's aggregate() does, byte for byte", async () => {
    const ours = await AggregatorRegistry.aggregate(await workerJson()).metrics();
    const theirs = await prom.AggregatorRegistry.aggregate(
      (await workerJson()) as unknown as Parameters<typeof prom.AggregatorRegistry.aggregate>[0],
    ).metrics();
    expect(ours).toBe(theirs);
    expect(ours).toBe(
      [
        '# HELP w_requests_total Requests.',
        '# TYPE w_requests_total counter',
        'w_requests_total{code="200"} 30',
        'w_requests_total{code="500"} 1',
        '',
        '# HELP w_heap_bytes Heap.',
        '# TYPE w_heap_bytes gauge',
        'w_heap_bytes 200',
        '',
        '# HELP w_temp Temp.',
        '# TYPE w_temp gauge',
        'w_temp 1.5',
        '',
        '# HELP w_seconds Latency.',
        '# TYPE w_seconds histogram',
        'w_seconds_bucket{le="1"} 2',
        'w_seconds_bucket{le="+Inf"} 2',
        'w_seconds_sum 1.5',
        'w_seconds_count 2',
        '',
      ].join('\n'),
    );
  });

  it('aggregate() returns a registry of the content type asked for, and its JSON', async () => {
    const reg = AggregatorRegistry.aggregate(await workerJson(), Registry.OPENMETRICS_CONTENT_TYPE);
    expect(reg.contentType).toBe(Registry.OPENMETRICS_CONTENT_TYPE);
    const text = await reg.metrics();
    expect(text.split('\n').slice(0, 4)).toEqual([
      '# HELP w_requests Requests.',
      '# TYPE w_requests counter',
      'w_requests_total{code="200"} 30',
      'w_requests_total{code="500"} 1',
    ]);
    expect(text.endsWith('w_seconds_count 2\n# EOF\n')).toBe(true);
    const json = await reg.getMetricsAsJSON();
    expect(json.map((m) => [m.name, m.values.length])).toEqual([
      ['w_requests_total', 2],
      ['w_heap_bytes', 1],
      ['w_temp', 1],
      ['w_seconds', 4],
    ]);
  });

  it('aggregate() refuses an unknown aggregator with prom-client’s message', () => {
    const metric = { name: 'x', help: 'X.', type: 'gauge', aggregator: 'median', values: [] };
    expect(() => AggregatorRegistry.aggregate([[metric as never]])).toThrow(
      new InvalidOptionsError("'median' is not a defined aggregator."),
    );
  });

  it('setRegistries() refuses what is not a registry and adds the metrics of others to the aggregated one', () => {
    expect(() => AggregatorRegistry.setRegistries([{} as never])).toThrow(
      new TypeError('Expected Registry, got object'),
    );
    const reg = new Registry();
    new Counter({ name: 'ar_side_total', help: 'Side.', registers: [reg] });
    AggregatorRegistry.setRegistries([register, reg]);
    try {
      expect(register.getSingleMetric('ar_side_total')).toBe(reg.getSingleMetric('ar_side_total'));
    } finally {
      register.removeSingleMetric('ar_side_total');
    }
  });
});

describe('aggregators', () => {
  const m = (values: number[]): MetricObjectWithValues<string> => ({
    name: 'g',
    help: 'G.',
    type: 'gauge',
    aggregator: 'sum',
    values: values.map((value, i) => ({ value, labels: { i: i % 2 } })),
  });

  it('combine series of the same labels with sum, first, min, max and average; omit drops the metric', () => {
    const inputs = [m([1, 10]), m([3, 20]), m([2, 30])];
    const by = (fn: keyof typeof aggregators) => aggregators[fn](inputs)?.values.map((v) => v.value);
    expect(by('sum')).toEqual([6, 60]);
    expect(by('first')).toEqual([1, 10]);
    expect(by('min')).toEqual([1, 10]);
    expect(by('max')).toEqual([3, 30]);
    expect(by('average')).toEqual([2, 20]);
    expect(aggregators.omit(inputs)).toBeUndefined();
    expect(aggregators.sum([])).toBeUndefined();
    expect(aggregators.sum(inputs)).toEqual({
      name: 'g',
      help: 'G.',
      type: 'gauge',
      aggregator: 'sum',
      values: [
        { value: 6, labels: { i: 0 } },
        { value: 60, labels: { i: 1 } },
      ],
    });
  });
});
