// Unlabelled counter.inc() (information only, no target).
import { loadLib, measure, nsPerOp, total, check, report, RUNS } from '../lib.mjs';

const { Counter } = loadLib();
const N = 5e6;
const c = new Counter({ name: 'bench_events_total', help: 'h' });

const r = await measure('ns/op', () =>
  nsPerOp(N, (n) => {
    for (let i = 0; i < n; i++) c.inc();
  }),
);
check('counter value', await total(c), (RUNS + 1) * N);
report(r);
