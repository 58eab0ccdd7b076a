import { describe, expect, it } from 'vitest';
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
