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

describe("a labelled counter's own inc (compiled at its first labelled series)", () => {
  it('is installed on the instance, refuses extra keys and bad values on every call once optimised, and counts exactly', async () => {
    const reg = new Registry();
    const c = new Counter<'method' | 'status'>({
      name: 'own_total',
      help: 'h',
      labelNames: ['method', 'status'],
      registers: [reg],
    });
    expect(Object.hasOwn(c, 'inc')).toBe(false);
    c.inc({ method: 'GET', status: '200' });
    expect(Object.hasOwn(c, 'inc')).toBe(true);
    const M = ['GET', 'POST'];
    const S = ['200', '500'];
    let refused = 0;
    // Enough calls for V8 to optimise the compiled method with its walk inline; every 1000th call
    // has an extra key, every 1500th a negative value: each must throw, from hot code as from cold.
    for (let i = 0; i < 30000; i++) {
      const labels = { method: M[i & 1], status: S[(i >> 1) & 1] };
      if (i % 1000 === 999) {
        expect(() => c.inc({ ...labels, extra: 'x' } as typeof labels)).toThrow(
          'Counter "own_total": label "extra" is not one of [method, status]',
        );
        refused++;
      } else if (i % 1500 === 1499) {
        expect(() => c.inc(labels, -1)).toThrow('Counter "own_total": increment must be a non-negative number, got -1');
        refused++;
      } else c.inc(labels, 1);
    }
    expect(refused).toBe(40);
    // The exact count of each series, from the same schedule (plus the first call, GET/200).
    const byKey = new Map<string, number>();
    for (let i = 0; i < 30000; i++) {
      if (i % 1000 === 999 || i % 1500 === 1499) continue;
      const k = `${M[i & 1]}/${S[(i >> 1) & 1]}`;
      byKey.set(k, (byKey.get(k) ?? 0) + 1);
    }
    byKey.set('GET/200', (byKey.get('GET/200') ?? 0) + 1);
    const got = (await c.get()).values.map((v) => [`${v.labels.method}/${v.labels.status}`, v.value]);
    expect(Object.fromEntries(got)).toEqual(Object.fromEntries(byKey));
    expect([...byKey.values()].reduce((a, b) => a + b, 0)).toBe(30000 - 40 + 1);
    // The unlabelled and partial forms still reach the prototype's method through the own one.
    c.inc({ method: 'PUT' }, 2);
    expect((await c.get()).values.find((v) => v.labels.method === 'PUT')).toEqual({
      value: 2,
      labels: { method: 'PUT' },
    });
  });

  it('a spy set on the instance before the first series keeps seeing every call', async () => {
    const c = new Counter({ name: 'spied_total', help: 'h', labelNames: ['q'], registers: [new Registry()] });
    const seen: unknown[] = [];
    const original = c.inc.bind(c);
    // What vi.spyOn / jest.spyOn do: an own property wrapping the method.
    c.inc = ((labels?: unknown, value?: unknown) => {
      seen.push(labels);
      original(labels as { q: string }, value as number);
    }) as typeof c.inc;
    c.inc({ q: 'a' });
    c.inc({ q: 'a' }, 2);
    c.inc({ q: 'b' });
    expect(seen).toEqual([{ q: 'a' }, { q: 'a' }, { q: 'b' }]);
    expect((await c.get()).values).toEqual([
      { value: 3, labels: { q: 'a' } },
      { value: 1, labels: { q: 'b' } },
    ]);
  });

  it("a subclass's inc override is not bypassed; a subclass without one gets the own inc", async () => {
    const calls: string[] = [];
    class Audited extends Counter<'q'> {
      override inc(labels?: unknown, value?: number): void {
        calls.push(JSON.stringify(labels));
        super.inc(labels as { q: string }, value);
      }
    }
    class Plain extends Counter<'q'> {}
    const a = new Audited({ name: 'audited_total', help: 'h', labelNames: ['q'], registers: [new Registry()] });
    const p = new Plain({ name: 'plain_total', help: 'h', labelNames: ['q'], registers: [new Registry()] });
    for (const m of [a, p]) {
      m.inc({ q: 'x' });
      m.inc({ q: 'x' }, 4);
    }
    expect(calls).toEqual(['{"q":"x"}', '{"q":"x"}']);
    expect(Object.hasOwn(a, 'inc')).toBe(false);
    expect(Object.hasOwn(p, 'inc')).toBe(true);
    expect((await a.get()).values).toEqual([{ value: 5, labels: { q: 'x' } }]);
    expect((await p.get()).values).toEqual([{ value: 5, labels: { q: 'x' } }]);
  });
});

