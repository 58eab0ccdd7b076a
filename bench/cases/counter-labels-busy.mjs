// Labelled counter.inc({method, status}, 1) as in a real app (issue 17): 8 other labelled
// counters, each with label names of its own, are in use — incremented before every run and
// every 64th iteration of the timed loop — so the library's shared inc path has seen 9 label
// object shapes, not one. The measured counter's label object is an inline literal built on
// every call, over 32 series. Reported: ns per iteration (one inc of the measured counter, plus
// 1/64 of an inc of another one).
import { loadLib, measure, nsPerOp, total, check, report, RUNS } from '../lib.mjs';

const { Counter } = loadLib();
const N = 5e6;
const M = ['GET', 'POST', 'PUT', 'DELETE'];
const S = ['200', '201', '204', '301', '400', '404', '500', '503'];
const c = new Counter({ name: 'bench_requests_total', help: 'h', labelNames: ['method', 'status'] });
const others = Array.from(
  { length: 8 },
  (_, k) => new Counter({ name: `bench_other_${k}_total`, help: 'h', labelNames: [`route${k}`, `code${k}`] }),
);
const inc = (k, i) => others[k].inc({ [`route${k}`]: `/r${i & 3}`, [`code${k}`]: i & 4 ? 'ok' : 'err' }, 1);

const r = await measure('ns/op', () => {
  for (let i = 0; i < 8000; i++) inc(i & 7, i);
  return nsPerOp(N, (n) => {
    for (let i = 0; i < n; i++) {
      c.inc({ method: M[i & 3], status: S[(i >> 2) & 7] }, 1);
      if ((i & 63) === 0) inc((i >> 6) & 7, i);
    }
  });
});
check('sum of counter', await total(c), (RUNS + 1) * N);
report(r);
