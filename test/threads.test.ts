import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

import { afterEach, describe, expect, it } from 'vitest';

import { Counter, Gauge, Histogram, Summary, register } from '../index';

// Cross-thread aggregation in one process. Workers run test/fixtures/*.js, which
// `require('promsd')` (dist/); this file uses the source. Both load the same native addon, so
// they share the process-wide series table and the global registry (native registry 0).
//
// Workers that must stay alive during a scrape report "done" and then block in Atomics.wait:
// no JavaScript runs on them while the main thread scrapes, so every value seen here was read
// from their shards by the core without their help.
//
// Families of exited workers stay in registry 0 for the life of the process (their counters
// keep counting), so every test uses metric names of its own.

const UPDATE_WORKER = join(__dirname, 'fixtures', 'update-worker.js');
const HAMMER_WORKER = join(__dirname, 'fixtures', 'hammer-worker.js');

// ---------------------------------------------------------------------------------------------
// Workers

type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary';

interface Step {
  metric: number;
  method: 'inc' | 'dec' | 'set' | 'observe';
  labels?: Record<string, string>;
  value?: number;
  times?: number;
  values?: Float64Array;
  child?: boolean;
}

interface UpdatePlan {
  metrics: { type: MetricType; config: Record<string, unknown> }[];
  steps: Step[];
}

interface Started {
  worker: Worker;
  /** Whether the worker thread has ended. */
  readonly gone: boolean;
  /** Resolves with the worker's first message; rejects if it fails or exits first. */
  firstMessage: Promise<{ type: string; [k: string]: unknown }>;
  /** Resolves with the exit code. */
  exited: Promise<number>;
  /** Lets a parked worker return. */
  release(): void;
}

const started = new Set<Started>();
/** Uncaught errors of workers, including those after their first message; fail the test. */
const failures: unknown[] = [];

function start(file: string, workerData: Record<string, unknown>): Started {
  const gate = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(file, { workerData: { ...workerData, gate: gate.buffer } });
  let gone = false;
  const exited = new Promise<number>((resolve) =>
    worker.once('exit', (code) => {
      gone = true;
      resolve(code);
    }),
  );
  const firstMessage = new Promise<{ type: string }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.on('error', (e) => {
      failures.push(e);
      reject(e);
    });
    void exited.then((code) => reject(new Error(`worker ${file} exited with code ${code} before reporting`)));
  });
  firstMessage.catch(() => {}); // reported where it is awaited

  const w: Started = {
    worker,
    get gone() {
      return gone;
    },
    firstMessage,
    exited,
    release() {
      Atomics.store(gate, 0, 1);
      Atomics.notify(gate, 0);
    },
  };
  started.add(w);
  return w;
}

/** Starts an update worker and waits until it has applied every step and parked. */
async function runUpdates(plan: UpdatePlan): Promise<Started> {
  const w = start(UPDATE_WORKER, plan as unknown as Record<string, unknown>);
  expect((await w.firstMessage).type).toBe('done');
  return w;
}

afterEach(async () => {
  const all = [...started];
  started.clear();
  for (const w of all) w.release();
  await Promise.all(all.map((w) => w.worker.terminate()));
  register.clear();
  const errors = failures.splice(0);
  if (errors.length > 0) throw new Error(`worker failed: ${errors.map(String).join('; ')}`);
});

