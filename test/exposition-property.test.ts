import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PrometheusProcess } from './helpers/prometheus';
import {
  startHttpServer,
  type MetricsHTTPServer,
  Counter,
  Gauge,
  Histogram,
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  PromsdError,
  Registry,
  Summary,
} from '../index';

// Adversarial registries, every output checked by independent parsers (Goal 1 of issue 15):
// fast-check builds registries with hostile names, help texts, label names and values, values
// and observations, and runs each call. A call that promsd accepts must be represented exactly;
// one it refuses must throw a PromsdError and change nothing. Then every registry's text 0.0.4
// goes through `promtool check metrics` (Debian package `prometheus`), its OpenMetrics through
// the strict parser of Debian's `python3-prometheus-client`, both through that package's text
// parser, and what they read must equal a model of the accepted calls and getMetricsAsJSON().
//
// The cases are drawn up front from a fixed seed (PROMSD_PROPERTY_SEED overrides it) so that
// the parsers run in one batch; a failure prints the seed, the case and its scenario.

const SEED = Number(process.env.PROMSD_PROPERTY_SEED ?? 20261202);
const RUNS = Number(process.env.PROMSD_PROPERTY_RUNS ?? 150);
const PYTHON = '/usr/bin/python3';
const PARSER = join(__dirname, 'fixtures', 'parse_expositions.py');

type Kind = 'counter' | 'gauge' | 'histogram' | 'summary';
type OpName = 'inc' | 'dec' | 'set' | 'observe' | 'zero' | 'remove' | 'reset' | 'child';

interface Def {
  kind: Kind;
  name: string;
  help: string;
  labelNames: string[];
  buckets?: number[];
  percentiles?: number[];
  /** enableExemplars (refused on a text-format registry). */
  exemplars: boolean;
}

interface Op {
  m: number;
  op: OpName;
  /** Label values by the metric's label names; undefined: no labels argument. */
  labels?: unknown[];
  /** An extra, unknown label. */
  extra: boolean;
  value: unknown;
  /** Exemplar labels, on metrics with exemplars. */
  exemplar?: Record<string, string>;
}

interface Scenario {
  om: boolean;
  defaults: Record<string, unknown>;
  defs: Def[];
  ops: Op[];
}

// ---------------------------------------------------------------------------------------------
// Generators

const NASTY = [
  '',
  ' ',
  '\\',
  '\\\\',
  '"',
  '\n',
  '\r',
  '\r\n',
  '\t',
  '\0',
  '\x7f',
  '\\n',
  '\\"',
  '}',
  '{',
  ',',
  '=',
  '# EOF',
  '# HELP x y',
  '\u2028',
  '\u0085',
  '\uFEFF',
  '\uFFFD',
  '\uD800',
  '\uD801',
  '\uDC00',
  '😀',
  'ünï',
  'NaN',
  '+Inf',
  ' # {a="b"} 1',
];
const nasty = fc.constantFrom(...NASTY);
const text = fc.oneof(
  nasty,
  fc.string({ unit: 'binary', maxLength: 6 }),
  fc.array(nasty, { maxLength: 4 }).map((a) => a.join('')),
);
/** Names with every type suffix, so that clashes are frequent; then some invalid ones. */
const NAMES = ['x', 'x_total', 'x_total_total', 'x_bucket', 'x_count', 'x_sum', 'x_created', 'x_info', 'y', 'y_total'];
const ODD_NAMES = ['_total', ':', '_', 'a:b_total', 'X', 'ünï', '1x', 'x-y', ''];
const name = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...NAMES) },
  { weight: 1, arbitrary: fc.constantFrom(...ODD_NAMES) },
);
const labelName = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('a', 'b', 'service') },
  { weight: 1, arbitrary: fc.constantFrom('le', 'quantile', '__a', 'process', '0a', 'a b', '') },
);
const SPECIAL = [
  0,
  -0,
  1,
  -1,
  0.1,
  2.5,
  NaN,
  Infinity,
  -Infinity,
  1e308,
  -1e308,
  5e-324,
  1e21,
  1e-7,
  2 ** 53 + 2,
  1e15,
];
const number = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...SPECIAL) },
  { weight: 3, arbitrary: fc.double({ min: 0, noNaN: true }) },
  { weight: 1, arbitrary: fc.double() },
  { weight: 2, arbitrary: fc.integer({ min: -2, max: 5 }) },
);
const labelValue = fc.oneof(
  { weight: 6, arbitrary: text },
  { weight: 2, arbitrary: number },
  { weight: 3, arbitrary: fc.constantFrom('1', 'a', 'b') },
  { weight: 1, arbitrary: fc.constantFrom(null, true) },
);
const value = fc.oneof(
  { weight: 12, arbitrary: number },
  { weight: 1, arbitrary: fc.constantFrom(undefined, '1', null) },
);

