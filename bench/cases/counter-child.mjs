// Cached child: labels() resolved once, then child.inc() in the loop.
import { loadLib, measure, nsPerOp, total, check, report, RUNS, WARMUP } from '../lib.mjs';

const { Counter } = loadLib();
const N = 5e6;
const c = new Counter({ name: 'bench_requests_total', help: 'h', labelNames: ['method', 'status'] });
const child = c.labels('GET', '200');

// The timed loop is defined once, so every run reuses its optimised code (steady state).
const loop = (n) => {
  for (let i = 0; i < n; i++) child.inc();
};

const r = await measure('ns/op', () => nsPerOp(N, loop));
check('counter value', await total(c), (RUNS + WARMUP) * N);
report(r);
