// prom-client's `values` shape, built from the core's snapshot of a family (get() and getMetricsAsJSON()).
import type { LabelValues } from './labels';
import type { MetricValue } from './metric';
import type { native } from './native';

type Snapshot = NonNullable<ReturnType<typeof native.snapshotFamily>>;

/** Turns a native snapshot into prom-client's `values` array. */
export function valuesOf<T extends string>(snap: Snapshot): MetricValue<T>[] {
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
      case 'counter':
      case 'gauge':
        out.push({ value: v[0], labels: labels as LabelValues<T> });
        break;
      case 'histogram': {
        let cum = 0;
        snap.buckets.forEach((b, i) => {
          cum += v[i];
          out.push({ value: cum, labels: { ...labels, le: b } as LabelValues<T>, metricName: `${snap.name}_bucket` });
        });
        cum += v[snap.buckets.length];
        out.push({
          value: cum,
          labels: { ...labels, le: '+Inf' } as LabelValues<T>,
          metricName: `${snap.name}_bucket`,
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
          out.push({ value: v[i], labels: { ...labels, quantile: q } as LabelValues<T> });
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
