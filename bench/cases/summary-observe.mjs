// Unlabelled summary.observe(v), default percentiles, no window (prom-client's default), v
// precomputed in [0, 2) so observations spread over the sketch.
import { loadLib, measure, nsPerOp, check, report, RUNS, WARMUP } from '../lib.mjs';

const { Summary } = loadLib();
const N = 2e6;
const V = Float64Array.from({ length: 1024 }, () => Math.random() * 2);
const s = new Summary({ name: 'bench_summary_seconds', help: 'h' });

// The timed loop is defined once, so every run reuses its optimised code (steady state).
const loop = (n) => {
  for (let i = 0; i < n; i++) s.observe(V[i & 1023]);
};

const r = await measure('ns/op', () => nsPerOp(N, loop));
const { values } = await s.get();
const count = values.find((v) => v.metricName === 'bench_summary_seconds_count').value;
check('summary count', count, (RUNS + WARMUP) * N);
report(r);
