import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import {
  Counter,
  Gauge,
  Histogram,
  InvalidLabelsError,
  InvalidMetricError,
  InvalidValueError,
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  Registry,
  register,
  Summary,
} from '../index';

// The findings of issue 15, one test each: inputs promsd used to accept whose exposition the
// strict OpenMetrics parser (Debian: python3-prometheus-client), promtool (Debian: prometheus)
// or Prometheus rejected or silently truncated. Each is now refused by the call that brings it
// in, with the registry unchanged, or exposed as the format specifies.

const PARSER = join(__dirname, 'fixtures', 'parse_expositions.py');

interface Parsed {
  error?: string;
  families?: {
    name: string;
    type: string;
    help: string;
    samples: [string, Record<string, string>, string, Record<string, string> | null][];
  }[];
}

/** The strict OpenMetrics parser's and the text parser's reading of one registry. */
async function parse(reg: Registry): Promise<{ om: Parsed; text: Parsed }> {
  const om = await reg.metrics({ contentType: OPENMETRICS_CONTENT_TYPE });
  const text = await reg.metrics({ contentType: PROMETHEUS_CONTENT_TYPE });
  const r = spawnSync('/usr/bin/python3', [PARSER], {
    input: JSON.stringify([{ id: 0, om, text }]),
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`install python3-prometheus-client: ${r.stderr}`);
  return JSON.parse(r.stdout)[0];
}

function promtool(text: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (r.error) throw new Error(`install promtool (apt-get install -y prometheus): ${r.error.message}`);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** Both expositions and the JSON of a registry, to show that a refused call changed nothing. */
async function everything(reg: Registry): Promise<string> {
  return [
    await reg.metrics({ contentType: PROMETHEUS_CONTENT_TYPE }),
    await reg.metrics({ contentType: OPENMETRICS_CONTENT_TYPE }),
    JSON.stringify(await reg.getMetricsAsJSON()),
  ].join('\n');
}

const CLASH = '(OpenMetrics needs each family and sample name to belong to one metric)';

describe('issue 15 findings', () => {
  it('refuses a counter named "_total", whose OpenMetrics family name would be empty', async () => {
    const reg = new Registry(OPENMETRICS_CONTENT_TYPE);
    expect(() => new Counter({ name: '_total', help: 'h', registers: [reg] })).toThrow(
      new InvalidMetricError(
        'Counter "_total": the name is only the suffix "_total", so its OpenMetrics family name would be empty',
      ),
    );
    expect(await reg.metrics()).toBe('# EOF\n');
    // One character more is a name: family "_", samples "__total".
    new Counter({ name: '__total', help: 'h', registers: [reg] }).inc();
    expect(await reg.metrics()).toBe('# HELP _ h\n# TYPE _ counter\n__total 1\n# EOF\n');
    expect((await parse(reg)).om.error).toBeUndefined();
  });

  it('refuses names that clash across suffixes, naming both metrics, and leaves the registry as it was', async () => {
    const cases: [() => unknown, () => unknown, string][] = [
      [
        () => new Counter({ name: 'dup', help: 'h', registers: [reg] }),
        () => new Counter({ name: 'dup_total', help: 'h', registers: [reg] }),
        `Counter "dup_total": its name clashes with counter "dup" in this registry: both would expose "dup_total" ${CLASH}`,
      ],
      [
        () => new Counter({ name: 'cg', help: 'h', registers: [reg] }),
        () => new Gauge({ name: 'cg_total', help: 'h', registers: [reg] }),
        `Gauge "cg_total": its name clashes with counter "cg" in this registry: both would expose "cg_total" ${CLASH}`,
      ],
      [
        () => new Counter({ name: 'cc', help: 'h', registers: [reg] }),
        () => new Gauge({ name: 'cc_created', help: 'h', registers: [reg] }),
        `Gauge "cc_created": its name clashes with counter "cc" in this registry: both would expose "cc_created" ${CLASH}`,
      ],
      [
        () => new Histogram({ name: 'hc', help: 'h', registers: [reg] }),
        () => new Gauge({ name: 'hc_bucket', help: 'h', registers: [reg] }),
        `Gauge "hc_bucket": its name clashes with histogram "hc" in this registry: both would expose "hc_bucket" ${CLASH}`,
      ],
      [
        () => new Histogram({ name: 'hc', help: 'h', registers: [reg] }),
        () => new Gauge({ name: 'hc_count', help: 'h', registers: [reg] }),
        `Gauge "hc_count": its name clashes with histogram "hc" in this registry: both would expose "hc_count" ${CLASH}`,
      ],
      [
        () => new Gauge({ name: 'hs_sum', help: 'h', registers: [reg] }),
        () => new Histogram({ name: 'hs', help: 'h', registers: [reg] }),
        `Histogram "hs": its name clashes with gauge "hs_sum" in this registry: both would expose "hs_sum" ${CLASH}`,
      ],
      [
        () => new Summary({ name: 'sc', help: 'h', registers: [reg] }),
        () => new Gauge({ name: 'sc_count', help: 'h', registers: [reg] }),
        `Gauge "sc_count": its name clashes with summary "sc" in this registry: both would expose "sc_count" ${CLASH}`,
      ],
      [
        () => new Summary({ name: 'ss', help: 'h', registers: [reg] }),
        () => new Counter({ name: 'ss_created_total', help: 'h', registers: [reg] }),
        `Counter "ss_created_total": its name clashes with summary "ss" in this registry: both would expose "ss_created" ${CLASH}`,
      ],
    ];
    let reg = new Registry();
    for (const [first, second, message] of cases) {
      reg = new Registry();
      first();
      const before = await everything(reg);
      expect(second).toThrow(new InvalidMetricError(message));
      expect(await everything(reg)).toBe(before);
      expect((await parse(reg)).om.error).toBeUndefined();
    }
    // Only names that a scraper can tell apart are accepted.
    reg = new Registry();
    new Gauge({ name: 'g', help: 'h', registers: [reg] });
    new Gauge({ name: 'g_total', help: 'h', registers: [reg] });
    new Gauge({ name: 'g_info', help: 'h', registers: [reg] });
    new Summary({ name: 's', help: 'h', registers: [reg] });
    new Gauge({ name: 's_bucket', help: 'h', registers: [reg] });
    expect((await parse(reg)).om.error).toBeUndefined();
    // Exit 3: lint remarks only, no parse error.
    expect(promtool(await reg.metrics())).toEqual({
      status: 3,
      output:
        'g_total non-counter metrics should not have "_total" suffix\n' +
        's_bucket non-histogram metrics should not have "_bucket" suffix\n',
    });
  });

  it('adds a refused metric to none of its registries', async () => {
    const a = new Registry();
    const b = new Registry();
    new Counter({ name: 'jobs', help: 'h', registers: [b] });
    expect(() => new Gauge({ name: 'jobs_total', help: 'h', registers: [a, b] })).toThrow(
      `Gauge "jobs_total": its name clashes with counter "jobs" in this registry: both would expose "jobs_total" ${CLASH}`,
    );
    expect(a.getMetricsAsArray()).toEqual([]);
    expect(await a.metrics()).toBe('\n');
    expect(b.getMetricsAsArray().map((m) => m.name)).toEqual(['jobs']);
  });

  it('Registry.merge refuses registries whose metrics clash', () => {
    const a = new Registry();
    const b = new Registry();
    new Counter({ name: 'merged', help: 'h', registers: [a] });
    const g = new Gauge({ name: 'merged_total', help: 'h', registers: [b] });
    expect(() => Registry.merge([a, b])).toThrow(
      new InvalidMetricError(
        `Gauge "merged_total": its name clashes with counter "merged" in this registry: both would expose "merged_total" ${CLASH}`,
      ),
    );
    // The metric that could not join keeps only its own registry.
    expect([...g.registries]).toEqual([b]);
  });

  it('refuses a clash between threads in the shared registry, in the thread that registers second', async () => {
    new Counter({ name: 'issue15_threads', help: 'h' });
    const worker = new Worker(
      `const { parentPort } = require('node:worker_threads');
       const { Gauge } = require(${JSON.stringify(join(__dirname, '..', 'dist', 'index.js'))});
       try { new Gauge({ name: 'issue15_threads_total', help: 'h' }); parentPort.postMessage('accepted'); }
       catch (e) { parentPort.postMessage(e.name + ': ' + e.message); }`,
      { eval: true },
    );
    const answer = await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    expect(answer).toBe(
      `InvalidMetricError: Gauge "issue15_threads_total": its name clashes with counter "issue15_threads" in this registry: both would expose "issue15_threads_total" ${CLASH}`,
    );
    const om = await register.metrics({ contentType: OPENMETRICS_CONTENT_TYPE });
    expect(om).toContain('# TYPE issue15_threads counter\nissue15_threads_total 0\n');
    expect(om).not.toContain('# TYPE issue15_threads_total');
  });

  it('refuses label values with a lone surrogate, which would all render as U+FFFD, and creates no series', async () => {
    const reg = new Registry();
    const g = new Gauge({ name: 'surrogates', help: 'h', labelNames: ['v'], registers: [reg] });
    const before = await everything(reg);
    expect(() => g.set({ v: '\uD800' }, 1)).toThrow(
      new InvalidLabelsError(
        'Gauge "surrogates": label "v" value "\\ud800" holds a lone UTF-16 surrogate (U+D800), which UTF-8 cannot represent',
      ),
    );
    expect(() => g.labels('a\uD801')).toThrow(
      new InvalidLabelsError(
        'Gauge "surrogates": label "v" value "a\\ud801" holds a lone UTF-16 surrogate (U+D801), which UTF-8 cannot represent',
      ),
    );
    expect(() => g.inc({ v: '\uDC00x' })).toThrow('holds a lone UTF-16 surrogate (U+DC00)');
    expect(await everything(reg)).toBe(before);
    // A surrogate pair is one character, and U+FFFD itself is a value like any other.
    g.set({ v: '😀' }, 1);
    g.set({ v: '\uFFFD' }, 2);
    expect(await reg.metrics()).toBe(
      '# HELP surrogates h\n# TYPE surrogates gauge\nsurrogates{v="😀"} 1\nsurrogates{v="�"} 2\n',
    );
    expect((await parse(reg)).om.families?.[0]?.samples).toEqual([
      ['surrogates', { v: '😀' }, '1.0', null],
      ['surrogates', { v: '\uFFFD' }, '2.0', null],
    ]);
  });

  it('refuses a lone surrogate in help texts, default labels and exemplar labels', async () => {
    const reg = new Registry(OPENMETRICS_CONTENT_TYPE);
    expect(() => new Counter({ name: 'helped_total', help: 'bad \uD800', registers: [reg] })).toThrow(
      new InvalidMetricError(
        'Counter "helped_total": help value "bad \\ud800" holds a lone UTF-16 surrogate (U+D800), which UTF-8 cannot represent',
      ),
    );
    expect(() => reg.setDefaultLabels({ zone: '\uDFFF' })).toThrow(
      new InvalidLabelsError(
        'setDefaultLabels: label "zone" value "\\udfff" holds a lone UTF-16 surrogate (U+DFFF), which UTF-8 cannot represent',
      ),
    );
    expect(reg.getDefaultLabels()).toEqual({});
    const c = new Counter({ name: 'traced_total', help: 'h', enableExemplars: true, registers: [reg] });
    const before = await everything(reg);
    expect(() => c.inc({ value: 1, exemplarLabels: { trace_id: '\uD834' } })).toThrow(
      new InvalidLabelsError(
        'Counter "traced_total": exemplar label "trace_id" value "\\ud834" holds a lone UTF-16 surrogate (U+D834), which UTF-8 cannot represent',
      ),
    );
    expect(await everything(reg)).toBe(before);
  });

  it('refuses an exemplar label value with "}", on which the strict parser ends the exemplar and rejects the scrape', async () => {
    const reg = new Registry(OPENMETRICS_CONTENT_TYPE);
    const c = new Counter({ name: 'braced_total', help: 'h', enableExemplars: true, registers: [reg] });
    const before = await everything(reg);
    expect(() => c.inc({ value: 1, exemplarLabels: { note: 'a}b' } })).toThrow(
      new InvalidLabelsError(
        'Counter "braced_total": exemplar label "note" value "a}b" contains "}", which OpenMetrics parsers misread in an exemplar',
      ),
    );
    expect(await everything(reg)).toBe(before);
    c.inc({ value: 1, exemplarLabels: { note: '{a" # \\n' } });
    const parsed = await parse(reg);
    expect(parsed.om.error).toBeUndefined();
    expect(parsed.om.families?.[0]?.samples).toEqual([['braced_total', {}, '1.0', { note: '{a" # \\n' }]]);
  });

  it('refuses observe(-Infinity) after observe(Infinity) on a histogram without negative buckets: its sum stays +Inf, never NaN', async () => {
    const reg = new Registry(OPENMETRICS_CONTENT_TYPE);
    const h = new Histogram({ name: 'latency_seconds', help: 'h', buckets: [1], registers: [reg] });
    h.observe(Infinity);
    const before = await everything(reg);
    expect(() => h.observe(-Infinity)).toThrow(
      new InvalidValueError(
        'Histogram "latency_seconds": observed value -Infinity is negative, but the lowest bucket bound is 1: without a negative bound the sum must never decrease (OpenMetrics); add a negative bucket bound to observe negative values',
      ),
    );
    expect(() => h.labels().observe(-0.5)).toThrow('observed value -0.5 is negative, but the lowest bucket bound is 1');
    expect(await everything(reg)).toBe(before);
    expect(await reg.metrics()).toBe(
      '# HELP latency_seconds h\n# TYPE latency_seconds histogram\nlatency_seconds_bucket{le="1"} 0\nlatency_seconds_bucket{le="+Inf"} 1\nlatency_seconds_sum +Inf\nlatency_seconds_count 1\n# EOF\n',
    );
    expect((await parse(reg)).om.error).toBeUndefined();
    // -0 is not negative.
    h.observe(-0);
    expect((await parse(reg)).om.error).toBeUndefined();
  });

  it('exposes a histogram with a negative bucket bound without _sum and _count in OpenMetrics, as the spec requires', async () => {
    const reg = new Registry(OPENMETRICS_CONTENT_TYPE);
    const h = new Histogram({ name: 'temperature_celsius', help: 'h', buckets: [-10, 0, 10], registers: [reg] });
    for (const v of [-20, -5, 5, Infinity, -Infinity]) h.observe(v);
    expect(await reg.metrics()).toBe(
      '# HELP temperature_celsius h\n# TYPE temperature_celsius histogram\n' +
        'temperature_celsius_bucket{le="-10"} 2\ntemperature_celsius_bucket{le="0"} 3\n' +
        'temperature_celsius_bucket{le="10"} 4\ntemperature_celsius_bucket{le="+Inf"} 5\n# EOF\n',
    );
    const parsed = await parse(reg);
    expect(parsed.om.error).toBeUndefined();
    // The text format has no such rule: Prometheus stores the sum as it is.
    const text = await reg.metrics({ contentType: PROMETHEUS_CONTENT_TYPE });
    expect(text).toContain('\ntemperature_celsius_sum NaN\ntemperature_celsius_count 5\n');
    expect(promtool(text)).toEqual({ status: 0, output: '' });
    expect(parsed.text.error).toBeUndefined();
  });

  it('refuses negative observations on a summary, whose sum and quantiles must not be negative', async () => {
    const reg = new Registry(OPENMETRICS_CONTENT_TYPE);
    const s = new Summary({ name: 'sizes_bytes', help: 'h', percentiles: [0.5], registers: [reg] });
    s.observe(3);
    const before = await everything(reg);
    expect(() => s.observe(-1)).toThrow(
      new InvalidValueError(
        'Summary "sizes_bytes": observed value -1 is negative; a summary\'s sum and quantiles must not be negative (OpenMetrics): use a histogram with a negative bucket bound',
      ),
    );
    expect(() => s.observe(-Infinity)).toThrow('observed value -Infinity is negative');
    expect(await everything(reg)).toBe(before);
    s.observe(Infinity);
    expect((await parse(reg)).om.error).toBeUndefined();
  });

  it('getMetricsAsJSON adds a default label "le" or "quantile" to no sample of a histogram or summary, as the exposition does', async () => {
    const reg = new Registry();
    reg.setDefaultLabels({ le: 'x', quantile: 'y' });
    new Histogram({ name: 'h', help: 'h', buckets: [1], registers: [reg] }).observe(0.5);
    const [h] = await reg.getMetricsAsJSON();
    expect(h.values.map((v) => v.labels)).toEqual([
      { le: 1, quantile: 'y' },
      { le: '+Inf', quantile: 'y' },
      { quantile: 'y' },
      { quantile: 'y' },
    ]);
    expect(await reg.metrics()).toContain('\nh_sum{quantile="y"} 0.5\nh_count{quantile="y"} 1\n');
  });
});