const def: fc.Arbitrary<Def> = fc.record({
  kind: fc.constantFrom<Kind>('counter', 'gauge', 'histogram', 'summary'),
  name,
  help: fc.oneof(
    { weight: 6, arbitrary: text.filter((t) => t !== '') },
    { weight: 3, arbitrary: fc.constant('Help.') },
    { weight: 1, arbitrary: fc.constant('') },
  ),
  labelNames: fc.array(labelName, { maxLength: 2 }),
  buckets: fc.option(
    fc.oneof(
      {
        weight: 8,
        arbitrary: fc
          .array(fc.oneof(fc.constantFrom(-1, 0, 1e-9, 0.5, 1, 1e21, Infinity), fc.double({ noNaN: true })), {
            minLength: 1,
            maxLength: 4,
          })
          .map((a) => [...new Set(a)].sort((p, q) => p - q)),
      },
      { weight: 1, arbitrary: fc.constant<number[]>([1, 1]) },
    ),
    { nil: undefined },
  ),
  percentiles: fc.option(
    fc.oneof(
      { weight: 8, arbitrary: fc.subarray([0, 0.5, 0.9, 1], { minLength: 1 }) },
      { weight: 1, arbitrary: fc.constant<number[]>([1.5]) },
    ),
    { nil: undefined },
  ),
  exemplars: fc.boolean(),
});

const op: fc.Arbitrary<Op> = fc.record({
  m: fc.nat(4),
  op: fc.constantFrom<OpName>(
    'inc',
    'inc',
    'dec',
    'set',
    'observe',
    'observe',
    'observe',
    'zero',
    'remove',
    'reset',
    'child',
    'child',
  ),
  labels: fc.option(fc.array(labelValue, { minLength: 2, maxLength: 2 }), { nil: undefined, freq: 4 }),
  extra: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  value,
  exemplar: fc.option(fc.dictionary(labelName, text, { maxKeys: 2 }), { nil: undefined }),
});

const scenario: fc.Arbitrary<Scenario> = fc.record({
  om: fc.boolean(),
  defaults: fc.dictionary(labelName, fc.oneof(text, fc.integer()), { maxKeys: 2 }),
  defs: fc.array(def, { minLength: 1, maxLength: 5 }),
  ops: fc.array(op, { minLength: 8, maxLength: 40, size: 'medium' }),
});

// ---------------------------------------------------------------------------------------------
// The model of accepted calls

interface SeriesModel {
  labels: string[];
  /** counter/gauge: [v]; histogram: [bucket counts…, +Inf count, sum]; summary: [count, sum]. */
  v: number[];
}

interface MetricModel {
  def: Def;
  metric: Counter<string> | Gauge<string> | Histogram<string> | Summary<string>;
  /** Accepted bounds (after checkBuckets: without a trailing +Inf). */
  bounds: number[];
  quantiles: number[];
  series: Map<string, SeriesModel>;
  /** Label sets of accepted exemplars (see exemplarKey). */
  exemplars: Set<string>;
}

function width(m: MetricModel): number {
  return m.def.kind === 'histogram' ? m.bounds.length + 2 : m.def.kind === 'summary' ? 2 : 1;
}

function exemplarKey(labels: Record<string, unknown>): string {
  return JSON.stringify(
    Object.entries(labels)
      .map(([k, v]) => [k, String(v)])
      .sort(),
  );
}

function seriesOf(m: MetricModel, labels: string[]): SeriesModel {
  const key = JSON.stringify(labels);
  let s = m.series.get(key);
  if (s === undefined) {
    s = { labels, v: new Array(width(m)).fill(0) };
    m.series.set(key, s);
  }
  return s;
}

function labelObject(m: MetricModel, o: Op): Record<string, unknown> | undefined {
  if (o.labels === undefined) return undefined;
  const obj: Record<string, unknown> = {};
  m.def.labelNames.forEach((n, i) => {
    if (i < (o.labels as unknown[]).length) obj[n] = (o.labels as unknown[])[i];
  });
  if (o.extra) obj.zz = 'extra';
  return obj;
}

