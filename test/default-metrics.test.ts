import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getActiveResourcesInfo } from 'node:process';
import { Worker } from 'node:worker_threads';
import { describe, it, expect } from 'vitest';
import * as promClient from 'prom-client';
import { collectDefaultMetrics, Registry, register as globalRegister } from '../index';

// prom-client itself is the reference: every expectation below is derived from
// what prom-client 15 produces for the same options, so the tests prove parity
// rather than restate a list of names that could drift.

/** `# HELP` and `# TYPE` of every family in a text exposition, keyed by name. */
function families(text: string): Map<string, { help: string; type: string }> {
  const result = new Map<string, { help: string; type: string }>();
  for (const line of text.split('\n')) {
    const match = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (!match) continue;
    const [, kind, name, rest] = match as unknown as [string, 'HELP' | 'TYPE', string, string];
    const family = result.get(name) ?? { help: '', type: '' };
    if (kind === 'HELP') family.help = rest;
    else family.type = rest;
    result.set(name, family);
  }
  return result;
}

/** Sample lines (no comments, no blank lines). */
function samples(text: string): string[] {
  return text.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
}

/** `name{label names, sorted}` of every sample, e.g. `nodejs_gc_duration_seconds_sum{kind}`. */
function labelSignatures(text: string): Set<string> {
  const result = new Set<string>();
  for (const line of samples(text)) {
    const match = /^([^{\s]+)(?:\{(.*)\})?\s/.exec(line);
    if (!match) continue;
    const names = [...(match[2] ?? '').matchAll(/(\w+)="/g)].map((m) => m[1]).sort();
    result.add(`${match[1]}{${names.join(',')}}`);
  }
  return result;
}

/** The value of the sample of `series` (a name, or a name and its labels). */
function sampleOf(text: string, series: string): number | undefined {
  const line = samples(text).find((l) => l.startsWith(`${series} `) || l.startsWith(`${series}{`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** prom-client's exposition for the same options, in a registry of its own. */
async function promClientMetrics(
  config: { prefix?: string; labels?: Record<string, string | number> } = {},
): Promise<string> {
  const reference = new promClient.Registry();
  promClient.collectDefaultMetrics({ ...config, register: reference });
  return reference.metrics();
}

/** Allocates enough short-lived objects to force at least one scavenge. */
function makeGarbage(): void {
  let keep: object[] = [];
  for (let i = 0; i < 2e6; i++) {
    keep.push({ i });
    if (keep.length > 1e5) keep = [];
  }
}

/** Scrapes until `predicate` holds (gc entries reach observers asynchronously). */
async function scrapeUntil(registry: Registry, predicate: (text: string) => boolean): Promise<string> {
  const deadline = Date.now() + 5000;
  for (;;) {
    makeGarbage();
    await new Promise((resolve) => setTimeout(resolve, 10));
    const text = await registry.metrics();
    if (predicate(text) || Date.now() > deadline) return text;
  }
}

describe('collectDefaultMetrics', () => {
  it('registers every metric prom-client registers, with the same help and type', async () => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });

    const ours = families(await registry.metrics());
    const reference = families(await promClientMetrics());

    expect(reference.size).toBeGreaterThan(20);
    expect([...ours.keys()].sort()).toEqual([...reference.keys()].sort());
    expect(Object.fromEntries(ours)).toEqual(Object.fromEntries(reference));
  });

  it('has the same metricsList as prom-client', () => {
    expect(collectDefaultMetrics.metricsList).toEqual(promClient.collectDefaultMetrics.metricsList);
  });

  it('prepends the prefix to every metric name', async () => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry, prefix: 'my_app_' });

    const names = [...families(await registry.metrics()).keys()].sort();
    const reference = [...families(await promClientMetrics()).keys()].map((name) => `my_app_${name}`).sort();

    expect(names).toEqual(reference);
  });

  it('adds the labels option to every sample, beside the label names prom-client uses', async () => {
    const labels = { app: 'api', shard: 3 };
    const registry = new Registry();
    collectDefaultMetrics({ register: registry, labels });
    await registry.metrics(); // the first collect queues the event loop lag measurement
    const text = await scrapeUntil(registry, (t) => t.includes('nodejs_gc_duration_seconds_count{'));

    expect(samples(text).length).toBeGreaterThan(20);
    for (const line of samples(text)) {
      expect(line).toContain('app="api"');
      expect(line).toContain('shard="3"');
    }

    // Which handle/request/gc types exist differs between two runs; the label names must not.
    const ours = labelSignatures(text);
    const reference = labelSignatures(await promClientMetrics({ labels }));
    const metricOf = (signature: string): string => signature.slice(0, signature.indexOf('{'));
    const inBoth = new Set([...ours].map(metricOf).filter((m) => [...reference].some((r) => metricOf(r) === m)));
    expect(inBoth.size).toBeGreaterThan(15);
    const pick = (set: Set<string>): string[] => [...set].filter((s) => inBoth.has(metricOf(s))).sort();
    expect(pick(ours)).toEqual(pick(reference));
    expect(text).toMatch(
      new RegExp(
        `^nodejs_version_info\\{version="${process.version}",major="\\d+",minor="\\d+",patch="\\d+",app="api",shard="3"\\} 1$`,
        'm',
      ),
    );
  });

  it('throws like prom-client when registering twice into the same registry', () => {
    const reference = new promClient.Registry();
    promClient.collectDefaultMetrics({ register: reference });
    expect(() => promClient.collectDefaultMetrics({ register: reference })).toThrow(/process_cpu_user_seconds_total/);

    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    expect(() => collectDefaultMetrics({ register: registry })).toThrow(/process_cpu_user_seconds_total/);
  });

  it('allows the same metrics in two different registries', () => {
    collectDefaultMetrics({ register: new Registry() });
    expect(() => collectDefaultMetrics({ register: new Registry() })).not.toThrow();
  });

  it('registers into the global registry when no register is given', async () => {
    try {
      collectDefaultMetrics();
      expect(families(await globalRegister.metrics()).has('process_cpu_seconds_total')).toBe(true);
    } finally {
      globalRegister.clear();
    }
  });

  it('rejects a config that is not an object, as prom-client does', () => {
    expect(() => promClient.collectDefaultMetrics('yes' as never)).toThrow(TypeError);
    expect(() => collectDefaultMetrics('yes' as never)).toThrow(
      new TypeError('config must be null, undefined, or an object'),
    );
  });

  it('rejects an eventLoopMonitoringPrecision that monitorEventLoopDelay rejects, as prom-client does', () => {
    expect(() =>
      promClient.collectDefaultMetrics({ register: new promClient.Registry(), eventLoopMonitoringPrecision: 0 }),
    ).toThrow(RangeError);
    expect(() => collectDefaultMetrics({ register: new Registry(), eventLoopMonitoringPrecision: 0 })).toThrow(
      RangeError,
    );
  });

  it('uses the default gc buckets of prom-client', async () => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const text = await scrapeUntil(registry, (t) => t.includes('nodejs_gc_duration_seconds_bucket{'));

    const bucketLines = samples(text).filter((line) => line.startsWith('nodejs_gc_duration_seconds_bucket{'));
    const kind = /kind="(\w+)"/.exec(bucketLines[0] ?? '')?.[1];
    const les = bucketLines
      .filter((line) => line.includes(`kind="${kind}"`))
      .map((line) => /le="([^"]+)"/.exec(line)?.[1]);
    expect(les).toEqual(['0.001', '0.01', '0.1', '1', '2', '5', '+Inf']);
  });

  it('uses the gcDurationBuckets option for the gc histogram', async () => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry, gcDurationBuckets: [0.5, 1.5] });
    const text = await scrapeUntil(registry, (t) => t.includes('nodejs_gc_duration_seconds_bucket{'));

    const bucketLines = samples(text).filter((line) => line.startsWith('nodejs_gc_duration_seconds_bucket{'));
    expect(bucketLines.length).toBeGreaterThan(0);
    const les = new Set(bucketLines.map((line) => /le="([^"]+)"/.exec(line)?.[1]));
    expect([...les].sort()).toEqual(['+Inf', '0.5', '1.5']);
  });

  it('does not sum process-wide values across threads, and keeps prom-client aggregators elsewhere', async () => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const reference = new promClient.Registry();
    promClient.collectDefaultMetrics({ register: reference });

    const ours = new Map((await registry.getMetricsAsJSON()).map((m) => [m.name, m.aggregator]));
    const theirs = new Map((await reference.getMetricsAsJSON()).map((m) => [m.name, m.aggregator]));

    expect([...ours.keys()].sort()).toEqual([...theirs.keys()].sort());
    for (const [name, aggregator] of theirs) {
      if (name.startsWith('process_')) {
        // The same value in every thread of a process: any aggregator but a sum.
        expect(ours.get(name), name).not.toBe('sum');
      } else {
        expect(ours.get(name), name).toBe(aggregator);
      }
    }
  });

  it('removes the series of handle and resource types that went away', async () => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    // Nothing else in a test process holds a UDP socket.
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const withSocket = await registry.metrics();
    await new Promise<void>((resolve) => socket.close(resolve));
    // libuv releases the handle a little after the close callback.
    while (getActiveResourcesInfo().includes('UDPWrap')) await new Promise((resolve) => setTimeout(resolve, 5));
    const withoutSocket = await registry.metrics();

    expect(withSocket).toMatch(/^nodejs_active_resources\{type="UDPWrap"\} 1$/m);
    expect(withSocket).toMatch(/^nodejs_active_handles\{type="Socket"\} [1-9]/m);
    expect(withoutSocket).not.toContain('nodejs_active_resources{type="UDPWrap"}');
  });

  it('does not count process-wide values once per thread in the global registry shared by threads', async () => {
    const cpuBefore = process.cpuUsage();
    collectDefaultMetrics();
    const worker = new Worker(join(__dirname, 'fixtures', 'default-metrics-worker.js'));
    try {
      await once(worker, 'message');
      const text = await globalRegister.metrics();
      const cpu = process.cpuUsage(cpuBefore);

      expect(sampleOf(text, 'process_start_time_seconds')).toBeCloseTo(Date.now() / 1000 - process.uptime(), -1);
      expect(sampleOf(text, 'nodejs_version_info')).toBe(1);
      expect(sampleOf(text, 'process_resident_memory_bytes')).toBeLessThan(1.5 * process.memoryUsage().rss);
      const limits = readFileSync('/proc/self/limits', 'utf8');
      const maxFds = Number(/^Max open files +(\d+)/m.exec(limits)?.[1]);
      expect(sampleOf(text, 'process_max_fds')).toBe(maxFds);
      // The worker's collect saw 200 ms of CPU that the main thread's counter also counts.
      expect(sampleOf(text, 'process_cpu_seconds_total')).toBeLessThanOrEqual((cpu.user + cpu.system) / 1e6);
    } finally {
      worker.postMessage('exit');
      await once(worker, 'exit');
      globalRegister.clear();
    }
  });
});
