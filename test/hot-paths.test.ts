import { afterEach, describe, expect, it } from 'vitest';
import * as prom from 'prom-client';
import { Counter, Gauge, Histogram, OPENMETRICS_CONTENT_TYPE, Registry, Summary } from '../index';

// The update methods keep only their hot shapes inline (metrics/counter.ts, histogram.ts) and
// send every other call to a slow method; the unlabelled series is reached through `c0`, an empty
// array while the series does not exist. These tests walk each way in and out of the fast paths
// and compare the exact result with prom-client 15 doing the same operations.

const realHrtime = process.hrtime;
afterEach(() => {
  process.hrtime = realHrtime;
});

/** Replaces `process.hrtime` with a clock that returns `readings` in turn (prom-client's array form). */
function fakeHrtime(readings: [number, number][]): void {
  let i = 0;
  const fake = ((prev?: [number, number]) => {
    const now = readings[i++];
    if (prev === undefined) return now;
    let s = now[0] - prev[0];
    let n = now[1] - prev[1];
    if (n < 0) {
      s--;
      n += 1e9;
    }
    return [s, n];
  }) as typeof process.hrtime;
  fake.bigint = realHrtime.bigint;
  process.hrtime = fake;
}

async function valuesOf(m: { get(): Promise<{ values: unknown[] }> }): Promise<unknown[]> {
  return (await m.get()).values;
}

describe('Counter.inc fast and slow paths', () => {
  it('the unlabelled series: inc(), inc(n), inc(undefined, n) (adds 1, as prom-client), after remove() and reset()', async () => {
    const reg = new Registry();
    const c = new Counter({ name: 'events_total', help: 'h', registers: [reg] });
    const p = new prom.Counter({ name: 'events_total', help: 'h', registers: [new prom.Registry()] });
    for (const m of [c, p] as { inc(a?: unknown, b?: unknown): void; remove(): void; reset(): void }[]) {
      m.inc();
      m.inc(2.5);
      m.inc(undefined, 5);
    }
    expect(await valuesOf(c)).toEqual([{ value: 4.5, labels: {} }]);
    expect(await valuesOf(c)).toEqual((await p.get()).values);
    // remove() drops the series: the next inc() takes the slow path and creates it from zero.
    c.remove();
    expect(await valuesOf(c)).toEqual([]);
    c.inc();
    c.inc();
    expect(await valuesOf(c)).toEqual([{ value: 2, labels: {} }]);
    // reset() re-creates it at zero (as prom-client): the fast path writes to the new slot.
    c.reset();
    expect(await valuesOf(c)).toEqual([{ value: 0, labels: {} }]);
    c.inc();
    expect(await reg.metrics()).toBe('# HELP events_total h\n# TYPE events_total counter\nevents_total 1\n');
  });

  it('labelled: a new series (miss), then hits, numbers and strings as the same value, partial sets', async () => {
    const reg = new Registry();
    const preg = new prom.Registry();
    const c = new Counter({ name: 'req_total', help: 'h', labelNames: ['code', 'm'], registers: [reg] });
    const p = new prom.Counter({ name: 'req_total', help: 'h', labelNames: ['code', 'm'], registers: [preg] });
    for (const m of [c, p] as { inc(a?: unknown, b?: unknown): void }[]) {
      m.inc({ code: 200, m: 'GET' });
      m.inc({ code: '200', m: 'GET' }, 2);
      m.inc({ m: 'GET', code: 200 }, 0.25);
      m.inc({ code: '500' });
      m.inc({ code: '500' }, 3);
    }
    const ours = await valuesOf(c);
    expect(ours).toEqual([
      { value: 3.25, labels: { code: '200', m: 'GET' } },
      { value: 4, labels: { code: '500' } },
    ]);
    // prom-client's get() keeps the number it was given (promsd returns strings): compare the text.
    expect(await reg.metrics()).toBe(await preg.metrics());
  });

  it('refused updates throw the same errors on a hit and on a miss, and change nothing', async () => {
    const c = new Counter({ name: 'jobs_total', help: 'h', labelNames: ['q'], registers: [new Registry()] });
    c.inc({ q: 'a' });
    for (const labels of [{ q: 'a' }, { q: 'new' }]) {
      expect(() => c.inc(labels, -1)).toThrow(
        'Counter "jobs_total": increment must be a non-negative number, got -1 (counters cannot decrease)',
      );
      expect(() => c.inc(labels, Number.NaN)).toThrow(
        'Counter "jobs_total": increment must be a non-negative number, got NaN',
      );
      expect(() => c.inc(labels, '1' as unknown as number)).toThrow(
        'Counter "jobs_total": increment must be a non-negative number, got "1"',
      );
      expect(() => c.inc({ ...labels, extra: 'x' } as { q: string })).toThrow(
        'Counter "jobs_total": label "extra" is not one of [q]',
      );
    }
    expect(() => c.inc(null as unknown as { q: string })).toThrow(
      'Counter "jobs_total": labels must be an object, got null',
    );
    expect(() => c.inc(-2)).toThrow('Counter "jobs_total": increment must be a non-negative number, got -2');
    expect(await valuesOf(c)).toEqual([{ value: 1, labels: { q: 'a' } }]);
  });

  it('with exemplars: the object form still goes through the exemplar path', async () => {
    const reg = new Registry(OPENMETRICS_CONTENT_TYPE);
    const c = new Counter({
      name: 'ex_total',
      help: 'h',
      labelNames: ['q'],
      enableExemplars: true,
      registers: [reg],
    });
    c.inc({ labels: { q: 'a' }, value: 2, exemplarLabels: { trace_id: 't1' } });
    c.inc({ labels: { q: 'a' } });
    const [v] = (await c.get()).values;
    expect({ value: v.value, labels: v.labels, exemplar: v.exemplar?.labelSet }).toEqual({
      value: 3,
      labels: { q: 'a' },
      exemplar: { trace_id: 't1' },
    });
  });
});

