// `const end = histogram.startTimer(); end()`: the timer pair around an unlabelled observe.
import { loadLib, measure, nsPerOp, check, report, RUNS, WARMUP } from '../lib.mjs';

const { Histogram } = loadLib();
const N = 2e6;
const h = new Histogram({ name: 'bench_timer_seconds', help: 'h' });

// The timed loop is defined once, so every run reuses its optimised code (steady state).
const loop = (n) => {
  for (let i = 0; i < n; i++) h.startTimer()();
};

const r = await measure('ns/op', () => nsPerOp(N, loop));
const { values } = await h.get();
const count = values.find((v) => v.metricName === 'bench_timer_seconds_count').value;
check('histogram count', count, (RUNS + WARMUP) * N);
report(r);
