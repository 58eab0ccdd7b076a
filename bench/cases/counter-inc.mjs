// Unlabelled counter.inc() (information only, no target).
import { loadLib, measure, nsPerOp, total, check, report, RUNS, WARMUP } from '../lib.mjs';

const { Counter } = loadLib();
const N = 5e6;
const c = new Counter({ name: 'bench_events_total', help: 'h' });

// The timed loop is defined once, so every run reuses its optimised code (steady state).
const loop = (n) => {
  for (let i = 0; i < n; i++) c.inc();
};

const r = await measure('ns/op', () => nsPerOp(N, loop));
check('counter value', await total(c), (RUNS + WARMUP) * N);
report(r);
