import { describe, expect, it } from 'vitest';
import * as prom from 'prom-client';
import { Counter, Gauge, InvalidMetricError, Registry } from '../index';

// Issue 17: registering a metric compared it with every metric of its registry (the clash and
// merge checks in native/src/store.rs `registry_add`), so 100k metrics in one registry took
// minutes. The registry now keeps indexes: registration costs the same whatever its size.
describe('registry scale', () => {
  it('creates 100k counters in one registry quickly, and exposes them all', async () => {
    const N = 100_000;
    const r = new Registry();
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < N; i++) new Counter({ name: `scale_${i}_total`, help: 'h', registers: [r] });
    const cpu = process.cpuUsage(cpu0);
    // CPU time of this process, not wall time: the other test files running at once on a 2-core
    // machine stretch the wall clock several times. ~2 s here alone; minutes before the index.
    expect((cpu.user + cpu.system) / 1000).toBeLessThan(10_000);
    // Clash checks still apply at that size, against the first and the last metric.
    expect(() => new Gauge({ name: 'scale_0', help: 'h', registers: [r] })).toThrow(InvalidMetricError);
    expect(() => new Gauge({ name: `scale_${N - 1}_created`, help: 'h', registers: [r] })).toThrow(
      /both would expose "scale_99999_created"/,
    );
    const text = await r.metrics();
    const samples = text.split('\n').filter((l) => l.startsWith('scale_'));
    expect(samples).toHaveLength(N);
    expect(new Set(samples).size).toBe(N);
    expect(samples[0]).toBe('scale_0_total 0');
    expect(samples[N - 1]).toBe(`scale_${N - 1}_total 0`);
    // Removing and re-registering keeps the index right.
    r.removeSingleMetric('scale_5_total');
    new Gauge({ name: 'scale_5', help: 'h', registers: [r] });
    expect(await r.getSingleMetricAsString('scale_5')).toBe('# HELP scale_5 h\n# TYPE scale_5 gauge\nscale_5 0');
    r.clear();
    expect(await r.metrics()).toBe('\n');
  }, 60_000);
});

// Issue 17's creation path shares what metrics used to make one each: the first address table is
// a view on a shared buffer (1024 slots), unlabelled metrics share one tree and one label list,
// and a metric compiles its label lookup when its first labelled series is created. None of it
// may let one metric's series reach another's.
describe('metric creation shares no series state', () => {
  it('2,000 metrics across several shared address buffers each keep their own values', async () => {
    const r = new Registry();
    const N = 2000;
    const metrics = Array.from({ length: N }, (_, i) =>
      i % 2 === 0
        ? new Counter({ name: `own_${i}_total`, help: 'h', registers: [r] })
        : new Counter({ name: `own_${i}_total`, help: 'h', labelNames: ['k'], registers: [r] }),
    );
    metrics.forEach((m, i) => {
      if (i % 2 === 0) m.inc(i);
      else {
        m.inc({ k: 'a' }, i);
        m.inc({ k: 'b' }, 2 * i);
      }
    });
    const lines = (await r.metrics()).split('\n').filter((l) => l.startsWith('own_'));
    const want = metrics.flatMap((_, i) =>
      i % 2 === 0 ? [`own_${i}_total ${i}`] : [`own_${i}_total{k="a"} ${i}`, `own_${i}_total{k="b"} ${2 * i}`],
    );
    expect(lines).toEqual(want);
  });

  it('a metric whose series outgrow its first address table keeps every value', async () => {
    const r = new Registry();
    const before = new Counter({ name: 'before_total', help: 'h', labelNames: ['k'], registers: [r] });
    const c = new Counter({ name: 'grows_total', help: 'h', labelNames: ['k'], registers: [r] });
    const after = new Counter({ name: 'after_total', help: 'h', labelNames: ['k'], registers: [r] });
    before.inc({ k: 'x' }, 7);
    after.inc({ k: 'x' }, 9);
    for (let i = 0; i < 40; i++) c.inc({ k: `s${i}` }, i + 1);
    const values = (await c.get()).values.map((v) => [v.labels.k, v.value]);
    expect(values).toEqual(Array.from({ length: 40 }, (_, i) => [`s${i}`, i + 1]));
    expect((await before.get()).values.map((v) => v.value)).toEqual([7]);
    expect((await after.get()).values.map((v) => v.value)).toEqual([9]);
  });

  it('metrics with the same label names, declared and called in other orders, keep separate series as prom-client does', async () => {
    // The same calls on either library (prom-client's classes have the same shape).
    type Lib = { Counter: typeof Counter; Registry: typeof Registry };
    const ops = (lib: Lib) => {
      const r = new lib.Registry();
      const a = new lib.Counter({ name: 'a_total', help: 'h', labelNames: ['method', 'status'], registers: [r] });
      const b = new lib.Counter({ name: 'b_total', help: 'h', labelNames: ['method', 'status'], registers: [r] });
      const c = new lib.Counter({ name: 'c_total', help: 'h', labelNames: ['status', 'method'], registers: [r] });
      a.inc({ method: 'GET', status: '200' });
      b.inc({ status: '500', method: 'PUT' }, 2);
      c.inc({ method: 'GET', status: '200' }, 3);
      a.inc({ status: '200', method: 'GET' }, 4);
      b.labels('PUT', '500').inc(5);
      c.inc({ method: 'POST', status: '404' }, 6);
      return r.metrics();
    };
    const text = await ops({ Counter, Registry });
    expect(text).toBe(await ops(prom as unknown as Lib));
    expect(text.split('\n').filter((l) => !l.startsWith('#'))).toEqual([
      'a_total{method="GET",status="200"} 5',
      '',
      'b_total{status="500",method="PUT"} 7',
      '',
      'c_total{method="GET",status="200"} 3',
      'c_total{method="POST",status="404"} 6',
      '',
    ]);
  });

  it('unlabelled metrics share one frozen empty label list and refuse labels alike', () => {
    const r = new Registry();
    const a = new Counter({ name: 'u1_total', help: 'h', registers: [r] });
    const b = new Gauge({ name: 'u2', help: 'h', registers: [r] });
    expect(a.labelNames).toEqual([]);
    expect(Object.isFrozen(a.labelNames) && Object.isFrozen(b.labelNames)).toBe(true);
    expect(() => a.inc({ k: 'v' } as never)).toThrow('Counter "u1_total": label "k" is not one of []');
    expect(() => b.set({ k: 'v' } as never, 1)).toThrow('Gauge "u2": label "k" is not one of []');
  });
});
