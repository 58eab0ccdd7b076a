// The reader's side of the Redis protocol (docs/REDIS-PROTOCOL.md §8) in TypeScript: what
// read.lua returned, aggregated across processes and encoded as text 0.0.4 or OpenMetrics. A port
// of native/src/backend/render.rs and native/src/encoder.rs; the output is byte-identical to the
// Rust core's (test/redis-ioredis.test.ts compares them).
import { AGGREGATORS, type Aggregator } from '../metrics/metric';
import { parseValue } from './protocol';

type Kind = 'counter' | 'gauge' | 'histogram' | 'summary';

/** What the read script returned, as strings. */
export interface ReadData {
  nowMs: number;
  meta: [string, string][];
  totals: [string, string][];
  /** Live processes: their id and their `g:` hash. */
  procs: [string, [string, string][]][];
}

interface Def {
  name: string;
  help: string;
  kind: Kind;
  labelNames: string[];
  buckets: number[];
  quantiles: number[];
  aggregator: Aggregator;
}

function pairs(v: unknown): [string, string][] {
  const out: [string, string][] = [];
  if (!Array.isArray(v)) return out;
  for (let i = 0; i + 1 < v.length; i += 2) out.push([String(v[i]), String(v[i + 1])]);
  return out;
}

/** Parses the read script's reply. */
export function parseRead(reply: unknown): ReadData {
  const r = Array.isArray(reply) ? reply : [];
  const data: ReadData = {
    nowMs: typeof r[0] === 'number' ? r[0] : 0,
    meta: pairs(r[1]),
    totals: pairs(r[2]),
    procs: [],
  };
  for (let i = 3; i + 1 < r.length; i += 2) data.procs.push([String(r[i]), pairs(r[i + 1])]);
  return data;
}

function floats(v: unknown): number[] | undefined {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number')) return undefined;
  return v as number[];
}

/** Parses metadata JSON (§5); undefined for an unknown version or a bad document. */
function parseMeta(name: string, json: string): Def | undefined {
  let m: unknown;
  try {
    m = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return undefined;
  const o = m as Record<string, unknown>;
  if (o.v !== 1) return undefined;
  const kind = o.type;
  if (kind !== 'counter' && kind !== 'gauge' && kind !== 'histogram' && kind !== 'summary') return undefined;
  if (!Array.isArray(o.labelNames) || !o.labelNames.every((x) => typeof x === 'string')) return undefined;
  let buckets: number[] = [];
  let quantiles: number[] = [];
  if (kind === 'histogram') {
    const b = floats(o.buckets);
    if (b === undefined) return undefined;
    buckets = b;
  }
  if (kind === 'summary') {
    const q = floats(o.quantiles);
    if (q === undefined) return undefined;
    quantiles = q;
  }
  return {
    name,
    help: typeof o.help === 'string' ? o.help : '',
    kind,
    labelNames: [...(o.labelNames as string[])],
    buckets,
    quantiles,
    aggregator:
      typeof o.aggregator === 'string' && (AGGREGATORS as readonly string[]).includes(o.aggregator)
        ? (o.aggregator as Aggregator)
        : 'sum',
  };
}

/** Orders strings by their UTF-8 bytes (= code points), as Rust orders `str`. */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates encode code points above U+FFFF: they sort after every other BMP unit.
    if (x >= 0xd800 && x <= 0xdfff) x += 0x10000;
    if (y >= 0xd800 && y <= 0xdfff) y += 0x10000;
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

function totalCmp(a: number, b: number): number {
  if (a < b) return -1;
  if (a > b) return 1;
  if (Object.is(a, b)) return 0;
  return Object.is(a, -0) ? -1 : 1;
}

// ---- Summary sketch (native/src/sketch.rs) -------------------------------------------------

const SIDE = 2 ** 20;
const GAMMA = (1 + 0.01) / (1 - 0.01);

/** `f64::powi` as compiled (compiler-builtins' `__powidf2`): the same multiplications. */
function powi(a: number, b: number): number {
  const recip = b < 0;
  let pow = Math.abs(b);
  let mul = 1;
  for (;;) {
    if (pow & 1) mul *= a;
    pow = Math.floor(pow / 2);
    if (pow === 0) break;
    a *= a;
  }
  return recip ? 1 / mul : mul;
}

function keyValue(key: number): number {
  if (key === 0) return 0;
  const v = (k: number): number => (2 * powi(GAMMA, k)) / (GAMMA + 1);
  return key > 0 ? v(key - SIDE) : -v(-key - SIDE);
}

/** The bin key of a sketch part (`z`, `p<k>`, `n<k>`), or undefined. */
function binKey(part: string): number | undefined {
  if (part === 'z') return 0;
  const m = /^([pn])([+-]?\d+)$/.exec(part);
  if (m === null) return undefined;
  const k = Number(m[2]);
  return m[1] === 'p' ? SIDE + k : -SIDE - k;
}

function quantile(bins: Map<number, number>, q: number): number {
  const keys = [...bins.keys()].sort((x, y) => x - y);
  let total = 0;
  for (const k of keys) total += bins.get(k) as number;
  if (!(total > 0)) return NaN;
  const rank = q * (total - 1);
  let cum = 0;
  for (const k of keys) {
    cum += bins.get(k) as number;
    if (cum > rank) return keyValue(k);
  }
  return keys.length > 0 ? keyValue(keys[keys.length - 1]) : NaN;
}

// ---- Aggregation (native/src/backend/render.rs) --------------------------------------------

interface Proc {
  id: string;
  label: string;
  started: number;
}

interface Acc {
  totals: Map<string, number>;
  /** (process index, value, server ms stamp). */
  gauges: [number, number, number][];
  bins: Map<number, number>;
}

/** One family's aggregate. */
export interface AggregateFamily {
  def: Def;
  labels: string[];
  /** Values, `stride(def)` per series. */
  values: number[];
}

function splitField(f: string): [string, string, string] | undefined {
  const a = f.indexOf('|');
  if (a < 0) return undefined;
  const b = f.indexOf('|', a + 1);
  if (b < 0) return undefined;
  return [f.slice(0, a), f.slice(a + 1, b), f.slice(b + 1)];
}

function rustMin(a: number, b: number): number {
  if (Number.isNaN(a)) return b;
  if (Number.isNaN(b)) return a;
  return Math.min(a, b);
}

function rustMax(a: number, b: number): number {
  if (Number.isNaN(a)) return b;
  if (Number.isNaN(b)) return a;
  return Math.max(a, b);
}

function processInfo(json: string, id: string): { label: string; started: number } {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    v = undefined;
  }
  const o = typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  return { label: typeof o.label === 'string' ? o.label : id, started: typeof o.started === 'number' ? o.started : 0 };
}