// ---------------------------------------------------------------------------------------------
// Exposition parsing: strict enough to reject anything Prometheus' text parser would.

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Family {
  name: string;
  help: string;
  type: string;
  samples: Sample[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
const VALUE = '[+-]?(?:Inf|NaN|(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][+-]?\\d+)?)';
const SAMPLE_RE = new RegExp(`^(${NAME})(?:\\{((?:${LABEL})(?:,${LABEL})*,?)?\\})? (${VALUE})(?: -?\\d+)?$`);
const SUFFIXES: Record<string, string[]> = {
  counter: [''],
  gauge: [''],
  untyped: [''],
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count'],
};

function unescapeLabel(v: string): string {
  return v.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

/** Parses and validates a text 0.0.4 exposition; throws naming the offending line. */
function parseExposition(text: string): Map<string, Family> {
  expect(text.endsWith('\n'), 'exposition ends with a newline').toBe(true);
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  let current: Family | undefined;
  const lines = text.split('\n');
  lines.pop();
  for (const [n, line] of lines.entries()) {
    const where = `line ${n + 1}: ${JSON.stringify(line)}`;
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      expect(name, where).toMatch(new RegExp(`^${NAME}$`));
      let f = families.get(name);
      if (f === undefined) {
        f = { name, help: '', type: 'untyped', samples: [] };
        families.set(name, f);
      } else {
        expect(f, `${where}: family declared twice`).toBe(current);
        expect(f.samples, `${where}: metadata after samples`).toHaveLength(0);
      }
      if (kind === 'TYPE') {
        expect(Object.keys(SUFFIXES), where).toContain(rest);
        f.type = rest;
      } else {
        f.help = rest;
      }
      current = f;
      continue;
    }
    expect(line.startsWith('#'), `${where}: unexpected comment`).toBe(false);
    const m = SAMPLE_RE.exec(line);
    if (!m) throw new Error(`malformed sample, ${where}`);
    const [, name, rawLabels = '', rawValue] = m as unknown as [string, string, string | undefined, string];
    expect(current, `${where}: sample before any # TYPE`).toBeDefined();
    const f = current as Family;
    const suffix = name.startsWith(f.name) ? name.slice(f.name.length) : undefined;
    expect(SUFFIXES[f.type], `${where}: sample outside family ${f.name}`).toContain(suffix);
    const labels: Record<string, string> = {};
    for (const [, k, v] of rawLabels.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      expect(labels[k as string], `${where}: label ${k} repeated`).toBeUndefined();
      labels[k as string] = unescapeLabel(v as string);
    }
    const key = `${name}{${Object.keys(labels)
      .sort()
      .map((k) => `${k}=${JSON.stringify(labels[k])}`)
      .join(',')}}`;
    expect(seen.has(key), `${where}: duplicate series`).toBe(false);
    seen.add(key);
    const value = rawValue.replace(/Inf$/, 'Infinity');
    f.samples.push({ name, labels, value: Number(value) });
  }
  for (const f of families.values()) checkCumulative(f);
  return families;
}

/** Histogram buckets are cumulative and end with +Inf equal to _count. */
function checkCumulative(f: Family): void {
  if (f.type !== 'histogram') return;
  const series = new Map<string, Sample[]>();
  for (const s of f.samples) {
    const { le: _le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    series.set(key, [...(series.get(key) ?? []), s]);
  }
  for (const samples of series.values()) {
    const buckets = samples.filter((s) => s.name.endsWith('_bucket'));
    for (let i = 1; i < buckets.length; i++) expect(buckets[i].value).toBeGreaterThanOrEqual(buckets[i - 1].value);
    const last = buckets[buckets.length - 1];
    expect(last?.labels.le, `${f.name}: last bucket`).toBe('+Inf');
    expect(samples.find((s) => s.name.endsWith('_count'))?.value, `${f.name}: _count = +Inf bucket`).toBe(last?.value);
  }
}

/** The value of one sample, found by name and exact label set; undefined when absent. */
function sampleOf(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name !== name) continue;
      const keys = Object.keys(s.labels);
      if (keys.length === Object.keys(labels).length && keys.every((k) => s.labels[k] === labels[k])) return s.value;
    }
  }
  return undefined;
}

// Prometheus' own parser and linter, as a second opinion where Debian's prometheus package is
// installed (it is on the project's test machines; parseExposition above runs everywhere).
const PROMTOOL = spawnSync('promtool', ['--version']).status === 0;

/** Fails on parse errors (exit 1); naming-convention lint findings (exit 3) are not ours to judge. */
function promtoolCheck(text: string): void {
  if (!PROMTOOL) return;
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  expect([0, 3], `promtool check metrics: ${r.stdout}${r.stderr}`).toContain(r.status);
  expect(`${r.stdout}${r.stderr}`).not.toMatch(/error/i);
}

async function scrape(): Promise<Map<string, Family>> {
  return parseExposition(await register.metrics());
}

/** Expected cumulative bucket counts of `values` for `bounds` (+Inf last). */
function cumulativeBuckets(values: readonly number[], bounds: readonly number[]): number[] {
  return [...bounds, Infinity].map((b) => values.filter((v) => v <= b).length);
}

