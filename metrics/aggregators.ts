// prom-client's `aggregators`: functions that combine one metric's `get()` results from several
// registries (or processes) into one, series by series. AggregatorRegistry.aggregate() uses
// them on prom-client's JSON shape; the core's merge does the same job for live metrics.
import type { MetricObjectWithValues, MetricValue } from './metric';

/** Combines the same metric from several sources; `undefined` omits it. */
export type AggregatorFunction = (
  metrics: MetricObjectWithValues<string>[],
) => MetricObjectWithValues<string> | undefined;

/** prom-client's series key: sorted `name:value,` pairs, undefined values skipped. */
function labelKey(labels: Record<string, unknown>): string {
  const keys = Object.keys(labels).sort();
  let key = '';
  for (const k of keys) if (labels[k] !== undefined) key += `${k}:${String(labels[k])},`;
  return key;
}

/** An aggregator applying `fn` to the values of each series (prom-client's AggregatorFactory). */
export function AggregatorFactory(fn: (values: MetricValue<string>[]) => number): AggregatorFunction {
  return (metrics) => {
    if (metrics.length === 0) return undefined;
    const first = metrics[0];
    const groups = new Map<string, MetricValue<string>[]>();
    for (const m of metrics) {
      for (const v of m.values) {
        const key = `${v.metricName}_${labelKey(v.labels as Record<string, unknown>)}`;
        let g = groups.get(key);
        if (g === undefined) groups.set(key, (g = []));
        g.push(v);
      }
    }
    const values: MetricValue<string>[] = [];
    for (const g of groups.values()) {
      const out: MetricValue<string> = { value: fn(g), labels: g[0].labels };
      if (g[0].metricName) out.metricName = g[0].metricName;
      values.push(out);
    }
    return { help: first.help, name: first.name, type: first.type, values, aggregator: first.aggregator };
  };
}

/** prom-client's aggregators, by the names metrics use in `aggregator`. */
export const aggregators: Readonly<Record<'sum' | 'first' | 'omit' | 'average' | 'min' | 'max', AggregatorFunction>> =
  Object.freeze({
    sum: AggregatorFactory((v) => v.reduce((p, c) => p + c.value, 0)),
    first: AggregatorFactory((v) => v[0].value),
    omit: () => undefined,
    average: AggregatorFactory((v) => v.reduce((p, c) => p + c.value, 0) / v.length),
    min: AggregatorFactory((v) => v.reduce((p, c) => Math.min(p, c.value), Infinity)),
    max: AggregatorFactory((v) => v.reduce((p, c) => Math.max(p, c.value), -Infinity)),
  });