describe("a labelled classic histogram's own observe", () => {
  it('counts exactly what prom-client counts over 20k optimised calls, refusing extra keys and bad values on every call', async () => {
    const reg = new Registry();
    const preg = new prom.Registry();
    const config = {
      name: 'req_seconds',
      help: 'h',
      labelNames: ['method', 'status'] as ('method' | 'status')[],
      buckets: [0.1, 0.5, 1],
    };
    const h = new Histogram<'method' | 'status'>({ ...config, registers: [reg] });
    const p = new prom.Histogram<'method' | 'status'>({ ...config, registers: [preg] });
    const M = ['GET', 'POST'];
    const S = ['200', '500'];
    let refused = 0;
    for (let i = 0; i < 20000; i++) {
      const labels = { method: M[i & 1], status: S[(i >> 1) & 1] };
      const v = ((i * 7919) % 1500) / 1000;
      if (i % 997 === 996) {
        for (const m of [h, p]) expect(() => m.observe({ ...labels, extra: 'x' } as typeof labels, v)).toThrow();
        expect(() => h.observe({ ...labels, extra: 'x' } as typeof labels, v)).toThrow(
          'Histogram "req_seconds": label "extra" is not one of [method, status]',
        );
        refused++;
      } else if (i % 1499 === 1498) {
        expect(() => h.observe(labels, Number.NaN)).toThrow('Histogram "req_seconds": observed value must be a number');
        refused++;
      } else {
        h.observe(labels, v);
        p.observe(labels, v);
      }
      if (i === 0) expect(Object.hasOwn(h, 'observe')).toBe(true);
    }
    expect(refused).toBe(33);
    expect(await reg.metrics()).toBe(await preg.metrics());
    // The unlabelled form reaches the prototype's observe through the own one.
    h.observe(0.2);
    expect(
      (await h.get()).values.filter((v) => v.metricName === 'req_seconds_count' && v.labels.method === undefined),
    ).toEqual([{ value: 1, labels: {}, metricName: 'req_seconds_count' }]);
  });

  it('is not installed with exemplars, native buckets, a subclass override or a spy on the instance', async () => {
    const reg = new Registry(OPENMETRICS_CONTENT_TYPE);
    const make = (name: string, extra: object) =>
      new Histogram({ name, help: 'h', labelNames: ['q'], registers: [reg], ...extra });
    const ex = make('ex_seconds', { enableExemplars: true });
    const nat = make('nat_seconds', { nativeHistogramBucketFactor: 1.1 });
    const seen: unknown[] = [];
    class Audited extends Histogram<'q'> {
      override observe(labels: never, value?: number): void {
        seen.push(labels);
        super.observe(labels, value);
      }
    }
    const sub = new Audited({ name: 'sub_seconds', help: 'h', labelNames: ['q'], registers: [reg] });
    const spied = make('spied_seconds', {});
    const original = spied.observe.bind(spied);
    spied.observe = ((labels: never, value?: number) => {
      seen.push(labels);
      original(labels, value);
    }) as typeof spied.observe;
    ex.observe({ labels: { q: 'a' }, value: 0.3, exemplarLabels: { trace_id: 't' } });
    for (const m of [ex, nat, sub, spied] as Histogram<'q'>[]) {
      m.observe({ q: 'a' }, 0.3);
      m.observe({ q: 'a' }, 0.3);
    }
    expect([ex, nat, sub].map((m) => Object.hasOwn(m, 'observe'))).toEqual([false, false, false]);
    expect(seen).toEqual([{ q: 'a' }, { q: 'a' }, { q: 'a' }, { q: 'a' }]);
    const counts = await Promise.all(
      [ex, nat, sub, spied].map(
        async (m) => (await m.get()).values.find((v) => v.metricName?.endsWith('_count'))?.value,
      ),
    );
    expect(counts).toEqual([3, 2, 2, 2]);
  });
});