function floats(n: number, f: (i: number) => number): Float64Array {
  return Float64Array.from({ length: n }, (_, i) => f(i));
}

// ---------------------------------------------------------------------------------------------

describe('worker_threads share the global registry', () => {
  it('sums a labelled counter incremented by two parked workers and the main thread', async () => {
    const name = 'threads_counter_requests_total';
    const config = { name, help: 'Requests.', labelNames: ['route'] };
    const counter = new Counter(config);
    counter.inc({ route: '/a' }, 5);
    const metrics = [{ type: 'counter' as const, config }];
    const [w1, w2] = await Promise.all([
      runUpdates({
        metrics,
        steps: [
          { metric: 0, method: 'inc', labels: { route: '/a' }, times: 50_000 },
          { metric: 0, method: 'inc', labels: { route: '/b' }, times: 1_234 },
        ],
      }),
      runUpdates({
        metrics,
        steps: [
          { metric: 0, method: 'inc', labels: { route: '/a' }, times: 50_000, child: true },
          { metric: 0, method: 'inc', labels: { route: '/b' }, value: 2, times: 4_321, child: true },
        ],
      }),
    ]);
    counter.inc({ route: '/b' }, 3);

    const text = await register.metrics();
    const families = parseExposition(text);
    expect(text.match(new RegExp(`^# TYPE ${name} `, 'gm')), 'one family for three threads').toHaveLength(1);
    expect(families.get(name)?.samples).toHaveLength(2);
    expect(sampleOf(families, name, { route: '/a' })).toBe(5 + 50_000 + 50_000);
    expect(sampleOf(families, name, { route: '/b' })).toBe(1_234 + 2 * 4_321 + 3);
    // Both were still alive (parked) during the scrape: the core read their live shards.
    expect([w1.gone, w2.gone]).toEqual([false, false]);
  });

  it('sums histogram buckets, sum and count across parked workers and the main thread', async () => {
    const name = 'threads_histogram_latency_seconds';
    const buckets = [1, 5, 10, 50, 100];
    const config = { name, help: 'Latency.', labelNames: ['op'], buckets };
    const histogram = new Histogram(config);
    const mainRead = [0.5, 3, 1000, 100];
    for (const v of mainRead) histogram.observe({ op: 'read' }, v);
    // Multiples of 1/4 below 2^40: every partial sum is exact, whatever the order.
    const read1 = floats(50_000, (i) => (i % 120) + 0.5);
    const read2 = floats(30_000, (i) => ((i * 7) % 200) + 0.25);
    const write2 = floats(10, (i) => i * 20);
    const metrics = [{ type: 'histogram' as const, config }];
    await Promise.all([
      runUpdates({ metrics, steps: [{ metric: 0, method: 'observe', labels: { op: 'read' }, values: read1 }] }),
      runUpdates({
        metrics,
        steps: [
          { metric: 0, method: 'observe', labels: { op: 'read' }, values: read2, child: true },
          { metric: 0, method: 'observe', labels: { op: 'write' }, values: write2 },
        ],
      }),
    ]);

    const families = await scrape();
    const read = [...mainRead, ...read1, ...read2];
    const les = [...buckets.map(String), '+Inf'];
    for (const [op, values] of [
      ['read', read],
      ['write', [...write2]],
    ] as const) {
      const got = les.map((le) => sampleOf(families, `${name}_bucket`, { op, le }));
      expect(got, `${op} buckets`).toEqual(cumulativeBuckets(values, buckets));
      expect(sampleOf(families, `${name}_count`, { op }), `${op} count`).toBe(values.length);
      expect(sampleOf(families, `${name}_sum`, { op }), `${op} sum`).toBe(values.reduce((a, b) => a + b, 0));
    }
    expect(sampleOf(families, `${name}_count`, { op: 'read' })).toBe(80_004);
  });

  it('merges summary sketches: exact count and sum, median within 1% of the combined median', async () => {
    const name = 'threads_summary_size_bytes';
    const config = { name, help: 'Sizes.', percentiles: [0.5, 0.9] };
    const summary = new Summary(config);
    const mainValues = [7, 8, 9, 200_000, 300_000];
    for (const v of mainValues) summary.observe(v);
    // Disjoint ranges: averaging the threads' medians (what prom-client's cluster mode does)
    // would give ~40 000; the median of everything is 20 000.
    const low = floats(30_000, (i) => i + 1);
    const high = floats(10_000, (i) => 100_001 + i);
    const metrics = [{ type: 'summary' as const, config }];
    await Promise.all([
      runUpdates({ metrics, steps: [{ metric: 0, method: 'observe', values: low }] }),
      runUpdates({ metrics, steps: [{ metric: 0, method: 'observe', values: high }] }),
    ]);

    const families = await scrape();
    const all = [...mainValues, ...low, ...high].sort((a, b) => a - b);
    expect(sampleOf(families, `${name}_count`)).toBe(40_005);
    expect(sampleOf(families, `${name}_sum`)).toBe(all.reduce((a, b) => a + b, 0));
    const median = all[(all.length - 1) / 2];
    expect(median).toBe(20_000);
    const gotMedian = sampleOf(families, name, { quantile: '0.5' }) as number;
    expect(Math.abs(gotMedian - median) / median, `median ${gotMedian}`).toBeLessThanOrEqual(0.01);
    const p90 = all[Math.ceil(0.9 * (all.length - 1))];
    const gotP90 = sampleOf(families, name, { quantile: '0.9' }) as number;
    expect(Math.abs(gotP90 - p90) / p90, `p90 ${gotP90} vs ${p90}`).toBeLessThanOrEqual(0.01);
  });

  it('aggregates gauges per aggregator and drops an exited worker’s gauges but keeps its counts', async () => {
    const p = 'threads_gauge_';
    const gauge = (aggregator: string, labelNames: string[] = []) => ({
      type: 'gauge' as const,
      config: { name: `${p}${aggregator}`, help: `Aggregator ${aggregator}.`, aggregator, labelNames },
    });
    const metrics = [
      gauge('sum'),
      gauge('max'),
      gauge('min'),
      gauge('average', ['pool']),
      gauge('first'),
      {
        type: 'gauge' as const,
        config: { name: `${p}first_workers`, help: 'First, workers only.', aggregator: 'first' },
      },
      gauge('omit'),
      { type: 'counter' as const, config: { name: `${p}events_total`, help: 'Events.' } },
    ];
    const setAll = (v: number): Step[] => [
      ...[0, 1, 2, 4].map((metric) => ({ metric, method: 'set' as const, value: v })),
      { metric: 3, method: 'set', labels: { pool: 'x' }, value: v },
    ];
    // The main thread registers first (so 'first' is its value), except first_workers and omit.
    const main = metrics.slice(0, 5).map((m) => new Gauge(m.config as never));
    for (const g of main.slice(0, 3).concat(main[4])) g.set(7);
    main[3].set({ pool: 'x' }, 7);
    const events = new Counter(metrics[7].config as never);
    events.inc();

    // Sequential starts fix the registration order: main, w1, w2.
    const w1 = await runUpdates({
      metrics,
      steps: [
        ...setAll(50),
        { metric: 3, method: 'set', labels: { pool: 'y' }, value: 8 },
        { metric: 5, method: 'set', value: 50 },
        { metric: 6, method: 'set', value: 50 },
        { metric: 7, method: 'inc', times: 100 },
      ],
    });
    const w2 = await runUpdates({
      metrics,
      steps: [
        ...setAll(20),
        { metric: 0, method: 'inc', value: 10 }, // 30, so that no two threads agree
        { metric: 1, method: 'dec', value: -10 },
        { metric: 2, method: 'inc', value: 10 },
        { metric: 3, method: 'inc', labels: { pool: 'x' }, value: 10 },
        { metric: 4, method: 'inc', value: 10 },
        { metric: 5, method: 'set', value: 30 },
        { metric: 6, method: 'set', value: 30 },
        { metric: 7, method: 'inc', value: 10 },
      ],
    });

    let f = await scrape();
    expect(sampleOf(f, `${p}sum`)).toBe(7 + 50 + 30);
    expect(sampleOf(f, `${p}max`)).toBe(50);
    expect(sampleOf(f, `${p}min`)).toBe(7);
    expect(sampleOf(f, `${p}average`, { pool: 'x' })).toBe((7 + 50 + 30) / 3);
    expect(sampleOf(f, `${p}average`, { pool: 'y' }), 'average over the threads that have the series').toBe(8);
    expect(sampleOf(f, `${p}first`)).toBe(7);
    expect(sampleOf(f, `${p}first_workers`)).toBe(50);
    expect(sampleOf(f, `${p}omit`), 'omit: more than one thread has it').toBeUndefined();
    expect(sampleOf(f, `${p}events_total`)).toBe(111);

    // w1 returns on its own.
    w1.release();
    expect(await w1.exited).toBe(0);
    f = await scrape();
    expect(sampleOf(f, `${p}sum`)).toBe(7 + 30);
    expect(sampleOf(f, `${p}max`)).toBe(30);
    expect(sampleOf(f, `${p}min`)).toBe(7);
    expect(sampleOf(f, `${p}average`, { pool: 'x' })).toBe((7 + 30) / 2);
    expect(sampleOf(f, `${p}average`, { pool: 'y' }), 'only w1 had pool="y"').toBeUndefined();
    expect(sampleOf(f, `${p}first`)).toBe(7);
    expect(sampleOf(f, `${p}first_workers`)).toBe(30);
    expect(sampleOf(f, `${p}omit`), 'omit: one thread left').toBe(30);
    expect(sampleOf(f, `${p}events_total`), 'an exited worker still counts').toBe(111);

    // w2 is terminated while parked in Atomics.wait.
    await w2.worker.terminate();
    f = await scrape();
    for (const agg of ['sum', 'max', 'min', 'first']) expect(sampleOf(f, `${p}${agg}`), agg).toBe(7);
    expect(sampleOf(f, `${p}average`, { pool: 'x' })).toBe(7);
    expect(f.get(`${p}average`)?.samples).toHaveLength(1);
    expect(f.get(`${p}first_workers`)?.samples).toEqual([]);
    expect(sampleOf(f, `${p}omit`)).toBeUndefined();
    expect(sampleOf(f, `${p}events_total`), 'a terminated worker still counts').toBe(111);
    expect((await register.getSingleMetric(`${p}events_total`)?.get())?.values[0]?.value).toBe(111);
  });

  it('scrapes while workers hammer a counter: well-formed, monotonic, within the progress bounds', async () => {
    const prefix = 'threads_hammer';
    const name = `${prefix}_hits_total`;
    const BATCH = 1000;
    const THREADS = 3;
    const stop = new Int32Array(new SharedArrayBuffer(4));
    const progress = new Int32Array(new SharedArrayBuffer(4 * THREADS));
    const workers = Array.from({ length: THREADS }, (_, thread) =>
      start(HAMMER_WORKER, { prefix, thread, stop: stop.buffer, progress: progress.buffer }),
    );
    const stopped = workers.map(
      (w) =>
        new Promise<{ increments: number; seriesIncrements: number }>((resolve, reject) => {
          w.worker.on('message', (m: { type: string; increments: number; seriesIncrements: number }) => {
            if (m.type === 'stopped') resolve(m);
          });
          void w.exited.then(() => reject(new Error('hammer worker exited without reporting')));
        }),
    );
    for (const p of stopped) p.catch(() => {}); // reported where awaited
    try {
      for (const w of workers) expect((await w.firstMessage).type).toBe('started');
      const lowerBound = (): number => {
        let batches = 0;
        for (let t = 0; t < THREADS; t++) batches += Atomics.load(progress, t);
        return batches * BATCH;
      };
      while (lowerBound() < 50 * BATCH) {
        expect(
          workers.some((w) => w.gone),
          'a hammer worker died',
        ).toBe(false);
        await new Promise((r) => setTimeout(r, 5));
      }

      const first = lowerBound();
      let previous = 0;
      let scrapes = 0;
      const texts: string[] = [];
      const until = Date.now() + 600;
      while (Date.now() < until || scrapes < 20) {
        const before = lowerBound();
        const text = await register.metrics();
        const value = sampleOf(parseExposition(text), name, { op: 'hit' }) as number;
        expect(Number.isInteger(value), `scrape ${scrapes}: ${value}`).toBe(true);
        expect(value, `scrape ${scrapes} sees what was published before it`).toBeGreaterThanOrEqual(before);
        expect(value, `scrape ${scrapes} is monotonic`).toBeGreaterThanOrEqual(previous);
        previous = value;
        scrapes++;
        texts.push(text);
      }
      promtoolCheck(texts[0]);
      promtoolCheck(texts[texts.length - 1]);
      expect(lowerBound(), 'workers kept going during the scrapes').toBeGreaterThan(first);

      Atomics.store(stop, 0, 1);
      const totals = await Promise.all(stopped);
      await Promise.all(workers.map((w) => w.exited));
      const final = await scrape();
      const expected = totals.reduce((a, t) => a + t.increments, 0);
      expect(sampleOf(final, name, { op: 'hit' }), 'exact once the workers are gone').toBe(expected);
      expect(expected).toBeGreaterThanOrEqual(previous);
      const series = final.get(`${prefix}_series_total`)?.samples ?? [];
      expect(series.reduce((a, s) => a + s.value, 0)).toBe(totals.reduce((a, t) => a + t.seriesIncrements, 0));
    } finally {
      Atomics.store(stop, 0, 1);
    }
  });

  it('reflects merged values in getMetricsAsJSON() and metric.get() on the main thread', async () => {
    const counterConfig = { name: 'threads_json_jobs_total', help: 'Jobs.', labelNames: ['queue'] };
    const histogramConfig = { name: 'threads_json_wait_seconds', help: 'Wait.', buckets: [1, 10] };
    const counter = new Counter(counterConfig);
    const histogram = new Histogram(histogramConfig);
    counter.inc({ queue: 'q1' }, 2);
    histogram.observe(0.5);
    const metrics = [
      { type: 'counter' as const, config: counterConfig },
      { type: 'histogram' as const, config: histogramConfig },
    ];
    const plan = (n: number): UpdatePlan => ({
      metrics,
      steps: [
        { metric: 0, method: 'inc', labels: { queue: 'q1' }, times: n },
        { metric: 0, method: 'inc', labels: { queue: `only${n}` }, times: 1 },
        { metric: 1, method: 'observe', values: Float64Array.of(5, 50) },
      ],
    });
    await Promise.all([runUpdates(plan(1000)), runUpdates(plan(3000))]);

    const expectedCounter = [
      { labels: { queue: 'q1' }, value: 4002 },
      { labels: { queue: 'only1000' }, value: 1 },
      { labels: { queue: 'only3000' }, value: 1 },
    ];
    const byQueue = (a: { labels: Record<string, unknown> }, b: { labels: Record<string, unknown> }) =>
      String(a.labels.queue).localeCompare(String(b.labels.queue));
    const got = await counter.get();
    expect(got).toMatchObject({ name: counterConfig.name, type: 'counter', aggregator: 'sum' });
    expect(got.values.map(({ labels, value }) => ({ labels, value })).sort(byQueue)).toEqual(
      expectedCounter.sort(byQueue),
    );

    const expectedHistogram = [
      { metricName: `${histogramConfig.name}_bucket`, labels: { le: 1 }, value: 1 },
      { metricName: `${histogramConfig.name}_bucket`, labels: { le: 10 }, value: 3 },
      { metricName: `${histogramConfig.name}_bucket`, labels: { le: '+Inf' }, value: 5 },
      { metricName: `${histogramConfig.name}_sum`, labels: {}, value: 0.5 + 2 * 55 },
      { metricName: `${histogramConfig.name}_count`, labels: {}, value: 5 },
    ];
    const hist = await histogram.get();
    expect(hist.values.map(({ metricName, labels, value }) => ({ metricName, labels, value }))).toEqual(
      expectedHistogram,
    );

    const json = await register.getMetricsAsJSON();
    const jobs = json.filter((m) => m.name === counterConfig.name);
    expect(jobs, 'one entry for three threads').toHaveLength(1);
    expect(jobs[0].values.map(({ labels, value }) => ({ labels, value })).sort(byQueue)).toEqual(expectedCounter);
    const waits = json.filter((m) => m.name === histogramConfig.name);
    expect(waits).toHaveLength(1);
    expect(waits[0].values.map(({ metricName, labels, value }) => ({ metricName, labels, value }))).toEqual(
      expectedHistogram,
    );
  });
});