/** Runs one op on the metric; on success updates the model (it throws before, if at all). */
function apply(m: MetricModel, o: Op): void {
  const labels = labelObject(m, o);
  const key = (): string[] => m.def.labelNames.map((n) => String((labels as Record<string, unknown>)[n]));
  const target = (): SeriesModel => seriesOf(m, labels === undefined ? [] : key());
  const metric = m.metric as unknown as Record<string, (...args: unknown[]) => unknown>;
  const call = (method: string): void => {
    if (m.def.exemplars && (method === 'inc' || method === 'observe')) {
      // With exemplars, an object argument is the update: { labels, value, exemplarLabels }.
      metric[method]({ labels, value: o.value, exemplarLabels: o.exemplar });
      if (o.exemplar !== undefined) m.exemplars.add(exemplarKey(o.exemplar));
    } else if (labels === undefined) metric[method](o.value);
    else metric[method](labels, o.value);
  };
  const v = o.value as number;
  switch (o.op) {
    case 'inc':
    case 'dec':
      if (m.def.kind !== 'counter' && m.def.kind !== 'gauge') return;
      if (o.op === 'dec' && m.def.kind !== 'gauge') return;
      call(o.op);
      target().v[0] += (o.op === 'dec' ? -1 : 1) * (o.value === undefined ? 1 : v);
      return;
    case 'set':
      if (m.def.kind !== 'gauge') return;
      call('set');
      target().v[0] = v;
      return;
    case 'observe': {
      if (m.def.kind !== 'histogram' && m.def.kind !== 'summary') return;
      call('observe');
      observeModel(m, target(), v);
      return;
    }
    case 'child': {
      // labels() creates the series (its child caches the address); the update is a second call.
      const child = metric.labels(labels ?? {}) as Record<string, (x: unknown) => void>;
      target();
      pending = () => updateChild(m, o, child, target);
      return;
    }
    case 'zero':
      m.metric.zero(labels as never);
      target().v.fill(0);
      return;
    case 'remove':
      m.metric.remove((labels ?? {}) as never);
      m.series.delete(JSON.stringify(labels === undefined ? [] : key()));
      return;
    case 'reset': {
      // As in prom-client: an unlabelled counter or gauge starts again at zero; an unlabelled
      // summary keeps its series at zero, if it has one (after remove() it has none).
      const unlabelled = m.series.has(JSON.stringify([]));
      m.metric.reset();
      m.series.clear();
      if (m.def.labelNames.length === 0 && (m.def.kind === 'counter' || m.def.kind === 'gauge')) seriesOf(m, []);
      if (m.def.labelNames.length === 0 && m.def.kind === 'summary' && unlabelled) seriesOf(m, []);
      return;
    }
  }
}

/** The second half of a `child` op, run as its own call. */
let pending: (() => void) | undefined;

function updateChild(
  m: MetricModel,
  o: Op,
  child: Record<string, (x: unknown) => void>,
  target: () => SeriesModel,
): void {
  const v = o.value as number;
  if (m.def.kind === 'histogram' || m.def.kind === 'summary') {
    child.observe(o.value);
    observeModel(m, target(), v);
  } else if (m.def.kind === 'counter') {
    child.inc(o.value);
    target().v[0] += o.value === undefined ? 1 : v;
  } else {
    child.set(o.value);
    target().v[0] = v;
  }
}

function observeModel(m: MetricModel, s: SeriesModel, v: number): void {
  if (m.def.kind === 'summary') {
    s.v[0] += 1;
    s.v[1] += v;
    return;
  }
  let i = 0;
  while (i < m.bounds.length && v > m.bounds[i]) i++;
  s.v[i] += 1;
  s.v[m.bounds.length + 1] += v;
}

// ---------------------------------------------------------------------------------------------
// Expected samples

/** name, labels, value (null: not modelled, e.g. a quantile). */
type Sample = [string, Record<string, string>, number | null];

function openMetricsName(d: Def): string {
  return d.kind === 'counter' && d.name.endsWith('_total') ? d.name.slice(0, -6) : d.name;
}

/**
 * The samples the model expects. `om`: OpenMetrics rules (counter samples `<name>_total`, no
 * `_sum`/`_count` beside negative buckets); `counterTotal` alone: the text format as the Python
 * text parser reports it (it renames counter samples as OpenMetrics does).
 */
