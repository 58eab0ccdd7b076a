// Hand-written collectors: objects in prom-client's metric shape (`name`, `help`, `type`,
// `get()`) registered with `registry.registerMetric(obj)`. Their values never reach the core:
// they are rendered here, in prom-client's layout, and spliced into the core's exposition.
import { InvalidMetricError, show } from '../errors';
import type { MetricObjectWithValues, MetricValue } from './metric';

/** A value of a collector's `get()`: prom-client's shape, plus its `sharedLabels`. */
export interface CollectorValue extends MetricValue<string> {
  sharedLabels?: Record<string, string | number>;
}

/**
 * An object registered as a metric without being one of promsd's metric classes (prom-client
 * accepts any object of this shape).
 */
export interface MetricCollector {
  name: string;
  help: string;
  type: string;
  aggregator?: string;
  get(): MetricObjectWithValues<string> | Promise<MetricObjectWithValues<string>>;
  reset?(): void;
}

/** Checks an object passed to `registerMetric` that is not a promsd metric. */
export function checkCollector(obj: unknown): MetricCollector {
  if (typeof obj !== 'object' || obj === null) {
    throw new InvalidMetricError(`registerMetric: expected a metric or a collector object, got ${show(obj)}`);
  }
  const c = obj as Partial<MetricCollector>;
  // Only get() is required: prom-client keys collectors by `name` without checking it, and
  // renders what get() returns.
  if (typeof c.get !== 'function') {
    throw new InvalidMetricError(`registerMetric: collector ${show(c.name)} has no get() function`);
  }
  return c as MetricCollector;
}

function escapeText(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function labelValue(v: unknown): string {
  return typeof v === 'string' ? escapeText(v).replace(/"/g, '\\"') : String(v);
}

function format(labels: Record<string, unknown>, exclude?: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(labels)) {
    if (exclude === undefined || !Object.hasOwn(exclude, k)) out.push(`${k}="${labelValue(v)}"`);
  }
  return out;
}

/** A number as the core writes it (native/src/encoder.rs `write_value`). */
export function writeNumber(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** One collector's family in prom-client's layout (without a trailing newline). */
export async function renderCollector(
  c: MetricCollector,
  defaultLabels: Record<string, string>,
  openMetrics: boolean,
): Promise<string> {
  // prom-client's registry prefers getForPromString (values with their `sharedLabels` apart).
  const forText = (c as { getForPromString?: () => unknown }).getForPromString;
  const m = (await (typeof forText === 'function' ? forText.call(c) : c.get())) as MetricObjectWithValues<string>;
  const baseName = openMetrics && m.type === 'counter' ? m.name.replace(/_total$/, '') : m.name;
  const name = escapeText(baseName);
  const lines = [`# HELP ${name} ${escapeText(m.help)}`, `# TYPE ${name} ${m.type}`];
  const hasDefaults = Object.keys(defaultLabels).length > 0;
  for (const val of (m.values ?? []) as CollectorValue[]) {
    let metricName = val.metricName ?? name;
    if (openMetrics && m.type === 'counter') metricName = `${metricName}_total`;
    let labels: Record<string, unknown> = val.labels ?? {};
    const shared = val.sharedLabels ?? {};
    if (hasDefaults) labels = { ...labels, ...defaultLabels, ...labels };
    const parts = [...format(labels, shared), format(shared).join(',')].filter(Boolean);
    let line = `${metricName}${parts.length ? `{${parts.join(',')}}` : ''} ${writeNumber(val.value)}`;
    const ex = val.exemplar;
    if (ex && openMetrics) {
      line += ` # {${format(ex.labelSet).join(',')}} ${writeNumber(ex.value)} ${ex.timestamp}`;
    }
    lines.push(line);
  }
  return lines.join('\n');
}

/**
 * Splits an exposition into its families, by exposed name (`# HELP <name> …` opens each).
 * The `# EOF` line of OpenMetrics is dropped.
 */
export function splitFamilies(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const body = text.replace(/\n?# EOF\n$/, '').replace(/\n+$/, '');
  if (body === '') return out;
  for (const block of body.split(/\n(?=# HELP )/)) {
    const name = /^# HELP (\S+)/.exec(block)?.[1];
    if (name !== undefined) out.set(name, block.replace(/\n+$/, ''));
  }
  return out;
}
