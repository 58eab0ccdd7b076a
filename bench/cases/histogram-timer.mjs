// `const end = histogram.startTimer(); end()`: the timer pair around an unlabelled observe.
import { loadLib, measure, nsPerOp, check, report, RUNS } from '../lib.mjs';

const { Histogram } = loadLib();
const N = 2e6;
const h = new Histogram({ name: 'bench_timer_seconds', help: 'h' });

const r = await measure('ns/op', () =>
  nsPerOp(N, (n) => {
    for (let i = 0; i < n; i++) h.startTimer()();
  }),
);
const { values } = await h.get();
const count = values.find((v) => v.metricName === 'bench_timer_seconds_count').value;
check('histogram count', count, (RUNS + 1) * N);
report(r);