describe("a labelled gauge's own set, inc and dec", () => {
  it('match prom-client over 20k optimised calls, refusing extra keys and bad values on every call', async () => {
    const reg = new Registry();
    const preg = new prom.Registry();
    const labelNames = ['pool', 'state'] as ('pool' | 'state')[];
    const g = new Gauge({ name: 'conns', help: 'h', labelNames, registers: [reg] });
    const p = new prom.Gauge({ name: 'conns', help: 'h', labelNames, registers: [preg] });
    const P = ['a', 'b'];
    const S = ['idle', 'busy'];
    g.set({ pool: 'a', state: 'idle' }, 0);
    expect(['set', 'inc', 'dec'].map((m) => Object.hasOwn(g, m))).toEqual([true, true, true]);
    p.set({ pool: 'a', state: 'idle' }, 0);
    let refused = 0;
    for (let i = 0; i < 20000; i++) {
      const labels = { pool: P[i & 1], state: S[(i >> 1) & 1] };
      if (i % 997 === 996) {
        expect(() => g.inc({ ...labels, extra: 'x' } as typeof labels)).toThrow(
          'Gauge "conns": label "extra" is not one of [pool, state]',
        );
        expect(() => g.set(labels, Number.NaN + ('' as unknown as number))).toThrow(
          'Gauge "conns": set needs a number',
        );
        expect(() => g.dec(labels, Number.NaN)).toThrow('Gauge "conns": dec needs a number (not NaN), got NaN');
        refused += 3;
        continue;
      }
      for (const m of [g, p] as Gauge<'pool' | 'state'>[]) {
        if (i % 5 === 0) m.set(labels, i % 7);
        else if (i % 3 === 0) m.dec(labels, 0.5);
        else m.inc(labels);
      }
    }
    expect(refused).toBe(60);
    expect(await reg.metrics()).toBe(await preg.metrics());
  });

  it('a spy or a subclass override is kept; a series created on the way out reads its labels once more only', async () => {
    const seen: string[] = [];
    class Audited extends Gauge<'q'> {
      override set(labels: Parameters<Gauge<'q'>['set']>[0], value?: number): void {
        seen.push('sub');
        super.set(labels as { q: string }, value as number);
      }
    }
    const reg = new Registry();
    const sub = new Audited({ name: 'sub_level', help: 'h', labelNames: ['q'], registers: [reg] });
    const spied = new Gauge({ name: 'spied_level', help: 'h', labelNames: ['q'], registers: [reg] });
    const original = spied.inc.bind(spied);
    spied.inc = ((labels: never, value?: number) => {
      seen.push('spy');
      original(labels, value);
    }) as typeof spied.inc;
    sub.set({ q: 'x' }, 2);
    sub.set({ q: 'x' }, 3);
    spied.inc({ q: 'x' });
    spied.inc({ q: 'x' }, 4);
    expect(seen).toEqual(['sub', 'sub', 'spy', 'spy']);
    expect([Object.hasOwn(sub, 'set'), Object.hasOwn(sub, 'inc'), Object.hasOwn(spied, 'set')]).toEqual([
      false,
      true,
      true,
    ]);
    // A getter counts the reads of a label: the own set's walk, then the creation's read.
    let reads = 0;
    const g = new Gauge({ name: 'reads_level', help: 'h', labelNames: ['q'], registers: [reg] });
    g.set({ q: 'first' }, 1);
    g.set(
      {
        get q() {
          reads++;
          return 'second';
        },
      },
      2,
    );
    expect(reads).toBe(2);
    expect(await reg.metrics()).toContain('reads_level{q="first"} 1\nreads_level{q="second"} 2\n');
    expect(await reg.metrics()).toContain('sub_level{q="x"} 3\n');
    expect(await reg.metrics()).toContain('spied_level{q="x"} 5\n');
  });
});

