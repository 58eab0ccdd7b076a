// Unlabelled histogram.observe(v), default buckets, v precomputed in [0, 2)
// so observations spread over the buckets instead of always hitting one.
import { loadLib, measure, nsPerOp, check, report, RUNS, WARMUP } from '../lib.mjs';

const { Histogram } = loadLib();
const N = 5e6;
const V = Float64Array.from({ length: 1024 }, () => Math.random() * 2);
const h = new Histogram({ name: 'bench_duration_seconds', help: 'h' });

// The timed loop is defined once, so every run reuses its optimised code (steady state).
const loop = (n) => {
  for (let i = 0; i < n; i++) h.observe(V[i & 1023]);
};

const r = await measure('ns/op', () => nsPerOp(N, loop));
const { values } = await h.get();
const count = values.find((v) => v.metricName === 'bench_duration_seconds_count').value;
check('histogram count', count, (RUNS + WARMUP) * N);
report(r);