describe('Histogram.observe fast and slow paths', () => {
  it('unlabelled observe after remove() takes the slow path and re-creates the series', async () => {
    const h = new Histogram({ name: 'lat_seconds', help: 'h', buckets: [1, 5], registers: [new Registry()] });
    h.observe(0.5);
    h.remove();
    h.observe(3);
    h.observe(7);
    expect(await valuesOf(h)).toEqual([
      { value: 0, labels: { le: 1 }, metricName: 'lat_seconds_bucket', exemplar: null },
      { value: 1, labels: { le: 5 }, metricName: 'lat_seconds_bucket', exemplar: null },
      { value: 2, labels: { le: '+Inf' }, metricName: 'lat_seconds_bucket', exemplar: null },
      { value: 10, labels: {}, metricName: 'lat_seconds_sum' },
      { value: 2, labels: {}, metricName: 'lat_seconds_count' },
    ]);
    expect(() => h.observe(-1)).toThrow('Histogram "lat_seconds": observed value -1 is negative');
  });
});

describe('startTimer reads process.hrtime at the start and at the end (fake clocks apply, as in prom-client)', () => {
  it('histogram, unlabelled and labelled: the exact elapsed seconds, observed and returned', async () => {
    const h = new Histogram({ name: 't_seconds', help: 'h', buckets: [1, 5], registers: [new Registry()] });
    const hl = new Histogram({ name: 'tl_seconds', help: 'h', labelNames: ['r'], buckets: [1], registers: [] });
    fakeHrtime([
      [10, 500],
      [12, 250_000_500],
      [100, 999_999_999],
      [101, 499_999_999],
    ]);
    const end = h.startTimer();
    expect(end()).toBe(2.25);
    const endL = hl.startTimer({ r: 'a' });
    expect(endL({ r: 'b' })).toBe(0.5);
    process.hrtime = realHrtime;
    const sum = (await h.get()).values.find((v) => v.metricName === 't_seconds_sum');
    expect(sum?.value).toBe(2.25);
    expect((await hl.get()).values.filter((v) => v.metricName === 'tl_seconds_sum')).toEqual([
      { value: 0.5, labels: { r: 'b' }, metricName: 'tl_seconds_sum' },
    ]);
  });

  it('gauge and summary timers, against prom-client under the same fake clock', async () => {
    const g = new Gauge({ name: 'g_seconds', help: 'h', registers: [new Registry()] });
    const s = new Summary({ name: 's_seconds', help: 'h', percentiles: [0.5], registers: [new Registry()] });
    const pg = new prom.Gauge({ name: 'g_seconds', help: 'h', registers: [] });
    const ps = new prom.Summary({ name: 's_seconds', help: 'h', percentiles: [0.5], registers: [] });
    const readings: [number, number][] = [
      [5, 0],
      [5, 125_000_000],
    ];
    const got: number[] = [];
    for (const m of [g, pg, s, ps] as { startTimer(): () => number }[]) {
      fakeHrtime(readings);
      got.push(m.startTimer()());
    }
    process.hrtime = realHrtime;
    expect(got).toEqual([0.125, 0.125, 0.125, 0.125]);
    expect(await valuesOf(g)).toEqual((await pg.get()).values);
    expect((await s.get()).values.map((v) => v.value)).toEqual((await ps.get()).values.map((v) => v.value));
  });
});
