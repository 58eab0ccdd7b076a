// prom-client's `values` shape, built from the core's snapshot of a family (get() and getMetricsAsJSON()).
import type { LabelValues } from './labels';
import type { MetricValue } from './metric';
import type { native } from './native';

type Snapshot = NonNullable<ReturnType<typeof native.snapshotFamily>>;

type ExemplarSnap = Snapshot['series'][number]['exemplars'][number];

/** prom-client's exemplar shape (`{ labelSet, value, timestamp }`), or null. */
function exemplarOf(e: ExemplarSnap | undefined): MetricValue<string>['exemplar'] {
  if (e === undefined || e === null) return null;
  const labelSet: Record<string, string> = {};
  for (let i = 0; i + 1 < e.labels.length; i += 2) labelSet[e.labels[i]] = e.labels[i + 1];
  return { labelSet, value: e.value, timestamp: e.timestamp };
}

/**
 * Turns a native snapshot into prom-client's `values` array. `exemplars`: whether the metric has
 * them enabled (prom-client then leaves the +Inf bucket's `exemplar` undefined until one is set).
 */
export function valuesOf<T extends string>(snap: Snapshot, exemplars = false): MetricValue<T>[] {
  const out: MetricValue<T>[] = [];
  for (const s of snap.series) {
    const labels: Record<string, string | number> = {};
    for (let i = 0; i < snap.labelNames.length; i++) {
      const value = s.labelValues[i];
      // null: a label the series lacks (prom-client accepts partial label sets).
      if (value !== null && value !== undefined) labels[snap.labelNames[i] as string] = value;
    }
    const v = s.values;
    switch (snap.kind) {
      case 'counter': {
        const value: MetricValue<T> = { value: v[0], labels: labels as LabelValues<T> };
        // prom-client's counters carry `exemplar` once one was recorded.
        const ex = exemplarOf(s.exemplars[0]);
        if (ex !== null) value.exemplar = ex;
        out.push(value);
        break;
      }
      case 'gauge':
        out.push({ value: v[0], labels: labels as LabelValues<T> });
        break;
      case 'histogram': {
        let cum = 0;
        snap.buckets.forEach((b, i) => {
          cum += v[i];
          out.push({
            value: cum,
            labels: { le: b, ...labels } as LabelValues<T>,
            metricName: `${snap.name}_bucket`,
            exemplar: exemplarOf(s.exemplars[i]),
          });
        });
        cum += v[snap.buckets.length];
        out.push({
          value: cum,
          labels: { le: '+Inf', ...labels } as LabelValues<T>,
          metricName: `${snap.name}_bucket`,
          exemplar: exemplarOf(s.exemplars[snap.buckets.length]) ?? (exemplars ? undefined : null),
        });
        out.push({
          value: v[snap.buckets.length + 1],
          labels: labels as LabelValues<T>,
          metricName: `${snap.name}_sum`,
        });
        out.push({ value: cum, labels: labels as LabelValues<T>, metricName: `${snap.name}_count` });
        break;
      }
      case 'summary': {
        for (const [i, q] of snap.quantiles.entries()) {
          out.push({ value: v[i], labels: { quantile: q, ...labels } as LabelValues<T> });
        }
        const n = snap.quantiles.length;
        out.push({ value: v[n], labels: labels as LabelValues<T>, metricName: `${snap.name}_sum` });
        out.push({ value: v[n + 1], labels: labels as LabelValues<T>, metricName: `${snap.name}_count` });
        break;
      }
    }
  }
  return out;
}