/** Aggregates a read into families, sorted by name, series by label bytes. */
export function aggregate(data: ReadData): AggregateFamily[] {
  const defs = new Map<string, Def>();
  for (const [name, json] of data.meta) {
    const d = parseMeta(name, json);
    if (d !== undefined) defs.set(name, d);
  }
  // Live processes, with labels made unique (§6).
  const procs: Proc[] = data.procs.map(([id, h]) => {
    const info = h.find(([k]) => k === '@')?.[1] ?? '';
    return { id, ...processInfo(info, id) };
  });
  const order = procs.map((_, i) => i);
  order.sort((a, b) => totalCmp(procs[a].started, procs[b].started) || compareUtf8(procs[a].id, procs[b].id));
  const seen = new Set<string>();
  for (const i of order) {
    if (seen.has(procs[i].label)) procs[i].label = `${procs[i].label}#${procs[i].id.slice(0, 8)}`;
    else seen.add(procs[i].label);
  }
  // name → labels → accumulated parts.
  const acc = new Map<string, Map<string, Acc>>();
  const entry = (name: string, labels: string): Acc => {
    let byLabels = acc.get(name);
    if (byLabels === undefined) acc.set(name, (byLabels = new Map()));
    let a = byLabels.get(labels);
    if (a === undefined) byLabels.set(labels, (a = { totals: new Map(), gauges: [], bins: new Map() }));
    return a;
  };
  const addBin = (a: Acc, k: number, v: number): void => {
    a.bins.set(k, (a.bins.get(k) ?? 0) + v);
  };
  for (const [f, s] of data.totals) {
    const parts = splitField(f);
    const v = parseValue(s);
    if (parts === undefined || v === undefined) continue;
    const [name, part, labels] = parts;
    const def = defs.get(name);
    if (def === undefined) continue;
    const a = entry(name, labels);
    if (def.kind === 'summary' && part !== 'count' && part !== 'sum') {
      const k = binKey(part);
      if (k !== undefined) addBin(a, k, v);
    } else {
      a.totals.set(part, v);
    }
  }
  data.procs.forEach(([, h], pi) => {
    for (const [f, s] of h) {
      const parts = splitField(f);
      if (parts === undefined) continue;
      const [name, part, labels] = parts;
      const def = defs.get(name);
      if (def === undefined) continue;
      // "<value> <server ms>"
      const sp = s.indexOf(' ');
      const val = parseValue(sp < 0 ? s : s.slice(0, sp));
      if (val === undefined) continue;
      if (def.kind === 'gauge' && part === '') {
        const stamp = sp < 0 ? '0' : s.slice(sp + 1);
        entry(name, labels).gauges.push([pi, val, (stamp.includes(' ') ? undefined : parseValue(stamp)) ?? 0]);
      } else if (def.kind === 'summary') {
        const k = binKey(part);
        if (k !== undefined) addBin(entry(name, labels), k, val);
      }
    }
  });
  const out: AggregateFamily[] = [];
  for (const name of [...defs.keys()].sort(compareUtf8)) {
    const def = defs.get(name) as Def;
    const series = acc.get(name);
    if (series === undefined) {
      out.push({ def, labels: [], values: [] });
      continue;
    }
    const perProcess = def.kind === 'gauge' && def.aggregator === 'perProcess';
    const fam: AggregateFamily = {
      def: perProcess ? { ...def, labelNames: [...def.labelNames, 'process'] } : def,
      labels: [],
      values: [],
    };
    for (const labels of [...series.keys()].sort(compareUtf8)) {
      const a = series.get(labels) as Acc;
      // A field written under another shape of the metric is skipped (§5).
      const count = labels === '' && def.labelNames.length === 0 ? 0 : labels.split('\n').length;
      if (count !== def.labelNames.length) continue;
      const total = (p: string): number => a.totals.get(p) ?? 0;
      switch (def.kind) {
        case 'counter':
          fam.labels.push(labels);
          fam.values.push(total(''));
          break;
        case 'histogram':
          fam.labels.push(labels);
          for (let i = 0; i <= def.buckets.length; i++) fam.values.push(total(`b${i}`));
          fam.values.push(total('sum'));
          break;
        case 'summary':
          fam.labels.push(labels);
          for (const q of def.quantiles) fam.values.push(quantile(a.bins, q));
          fam.values.push(total('sum'));
          fam.values.push(total('count'));
          break;
        case 'gauge': {
          if (a.gauges.length === 0) continue;
          if (perProcess) {
            const rows = [...a.gauges].sort((x, y) => compareUtf8(procs[x[0]].label, procs[y[0]].label));
            for (const [pi, v] of rows) {
              const l = escapeLabelValue(procs[pi].label);
              fam.labels.push(labels === '' && def.labelNames.length === 0 ? l : `${labels}\n${l}`);
              fam.values.push(v);
            }
            continue;
          }
          const vals = a.gauges.map((g) => g[1]);
          let v: number;
          switch (def.aggregator) {
            case 'min':
              v = vals.reduce(rustMin, Infinity);
              break;
            case 'max':
              v = vals.reduce(rustMax, -Infinity);
              break;
            case 'average':
              v = vals.reduce((x, y) => x + y, -0) / a.gauges.length;
              break;
            case 'omit':
              if (a.gauges.length !== 1) continue;
              v = a.gauges[0][1];
              break;
            case 'last': {
              let best = a.gauges[0];
              for (const g of a.gauges.slice(1)) {
                if ((totalCmp(g[2], best[2]) || compareUtf8(procs[g[0]].id, procs[best[0]].id)) >= 0) best = g;
              }
              v = best[1];
              break;
            }
            case 'first': {
              let best = a.gauges[0];
              for (const g of a.gauges.slice(1)) {
                const c =
                  totalCmp(procs[g[0]].started, procs[best[0]].started) ||
                  compareUtf8(procs[g[0]].id, procs[best[0]].id);
                if (c < 0) best = g;
              }
              v = best[1];
              break;
            }
            default:
              v = vals.reduce((x, y) => x + y, -0);
          }
          fam.labels.push(labels);
          fam.values.push(v);
        }
      }
    }
    out.push(fam);
  }
  return out;
}

