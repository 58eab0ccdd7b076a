// Cached child: labels() resolved once, then child.inc() in the loop.
import { loadLib, measure, nsPerOp, total, check, report, RUNS } from '../lib.mjs';

const { Counter } = loadLib();
const N = 5e6;
const c = new Counter({ name: 'bench_requests_total', help: 'h', labelNames: ['method', 'status'] });
const child = c.labels('GET', '200');

const r = await measure('ns/op', () =>
  nsPerOp(N, (n) => {
    for (let i = 0; i < n; i++) child.inc();
  }),
);
check('counter value', await total(c), (RUNS + 1) * N);
report(r);
