// The differential corpus: small programs written against prom-client's API, each run once with
// prom-client and once with promsd (in separate processes, see run-program.js). `P` is the
// library; `out.text(s)` and `out.json(v)` record what is compared.
const programs = {
  async counter_basic(P, out) {
    const c = new P.Counter({ name: 'jobs_total', help: 'Jobs done.' });
    c.inc();
    c.inc(5);
    c.inc(0.25);
    out.text(await P.register.metrics());
    out.json(await P.register.getMetricsAsJSON());
  },
  async counter_labels(P, out) {
    const c = new P.Counter({
      name: 'http_requests_total',
      help: 'Requests.',
      labelNames: ['method', 'route', 'code'],
    });
    c.inc({ route: '/a', method: 'GET', code: '200' });
    c.inc({ route: '/a', method: 'GET', code: '200' }, 2);
    c.inc({ route: '/b', method: 'POST', code: '500' });
    out.text(await P.register.metrics());
    out.json(await P.register.getMetricsAsJSON());
  },
  async counter_positional(P, out) {
    const c = new P.Counter({ name: 'calls_total', help: 'Calls.', labelNames: ['method', 'code'] });
    c.labels('GET', '200').inc();
    c.labels('GET', 404).inc(3);
    c.labels({ method: 'PUT', code: '201' }).inc(2);
    out.text(await P.register.metrics());
  },
  async counter_number_labels(P, out) {
    const c = new P.Counter({ name: 'codes_total', help: 'Codes.', labelNames: ['code', 'shard'] });
    c.inc({ code: 200, shard: 1 });
    c.inc({ code: 200, shard: 1 });
    c.inc({ code: '200', shard: '1' });
    c.inc({ code: 1.5, shard: -2 });
    out.text(await P.register.metrics());
  },
  async counter_partial_labels(P, out) {
    const c = new P.Counter({ name: 'partial_total', help: 'Partial.', labelNames: ['method', 'route', 'code'] });
    c.inc({ method: 'GET' });
    c.inc({ method: 'GET', code: '200' });
    c.inc();
    c.inc({ method: 'GET' }, 4);
    out.text(await P.register.metrics());
    out.json(await P.register.getMetricsAsJSON());
  },
  async counter_nonstring_labels(P, out) {
    const c = new P.Counter({ name: 'odd_total', help: 'Odd values.', labelNames: ['a', 'b'] });
    c.inc({ a: true, b: null });
    c.inc({ a: false, b: 10n });
    c.inc({ a: { x: 1 }, b: [1, 2] });
    c.inc({ a: true, b: null });
    out.text(await P.register.metrics());
  },
  async gauge_ops(P, out) {
    const g = new P.Gauge({ name: 'queue_depth', help: 'Depth.', labelNames: ['queue'] });
    g.set({ queue: 'a' }, 10);
    g.inc({ queue: 'a' });
    g.dec({ queue: 'a' }, 3.5);
    g.inc({ queue: 'b' }, 2);
    g.dec({ queue: 'c' });
    const g0 = new P.Gauge({ name: 'temperature', help: 'Temp.' });
    g0.set(21.5);
    g0.inc();
    out.text(await P.register.metrics());
    out.json(await P.register.getMetricsAsJSON());
  },
  async gauge_children_and_remove(P, out) {
    const g = new P.Gauge({ name: 'pool_size', help: 'Pool.', labelNames: ['pool'] });
    const a = g.labels('a');
    a.set(3);
    a.inc(2);
    g.labels('b').set(7);
    g.labels('c').set(1);
    g.remove('b');
    g.remove({ pool: 'missing' });
    out.text(await P.register.metrics());
  },
  async histogram_default_buckets(P, out) {
    const h = new P.Histogram({ name: 'latency_seconds', help: 'Latency.' });
    for (const v of [0.001, 0.005, 0.02, 0.3, 0.3, 2, 7, 100]) h.observe(v);
    out.text(await P.register.metrics());
    out.json(await P.register.getMetricsAsJSON());
  },
  async histogram_labels_zero(P, out) {
    const h = new P.Histogram({ name: 'rpc_seconds', help: 'RPC.', labelNames: ['method'], buckets: [0.1, 1, 10] });
    h.observe({ method: 'get' }, 0.05);
    h.observe({ method: 'get' }, 5);
    h.zero({ method: 'put' });
    h.labels('post').observe(1);
    out.text(await P.register.metrics());
    out.json(await P.register.getMetricsAsJSON());
  },
  async histogram_generated_buckets(P, out) {
    const a = new P.Histogram({ name: 'lin', help: 'Linear.', buckets: P.linearBuckets(0, 0.5, 4) });
    const b = new P.Histogram({ name: 'exp', help: 'Exponential.', buckets: P.exponentialBuckets(1, 2, 5) });
    for (const v of [0, 0.4, 0.5, 1.2, 3]) a.observe(v);
    for (const v of [1, 3, 9, 20]) b.observe(v);
    out.text(await P.register.metrics());
  },
  async histogram_remove_reset(P, out) {
    const h = new P.Histogram({ name: 'size_bytes', help: 'Sizes.', labelNames: ['kind'], buckets: [10, 100] });
    h.observe({ kind: 'a' }, 5);
    h.observe({ kind: 'b' }, 50);
    h.remove({ kind: 'a' });
    out.text(await P.register.metrics());
    h.reset();
    h.observe({ kind: 'c' }, 500);
    out.text(await P.register.metrics());
  },
  async summary_basic(P, out) {
    const s = new P.Summary({ name: 'payload_bytes', help: 'Payloads.' });
    for (let i = 1; i <= 100; i++) s.observe(i);
    out.text(await P.register.metrics());
    out.json(await P.register.getMetricsAsJSON());
  },
  async summary_labels_percentiles(P, out) {
    const s = new P.Summary({
      name: 'job_seconds',
      help: 'Jobs.',
      labelNames: ['queue'],
      percentiles: [0.1, 0.5, 0.99],
    });
    for (let i = 0; i < 50; i++) s.observe({ queue: 'a' }, i / 10);
    s.labels('b').observe(3);
    out.text(await P.register.metrics());
  },
  async summary_reset(P, out) {
    const s = new P.Summary({ name: 'empty_seconds', help: 'Reset.', percentiles: [0.5] });
    s.observe(4);
    s.reset();
    out.text(await P.register.metrics());
    out.json(await P.register.getMetricsAsJSON());
  },
  async summary_window(P, out) {
    const s = new P.Summary({
      name: 'win_seconds',
      help: 'Window.',
      maxAgeSeconds: 600,
      ageBuckets: 3,
      percentiles: [0.5],
    });
    for (const v of [1, 2, 3]) s.observe(v);
    out.text(await P.register.metrics());
  },
  async default_labels_counter_gauge(P, out) {
    P.register.setDefaultLabels({ service: 'api', region: 'eu' });
    new P.Counter({ name: 'hits_total', help: 'Hits.', labelNames: ['path'] }).inc({ path: '/' });
    new P.Gauge({ name: 'up', help: 'Up.' }).set(1);
    out.text(await P.register.metrics());
    out.json(await P.register.getMetricsAsJSON());
  },
  async default_labels_histogram_summary(P, out) {
    P.register.setDefaultLabels({ service: 'api' });
    const h = new P.Histogram({ name: 'dur_seconds', help: 'Durations.', labelNames: ['op'], buckets: [1] });
    h.observe({ op: 'read' }, 0.5);
    const s = new P.Summary({ name: 'sz', help: 'Sizes.', labelNames: ['op'], percentiles: [0.5] });
    s.observe({ op: 'read' }, 2);
    out.text(await P.register.metrics());
    out.json(await P.register.getMetricsAsJSON());
  },
  async default_labels_override(P, out) {
    P.register.setDefaultLabels({ env: 'prod', method: 'none' });
    const c = new P.Counter({ name: 'ops_total', help: 'Ops.', labelNames: ['method'] });
    c.inc({ method: 'GET' });
    c.inc();
    out.text(await P.register.metrics());
  },
  async several_registries(P, out) {
    const a = new P.Registry();
    const b = new P.Registry();
    new P.Counter({ name: 'a_total', help: 'A.', registers: [a] }).inc(2);
    new P.Gauge({ name: 'shared', help: 'Both.', registers: [a, b] }).set(9);
    new P.Counter({ name: 'b_total', help: 'B.', registers: [b] }).inc();
    out.text(await a.metrics());
    out.text(await b.metrics());
    out.text(await P.register.metrics());
  },
  async registry_merge(P, out) {
    const a = new P.Registry();
    const b = new P.Registry();
    new P.Counter({ name: 'first_total', help: 'First.', registers: [a] }).inc();
    new P.Gauge({ name: 'second', help: 'Second.', registers: [b] }).set(2);
    const merged = P.Registry.merge([a, b]);
    out.text(await merged.metrics());
    out.json(await merged.getMetricsAsJSON());
  },
  async reset_metrics(P, out) {
    const c = new P.Counter({ name: 'r_total', help: 'R.' });
    const g = new P.Gauge({ name: 'r_gauge', help: 'G.', labelNames: ['x'] });
    c.inc(3);
    g.set({ x: '1' }, 4);
    P.register.resetMetrics();
    c.inc();
    out.text(await P.register.metrics());
  },
  async clear_and_reregister(P, out) {
    new P.Counter({ name: 'old_total', help: 'Old.' }).inc();
    P.register.clear();
    new P.Counter({ name: 'old_total', help: 'New.' }).inc(7);
    out.text(await P.register.metrics());
  },
  async single_metric_access(P, out) {
    new P.Counter({ name: 'one_total', help: 'One.' }).inc();
    new P.Gauge({ name: 'two', help: 'Two.' }).set(2);
    out.text(await P.register.getSingleMetricAsString('two'));
    out.json((await P.register.getSingleMetric('one_total').get()).values);
    P.register.removeSingleMetric('one_total');
    out.text(await P.register.metrics());
    out.json(P.register.getMetricsAsArray().map((m) => m.name));
  },
  async openmetrics_all_types(P, out) {
    const reg = new P.Registry(P.Registry.OPENMETRICS_CONTENT_TYPE);
    new P.Counter({ name: 'om_requests_total', help: 'Requests.', labelNames: ['m'], registers: [reg] }).inc({
      m: 'a',
    });
    new P.Gauge({ name: 'om_gauge', help: 'Gauge.', registers: [reg] }).set(3);
    new P.Histogram({ name: 'om_hist', help: 'Hist.', buckets: [1], registers: [reg] }).observe(0.5);
    new P.Summary({ name: 'om_sum', help: 'Summary.', percentiles: [0.5], registers: [reg] }).observe(1);
    out.text(await reg.metrics());
  },
  async openmetrics_counter_without_total(P, out) {
    const reg = new P.Registry(P.Registry.OPENMETRICS_CONTENT_TYPE);
    new P.Counter({ name: 'bytes', help: 'Bytes.', registers: [reg] }).inc(10);
    out.text(await reg.metrics());
  },
  async exemplars_counter(P, out) {
    const reg = new P.Registry(P.Registry.OPENMETRICS_CONTENT_TYPE);
    const c = new P.Counter({
      name: 'traced_total',
      help: 'Traced.',
      labelNames: ['method'],
      enableExemplars: true,
      registers: [reg],
    });
    c.inc({ labels: { method: 'GET' }, value: 2, exemplarLabels: { trace_id: 'abc' } });
    c.inc({ labels: { method: 'POST' }, value: 1 });
    // JSON first: prom-client's metrics() renames an OpenMetrics registry's counters for good.
    out.json(await reg.getMetricsAsJSON());
    out.text(await reg.metrics());
  },
  async exemplars_histogram(P, out) {
    const reg = new P.Registry(P.Registry.OPENMETRICS_CONTENT_TYPE);
    const h = new P.Histogram({
      name: 'traced_seconds',
      help: 'Traced.',
      buckets: [0.1, 1],
      enableExemplars: true,
      registers: [reg],
    });
    h.observe({ value: 0.5, labels: {}, exemplarLabels: { trace_id: 'def', span_id: '7' } });
    h.observe({ value: 0.05, labels: {}, exemplarLabels: { trace_id: 'ghi' } });
    out.text(await reg.metrics());
    out.json(await reg.getMetricsAsJSON());
  },
  async collector_object(P, out) {
    const reg = new P.Registry();
    reg.setDefaultLabels({ host: 'h1' });
    new P.Gauge({ name: 'native_gauge', help: 'Native.', registers: [reg] }).set(1);
    reg.registerMetric({
      name: 'custom_total',
      help: 'Custom collector.',
      type: 'counter',
      aggregator: 'sum',
      get() {
        return {
          name: 'custom_total',
          help: 'Custom collector.',
          type: 'counter',
          aggregator: 'sum',
          values: [
            { value: 3, labels: { kind: 'a' } },
            { value: 4, labels: {} },
          ],
        };
      },
      reset() {},
    });
    new P.Counter({ name: 'after_total', help: 'After.', registers: [reg] }).inc();
    out.text(await reg.metrics());
    out.text(await reg.getSingleMetricAsString('custom_total'));
    out.json(await reg.getMetricsAsJSON());
  },
  async collect_callbacks(P, out) {
    let n = 0;
    new P.Gauge({
      name: 'collected',
      help: 'Set at scrape.',
      collect() {
        this.set(++n);
      },
    });
    new P.Gauge({
      name: 'collected_async',
      help: 'Set at scrape, async.',
      labelNames: ['k'],
      async collect() {
        await new Promise((r) => setTimeout(r, 5));
        this.set({ k: 'x' }, 42);
      },
    });
    out.text(await P.register.metrics());
    out.text(await P.register.metrics());
  },
  async escaping(P, out) {
    const c = new P.Counter({
      name: 'esc_total',
      help: 'Help with \\ backslash\nand newline "quoted".',
      labelNames: ['v'],
    });
    c.inc({ v: 'quote " backslash \\ newline \n end' });
    c.inc({ v: 'ünïcödé 😀' });
    out.text(await P.register.metrics());
  },
  async special_values(P, out) {
    const g = new P.Gauge({ name: 'special', help: 'Special.', labelNames: ['k'] });
    g.set({ k: 'nan' }, Number.NaN);
    g.set({ k: 'inf' }, Number.POSITIVE_INFINITY);
    g.set({ k: 'ninf' }, Number.NEGATIVE_INFINITY);
    g.set({ k: 'neg0' }, -0);
    out.text(await P.register.metrics());
  },
  async number_formats(P, out) {
    const g = new P.Gauge({ name: 'nums', help: 'Numbers.', labelNames: ['i'] });
    const values = [0.1 + 0.2, 1e21, 1.5e300, 1e-7, -2.5e-10, 123456789012345, 1e15, 2 ** 53 + 2, 5e-324, -7, 1 / 3];
    for (const [i, v] of values.entries()) g.set({ i }, v);
    out.text(await P.register.metrics());
  },
  async get_each_type(P, out) {
    const c = new P.Counter({ name: 'gc_total', help: 'C.', labelNames: ['a'] });
    const g = new P.Gauge({ name: 'gg', help: 'G.' });
    const h = new P.Histogram({ name: 'gh', help: 'H.', buckets: [1], labelNames: ['a'] });
    const s = new P.Summary({ name: 'gs', help: 'S.', percentiles: [0.5] });
    c.inc({ a: 'x' }, 2);
    g.set(5);
    h.observe({ a: 'y' }, 2);
    s.observe(1);
    for (const m of [c, g, h, s]) out.json(await m.get());
  },
  async set_content_type(P, out) {
    new P.Counter({ name: 'switch_total', help: 'Switch.' }).inc();
    out.text(await P.register.metrics());
    P.register.setContentType(P.Registry.OPENMETRICS_CONTENT_TYPE);
    out.json([P.register.contentType, P.contentType, P.openMetricsContentType, P.prometheusContentType]);
    out.text(await P.register.metrics());
  },
  async default_metrics_names(P, out) {
    const reg = new P.Registry();
    P.collectDefaultMetrics({ register: reg, prefix: 'app_', labels: { app: 'x' } });
    const text = await reg.metrics();
    // Values are measurements; the families (names, help, types) must be the same.
    out.text(
      text
        .split('\n')
        .filter((l) => l.startsWith('# '))
        .join('\n'),
    );
    out.json(P.collectDefaultMetrics.metricsList);
  },
  async aggregator_registry_aggregate(P, out) {
    const arrays = [];
    for (const n of [1, 2, 3]) {
      const reg = new P.Registry();
      new P.Counter({ name: 'agg_total', help: 'Agg.', labelNames: ['w'], registers: [reg] }).inc({ w: 'all' }, n);
      new P.Gauge({ name: 'agg_max', help: 'Max.', aggregator: 'max', registers: [reg] }).set(n * 10);
      new P.Gauge({ name: 'agg_first', help: 'First.', aggregator: 'first', registers: [reg] }).set(n);
      new P.Histogram({ name: 'agg_h', help: 'H.', buckets: [2], registers: [reg] }).observe(n);
      arrays.push(await reg.getMetricsAsJSON());
    }
    const reg = P.AggregatorRegistry.aggregate(arrays);
    out.text(await reg.metrics());
    out.json(await reg.getMetricsAsJSON());
  },
  async validation_helpers(P, out) {
    out.json([P.validateMetricName('ok_name'), P.validateMetricName('1bad')]);
  },
  async empty_registries(P, out) {
    out.text(await new P.Registry().metrics());
    new P.Counter({ name: 'never_total', help: 'Never incremented.', labelNames: ['x'] });
    out.text(await P.register.metrics());
    out.text(await new P.Registry(P.Registry.OPENMETRICS_CONTENT_TYPE).metrics());
  },
};

module.exports = programs;