describe('label tree: levels growing and shrinking, reset, the forms of a value', () => {
  /** `{ "a=…,b=…": value }` of a counter, for exact comparisons independent of order. */
  async function byLabels(c: {
    get(): Promise<{ values: { labels: object; value: number }[] }>;
  }): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const v of (await c.get()).values) {
      out[
        Object.entries(v.labels)
          .map(([k, x]) => `${k}=${x}`)
          .join(',')
      ] = v.value;
    }
    return out;
  }

  it('a level growing past 8 entries, shrinking back under removals, and reset(): every inc lands on its series', async () => {
    const c = new Counter({ name: 'tree_total', help: 'h', labelNames: ['a', 'b'], registers: [new Registry()] });
    const want: Record<string, number> = {};
    const A = Array.from({ length: 12 }, (_, i) => `a${i}`);
    const B = Array.from({ length: 11 }, (_, i) => `b${i}`);
    // Root level: 12 values; under a0 11 values, under the others 2.
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < A.length; i++) {
        const bs = i === 0 ? B : B.slice(0, 2);
        for (let j = 0; j < bs.length; j++) {
          const v = i + j + 1;
          c.inc({ a: A[i], b: bs[j] }, v);
          const k = `a=${A[i]},b=${bs[j]}`;
          want[k] = (want[k] ?? 0) + v;
        }
      }
    }
    expect(await byLabels(c)).toEqual(want);
    // Removing 5 root values takes the root back to 7 entries.
    for (let i = 7; i < 12; i++) {
      for (const b of B.slice(0, 2)) {
        c.remove({ a: A[i], b });
        delete want[`a=${A[i]},b=${b}`];
      }
    }
    for (const b of B.slice(2)) {
      c.remove({ a: 'a0', b });
      delete want[`a=a0,b=${b}`];
    }
    for (let i = 0; i < 12; i++) {
      c.inc({ a: A[i], b: 'b1' });
      const k = `a=${A[i]},b=b1`;
      want[k] = (want[k] ?? 0) + 1;
    }
    expect(await byLabels(c)).toEqual(want);
    // Removals inside small levels: a leaf level of 2, then a root entry.
    c.remove({ a: 'a1', b: 'b0' });
    delete want['a=a1,b=b0'];
    c.inc({ a: 'a1', b: 'b0' }, 7);
    c.inc({ a: 'a1', b: 'b1' }, 0.5);
    want['a=a1,b=b0'] = 7;
    want['a=a1,b=b1'] += 0.5;
    expect(await byLabels(c)).toEqual(want);
    const small = new Counter({ name: 'small_total', help: 'h', labelNames: ['a'], registers: [new Registry()] });
    small.inc({ a: 'x' }, 1);
    small.inc({ a: 'y' }, 2);
    small.inc({ a: 'z' }, 3);
    small.remove({ a: 'y' });
    small.inc({ a: 'z' });
    small.inc({ a: 'y' }, 10);
    expect(await byLabels(small)).toEqual({ 'a=x': 1, 'a=y': 10, 'a=z': 4 });
    c.reset();
    expect(await byLabels(c)).toEqual({});
    c.inc({ a: 'a3', b: 'b0' }, 2);
    c.inc({ a: 'a3', b: 'b0' });
    expect(await byLabels(c)).toEqual({ 'a=a3,b=b0': 3 });
  });

  it('numbers, NaN, booleans and left-out labels reach the series of their string form, as in prom-client', async () => {
    const reg = new Registry();
    const preg = new prom.Registry();
    const c = new Counter({ name: 'odd_total', help: 'h', labelNames: ['a', 'b'], registers: [reg] });
    const p = new prom.Counter({ name: 'odd_total', help: 'h', labelNames: ['a', 'b'], registers: [preg] });
    for (const m of [c, p] as { inc(l: Record<string, unknown>, v?: number): void }[]) {
      for (let i = 0; i < 3; i++) {
        m.inc({ a: 1, b: 'x' });
        m.inc({ a: '1', b: 'x' });
        m.inc({ a: Number.NaN, b: 'x' });
        m.inc({ a: 'NaN', b: 'x' }, 2);
        m.inc({ a: true, b: 'x' });
        m.inc({ a: 'true' }, 0.5);
        m.inc({ b: 'y' });
      }
    }
    expect(await byLabels(c)).toEqual({
      'a=1,b=x': 6,
      'a=NaN,b=x': 9,
      'a=true,b=x': 3,
      'a=true': 1.5,
      'b=y': 3,
    });
    expect(await reg.metrics()).toBe(await preg.metrics());
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