function expected(models: MetricModel[], defaults: Record<string, string>, om: boolean, counterTotal = om): Sample[] {
  const out: Sample[] = [];
  for (const m of models) {
    const d = m.def;
    const own = d.kind === 'histogram' ? 'le' : d.kind === 'summary' ? 'quantile' : '';
    for (const s of m.series.values()) {
      const labels: Record<string, string> = {};
      d.labelNames.forEach((n, i) => {
        labels[n] = s.labels[i];
      });
      for (const [k, v] of Object.entries(defaults)) if (!(k in labels) && k !== own) labels[k] = v;
      if (d.kind === 'counter') out.push([counterTotal ? `${openMetricsName(d)}_total` : d.name, labels, s.v[0]]);
      else if (d.kind === 'gauge') out.push([d.name, labels, s.v[0]]);
      else if (d.kind === 'histogram') {
        let cum = 0;
        m.bounds.forEach((b, i) => {
          cum += s.v[i];
          out.push([`${d.name}_bucket`, { ...labels, le: String(b) }, cum]);
        });
        cum += s.v[m.bounds.length];
        out.push([`${d.name}_bucket`, { ...labels, le: 'Infinity' }, cum]);
        if (!om || !(m.bounds[0] < 0)) {
          out.push([`${d.name}_sum`, labels, s.v[m.bounds.length + 1]]);
          out.push([`${d.name}_count`, labels, cum]);
        }
      } else {
        for (const q of m.quantiles) out.push([d.name, { ...labels, quantile: String(q) }, null]);
        out.push([`${d.name}_sum`, labels, s.v[1]]);
        out.push([`${d.name}_count`, labels, s.v[0]]);
      }
    }
  }
  return out;
}

function asNumber(v: string | number): number | undefined {
  if (typeof v === 'number') return v;
  const n = v === '+Inf' ? Infinity : v.trim() === '' ? NaN : Number(v);
  return Number.isNaN(n) ? undefined : n;
}

/** `le` and `quantile` compare as numbers ("1e-09", "1.0e-9" and 1e-9 are one bound). */
function sampleKey([name, labels]: Sample): string {
  const norm = Object.entries(labels)
    .map(([k, v]) => [k, (k === 'le' || k === 'quantile') && asNumber(v) !== undefined ? String(asNumber(v)) : v])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `${name}\u0000${JSON.stringify(norm)}`;
}

function sameNumber(a: number, b: number): boolean {
  return a === b || (Number.isNaN(a) && Number.isNaN(b));
}

