// The differences between prom-client's output and promsd's that the README lists as promsd
// being more correct; the differential test removes exactly these, nothing else.

/** Text exposition, normalised. */
export function normalizeText(text: string): string {
  const lines = text.split('\n');
  let family = '';
  const out = lines.map((line) => {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) family = type[2];
    // 1. prom-client spells NaN `Nan` (Prometheus rejects it).
    let l = line.replace(/ Nan$/, ' NaN').replace(/ Nan( # )/, ' NaN$1');
    // 2. Summary quantiles come from a mergeable sketch (within 1 %), not a t-digest; an empty
    //    window reports NaN (as Prometheus's clients do) where prom-client reports 0.
    if (family === 'summary' && /quantile="/.test(l) && !l.startsWith('#')) l = l.replace(/ \S+$/, ' <quantile>');
    // 3. Exemplar timestamps are the time of the update.
    l = l.replace(/( # \{[^}]*\} \S+) \d+(\.\d+)?$/, '$1 <timestamp>');
    return l;
  });
  // 4. An empty OpenMetrics exposition is `# EOF` alone (prom-client writes a blank line first,
  //    which the OpenMetrics grammar forbids).
  const joined = out.join('\n');
  return joined === '\n# EOF\n' ? '# EOF\n' : joined;
}

/** getMetricsAsJSON() / get() values, normalised for a structural comparison. */
export function normalizeJson(value: unknown, inSummary = false): unknown {
  if (Array.isArray(value)) return value.map((v) => normalizeJson(v, inSummary));
  if (typeof value !== 'object' || value === null) return value;
  const o = value as Record<string, unknown>;
  const summary = inSummary || o.type === 'summary';
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (k === 'labels' && typeof v === 'object' && v !== null) {
      // 5. Label values come back as the strings the series stores (prom-client returns the
      //    first call's values, numbers included); `le` and `quantile` stay numbers.
      const labels: Record<string, unknown> = {};
      for (const [n, x] of Object.entries(v)) labels[n] = n === 'le' || n === 'quantile' ? x : String(x);
      out[k] = labels;
    } else if (k === 'timestamp' && typeof v === 'number') {
      out[k] = '<timestamp>';
    } else {
      out[k] = normalizeJson(v, summary);
    }
  }
  if (summary && typeof out.labels === 'object' && out.labels !== null && 'quantile' in out.labels) {
    out.value = '<quantile>';
  }
  return out;
}