// ---- Encoder (native/src/encoder.rs) -------------------------------------------------------

/** A number as Prometheus writes it (encoder.rs `write_value`). */
export function writeValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  const abs = Math.abs(v);
  if (v === Math.trunc(v) && abs < 1e15) return String(v === 0 ? 0 : v);
  if (abs >= 1e-6 && abs < 1e21) return String(v);
  // Rust's `{:e}` with JavaScript's '+' (what prom-client writes).
  return v.toExponential();
}

/** Escapes a label value (`\`, `"`, newline). */
export function escapeLabelValue(v: string): string {
  return /[\\"\n]/.test(v) ? v.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`)) : v;
}

function escapeHelp(help: string, om: boolean): string {
  return help.replace(om ? /[\\\n"]/g : /[\\\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

/** Stored form of a label the series lacks (encoder.rs `ABSENT`). */
const ABSENT = '\\a';

function expandStored(names: string[], stored: string): string {
  const values = stored.split('\n');
  const n = Math.min(names.length, values.length);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) if (values[i] !== ABSENT) parts.push(`${names[i]}="${values[i]}"`);
  return parts.join(',');
}

function stride(def: Def): number {
  switch (def.kind) {
    case 'histogram':
      return def.buckets.length + 2;
    case 'summary':
      return def.quantiles.length + 2;
    default:
      return 1;
  }
}

/**
 * Encodes families as the Rust encoder does (text 0.0.4 or OpenMetrics, no `_created`).
 * `defaultLabels` is `[name, value, …]`.
 */
export function encode(families: AggregateFamily[], openMetrics: boolean, defaultLabels: string[]): string {
  const parts: string[] = [];
  const defaults: [string, string][] = [];
  for (let i = 0; i < defaultLabels.length; i += 2) defaults.push([defaultLabels[i], defaultLabels[i + 1] ?? '']);
  for (const f of families) parts.push(encodeFamily(f, openMetrics, defaults));
  let out = parts.join(openMetrics ? '\n' : '\n\n');
  if (!openMetrics) out += '\n';
  else out += `${families.length > 0 ? '\n' : ''}# EOF\n`;
  return out;
}

function encodeFamily(f: AggregateFamily, om: boolean, defaultLabels: [string, string][]): string {
  const def = f.def;
  const name =
    om && def.kind === 'counter' && def.name.endsWith('_total') ? def.name.slice(0, -'_total'.length) : def.name;
  let out = `# HELP ${name} ${escapeHelp(def.help, om)}\n# TYPE ${name} ${def.kind}`;
  // `le`/`quantile` belong to the type's samples; a series' own label wins (per series: it
  // may lack a label); prom-client's order: `le`/`quantile`, then a histogram's defaults
  // before its labels, every other type's after them.
  const applicable = defaultLabels.filter(
    ([n]) => !((def.kind === 'histogram' && n === 'le') || (def.kind === 'summary' && n === 'quantile')),
  );
  const st = stride(def);
  for (let s = 0; s < f.labels.length; s++) {
    const pairs = expandStored(def.labelNames, f.labels[s]);
    const values = f.labels[s].split('\n');
    const defaults = applicable
      .filter(([n]) => {
        const i = def.labelNames.indexOf(n);
        return i < 0 || values[i] === undefined || values[i] === ABSENT;
      })
      .map(([n, v]) => `${n}="${escapeLabelValue(v)}"`)
      .join(',');
    const labels = (extra?: [string, string]): string => {
      if (pairs === '' && defaults === '' && extra === undefined) return '';
      const items = def.kind === 'histogram' ? [defaults, pairs] : [pairs, defaults];
      if (extra !== undefined) items.unshift(`${extra[0]}="${extra[1]}"`);
      return `{${items.filter((x) => x !== '').join(',')}}`;
    };
    const v = f.values.slice(s * st, (s + 1) * st);
    const sample = (suffix: string, value: number, extra?: [string, string]): void => {
      out += `\n${name}${suffix}${labels(extra)} ${writeValue(value)}`;
    };
    switch (def.kind) {
      case 'counter':
        sample(om ? '_total' : '', v[0]);
        break;
      case 'gauge':
        sample('', v[0]);
        break;
      case 'histogram': {
        const nb = def.buckets.length;
        let cum = 0;
        for (let i = 0; i < nb; i++) {
          cum += v[i];
          sample('_bucket', cum, ['le', writeValue(def.buckets[i])]);
        }
        cum += v[nb];
        sample('_bucket', cum, ['le', '+Inf']);
        sample('_sum', v[nb + 1]);
        sample('_count', cum);
        break;
      }
      case 'summary': {
        const nq = def.quantiles.length;
        for (let i = 0; i < nq; i++) sample('', v[i], ['quantile', writeValue(def.quantiles[i])]);
        sample('_sum', v[nq]);
        sample('_count', v[nq + 1]);
        break;
      }
    }
  }
  return out;
}