/** Differences between two sample lists (duplicates count). */
function compare(what: string, want: Sample[], got: Sample[]): string[] {
  const problems: string[] = [];
  const index = new Map<string, Sample>();
  for (const s of got) {
    const k = sampleKey(s);
    if (index.has(k)) problems.push(`${what}: duplicate sample ${fc.stringify(s)}`);
    index.set(k, s);
  }
  const seen = new Set<string>();
  for (const s of want) {
    const k = sampleKey(s);
    if (seen.has(k)) problems.push(`${what}: the model has a duplicate sample ${fc.stringify(s)}`);
    seen.add(k);
    const g = index.get(k);
    if (g === undefined) problems.push(`${what}: missing sample ${fc.stringify(s)}`);
    else if (s[2] !== null && !sameNumber(s[2], g[2] as number))
      problems.push(`${what}: ${fc.stringify(s)} read back as ${g[2]}`);
  }
  for (const [k, s] of index) if (!seen.has(k)) problems.push(`${what}: unexpected sample ${fc.stringify(s)}`);
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Running a scenario

interface Outcome {
  registry: Registry;
  text: string;
  om: string;
  models: MetricModel[];
  defaults: Record<string, string>;
  problems: string[];
}

/** Everything a registry shows, numbers spelled so that NaN and -0 survive. */
async function snapshot(reg: Registry): Promise<string> {
  const json = JSON.stringify(await reg.getMetricsAsJSON(), (_k, v) =>
    typeof v === 'number' ? `n:${Object.is(v, -0) ? '-0' : v}` : v,
  );
  const text = await reg.metrics({ contentType: PROMETHEUS_CONTENT_TYPE });
  const om = await reg.metrics({ contentType: OPENMETRICS_CONTENT_TYPE });
  return `${json}\n${text}\n${om}`;
}

const CLASSES = { counter: Counter, gauge: Gauge, histogram: Histogram, summary: Summary } as const;

/** How much of the generated input was accepted (a generator that only makes errors tests little). */
const stats = { accepted: 0, refused: 0, metrics: 0, series: 0, samples: 0, exemplars: 0 };

async function run(sc: Scenario): Promise<Outcome> {
  const reg = new Registry(sc.om ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE, { strict: true });
  const problems: string[] = [];
  const models: MetricModel[] = [];
  let defaults: Record<string, string> = {};
  let last = await snapshot(reg);
  const attempt = async (what: string, fn: () => void): Promise<boolean> => {
    let error: unknown;
    try {
      fn();
    } catch (e) {
      error = e;
    }
    const now = await snapshot(reg);
    if (error !== undefined) {
      if (!(error instanceof PromsdError)) problems.push(`${what} threw a non-promsd error: ${String(error)}`);
      if (now !== last) problems.push(`${what} threw (${String(error)}) but changed the registry`);
    }
    last = now;
    if (process.env.PROMSD_PROPERTY_DEBUG)
      console.log(`${error === undefined ? 'OK' : `REFUSED ${String(error)}`}: ${what}`);
    if (error === undefined) stats.accepted++;
    else stats.refused++;
    return error === undefined;
  };
  await attempt(`setDefaultLabels(${fc.stringify(sc.defaults)})`, () => {
    reg.setDefaultLabels(sc.defaults as Record<string, string>);
    defaults = reg.getDefaultLabels();
  });
  for (const d of sc.defs) {
    let metric: MetricModel['metric'] | undefined;
    const config: Record<string, unknown> = { name: d.name, help: d.help, labelNames: d.labelNames, registers: [reg] };
    if (d.buckets !== undefined) config.buckets = d.buckets;
    if (d.percentiles !== undefined) config.percentiles = d.percentiles;
    if (d.exemplars) config.enableExemplars = true;
    await attempt(`new ${d.kind}(${fc.stringify(config)})`, () => {
      metric = new CLASSES[d.kind](config as never);
    });
    if (metric === undefined) continue;
    const m: MetricModel = {
      def: d,
      metric,
      bounds: metric instanceof Histogram ? [...metric.upperBounds] : [],
      quantiles: metric instanceof Summary ? [...metric.percentiles] : [],
      series: new Map(),
      exemplars: new Set(),
    };
    if (d.labelNames.length === 0 && d.kind !== 'histogram' && d.kind !== 'summary') seriesOf(m, []);
    if (d.labelNames.length === 0 && (d.kind === 'histogram' || d.kind === 'summary')) seriesOf(m, []);
    models.push(m);
    stats.metrics++;
  }
  for (const o of sc.ops) {
    const m = models[o.m % Math.max(1, models.length)];
    if (m === undefined) continue;
    const what = `${o.op} on ${m.def.kind} ${fc.stringify(m.def.name)} with ${fc.stringify(o)}`;
    pending = undefined;
    await attempt(what, () => apply(m, o));
    const update = pending as (() => void) | undefined;
    if (update !== undefined) await attempt(`${what}, the update`, update);
  }
  // getMetricsAsJSON against the model.
  const json = await reg.getMetricsAsJSON();
  const fromJson: Sample[] = [];
  for (const f of json) {
    const m = models.find((x) => x.def.name === f.name);
    if (m === undefined) problems.push(`getMetricsAsJSON has unknown family ${f.name}`);
    for (const v of f.values) {
      const labels: Record<string, string> = {};
      for (const [k, x] of Object.entries(v.labels)) labels[k] = String(x);
      fromJson.push([
        v.metricName ?? f.name,
        labels,
        f.type === 'summary' && v.metricName === undefined ? null : v.value,
      ]);
    }
  }
  problems.push(...compare('getMetricsAsJSON', expected(models, defaults, false), fromJson));
  for (const m of models) stats.series += m.series.size;
  stats.samples += fromJson.length;
  return {
    registry: reg,
    text: await reg.metrics({ contentType: PROMETHEUS_CONTENT_TYPE }),
    om: await reg.metrics({ contentType: OPENMETRICS_CONTENT_TYPE }),
    models,
    defaults,
    problems,
  };
}

// ---------------------------------------------------------------------------------------------
// The independent checkers

interface Parsed {
  error?: string;
  families?: {
    name: string;
    type: string;
    help: string;
    samples: [string, Record<string, string>, string, Record<string, string> | null][];
  }[];
}

function parseAll(cases: { id: number; om: string; text: string }[]): { id: number; om: Parsed; text: Parsed }[] {
  const r = spawnSync(PYTHON, [PARSER], { input: JSON.stringify(cases), encoding: 'utf8', timeout: 60_000 });
  if (r.error || r.status !== 0) {
    throw new Error(
      `${PARSER} failed (${r.error?.message ?? r.status}): ${r.stderr}; install: apt-get install -y python3-prometheus-client`,
    );
  }
  return JSON.parse(r.stdout);
}

/** `promtool check metrics` on each text, two at a time; lint remarks (exit 3) are fine. */
async function promtoolAll(texts: string[]): Promise<(string | null)[]> {
  const one = (input: string) =>
    new Promise<string | null>((resolve, reject) => {
      const p = spawn('promtool', ['check', 'metrics']);
      let out = '';
      p.stdout.on('data', (d) => {
        out += d;
      });
      p.stderr.on('data', (d) => {
        out += d;
      });
      p.on('error', (e) =>
        reject(
          (e as NodeJS.ErrnoException).code === 'ENOENT'
            ? new Error('install promtool: apt-get install -y prometheus')
            : e,
        ),
      );
      p.on('close', (code) =>
        resolve(code === 0 || (code === 3 && !/error/i.test(out)) ? null : `exit ${code}: ${out}`),
      );
      p.stdin.end(input);
    });
  const results: (string | null)[] = new Array(texts.length).fill(null);
  let next = 0;
  const lane = async () => {
    while (next < texts.length) {
      const i = next++;
      results[i] = await one(texts[i]);
    }
  };
  await Promise.all([lane(), lane()]);
  return results;
}

function parsedSamples(p: Parsed): Sample[] {
  return (p.families ?? []).flatMap((f) =>
    f.samples.map(([n, l, v]): Sample => [n, l, v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : Number(v)]),
  );
}

/**
 * The text format cannot carry whitespace around a HELP text: its parsers (Go's, Python's) skip
 * the blanks before it and Python strips the end too. OpenMetrics keeps it exactly.
 */
function trimmed(help: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: Python's str.strip() strips these.
  return help.replace(/^[\s\x1c-\x1f\x85]+|[\s\x1c-\x1f\x85]+$/g, '');
}

/** Every exemplar read back must carry the labels of an accepted exemplar. */
function exemplarProblems(p: Parsed, models: MetricModel[]): string[] {
  const accepted = new Set(models.flatMap((m) => [...m.exemplars]));
  return (p.families ?? []).flatMap((f) =>
    f.samples
      .filter((s) => s[3] !== null && !accepted.has(exemplarKey(s[3] as Record<string, string>)))
      .map((s) => `OpenMetrics: exemplar ${fc.stringify(s[3])} on ${s[0]} was never given`),
  );
}

function helpProblems(what: string, p: Parsed, models: MetricModel[], om: boolean, exact = om): string[] {
  const problems: string[] = [];
  for (const f of p.families ?? []) {
    const m = models.find((x) => (om ? openMetricsName(x.def) : x.def.name) === f.name || x.def.name === f.name);
    if (m === undefined) problems.push(`${what}: unknown family ${JSON.stringify(f.name)}`);
    else if (exact ? f.help !== m.def.help : trimmed(f.help) !== trimmed(m.def.help))
      problems.push(`${what}: help of ${f.name} read back as ${JSON.stringify(f.help)}`);
  }
  return problems;
}

describe('adversarial registries (property-based)', () => {
  it(`every exposition of every accepted call sequence parses in promtool and the strict OpenMetrics parser and equals the model (seed ${SEED}, ${RUNS} cases)`, {
    timeout: 120_000,
  }, async () => {
    const scenarios = fc.sample(scenario, { seed: SEED, numRuns: RUNS });
    const outcomes: Outcome[] = [];
    // PROMSD_PROPERTY_CASE=<n> replays one case (its calls logged with PROMSD_PROPERTY_DEBUG=1).
    const only = process.env.PROMSD_PROPERTY_CASE;
    if (only !== undefined) scenarios.splice(0, scenarios.length, scenarios[Number(only)]);
    for (const sc of scenarios) outcomes.push(await run(sc));
    const parsed = parseAll(outcomes.map((o, id) => ({ id, om: o.om, text: o.text })));
    const promtool = await promtoolAll(outcomes.map((o) => o.text));
    const failures: string[] = [];
    outcomes.forEach((o, i) => {
      const problems = [...o.problems];
      const p = parsed[i];
      if (promtool[i] !== null) problems.push(`promtool: ${promtool[i]}`);
      if (p.om.error) problems.push(`OpenMetrics parser: ${p.om.error}`);
      else {
        problems.push(...compare('OpenMetrics', expected(o.models, o.defaults, true), parsedSamples(p.om)));
        problems.push(...helpProblems('OpenMetrics', p.om, o.models, true));
        problems.push(...exemplarProblems(p.om, o.models));
        stats.exemplars += (p.om.families ?? []).reduce((n, f) => n + f.samples.filter((x) => x[3]).length, 0);
      }
      if (p.text.error) problems.push(`text parser: ${p.text.error}`);
      else {
        problems.push(...compare('text', expected(o.models, o.defaults, false, true), parsedSamples(p.text)));
        problems.push(...helpProblems('text', p.text, o.models, true, false));
      }
      if (problems.length > 0) {
        failures.push(
          `case ${i} of seed ${SEED}:\n  ${problems.slice(0, 6).join('\n  ')}\nscenario: ${fc.stringify(scenarios[i])}\ntext:\n${o.text}\nOpenMetrics:\n${o.om}`,
        );
      }
    });
    console.log(`property test, seed ${SEED}: ${fc.stringify(stats)}`);
    // The generator must reach the encoder with plenty of accepted input, not only errors.
    expect(stats.metrics).toBeGreaterThan(RUNS / 2);
    expect(stats.series).toBeGreaterThan(RUNS / 2);
    expect(stats.accepted).toBeGreaterThan(RUNS);
    if (failures.length > 0) console.error(failures.map((f) => f.split('\nscenario')[0]).join('\n'));
    expect(failures.slice(0, 3).join('\n\n'), `${failures.length} of ${RUNS} cases failed (seed ${SEED})`).toBe('');
  });

  it('a real Prometheus scrapes the registries of the first cases with every sample stored and none dropped', {
    timeout: 90_000,
  }, async () => {
    // Prometheus asks for OpenMetrics first; each case gets its own server and scrape job.
    const scenarios = fc.sample(scenario, { seed: SEED, numRuns: 60 });
    const cases: { outcome: Outcome; samples: number }[] = [];
    for (const sc of scenarios) {
      const outcome = await run(sc);
      const samples = expected(outcome.models, outcome.defaults, true).length;
      if (samples > 0 && cases.length < 12) cases.push({ outcome, samples });
    }
    console.log(
      `Prometheus scrape, seed ${SEED}: ${cases.length} registries, ${cases.map((c) => c.samples).join('+')} samples`,
    );
    const servers: MetricsHTTPServer[] = [];
    let prometheus: PrometheusProcess | undefined;
    try {
      for (const c of cases) servers.push(await startHttpServer({ addr: '127.0.0.1', registry: c.outcome.registry }));
      prometheus = await PrometheusProcess.start(
        servers
          .map(
            (srv, i) =>
              `  - job_name: case${i}\n    static_configs:\n      - targets: ['127.0.0.1:${srv.socket.port}']\n`,
          )
          .join(''),
      );
      const p = prometheus;
      await p.waitFor('up{job=~"case.*"} == 1', (r) => r.length === cases.length);
      // Every sample of the exposition is a series of its own: none merged, none dropped.
      const stored = await p.waitFor(
        'count by (job) ({job=~"case.*", __name__!~"up|scrape_.*"})',
        (r) => r.length === cases.length,
      );
      const byJob = Object.fromEntries(stored.map((r) => [r.metric.job, Number(r.value[1])]));
      expect(byJob).toEqual(Object.fromEntries(cases.map((c, i) => [`case${i}`, c.samples])));
      const scraped = await p.query('scrape_samples_scraped{job=~"case.*"}');
      expect(Object.fromEntries(scraped.map((r) => [r.metric.job, Number(r.value[1])]))).toEqual(byJob);
    } finally {
      await prometheus?.stop();
      await Promise.allSettled(servers.map((srv) => srv.close()));
    }
  });
});
