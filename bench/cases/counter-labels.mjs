// Labelled counter.inc({method, status}, 1): the label object is an inline
// literal built on every call, as in real request handlers, over 8 series.
import { loadLib, measure, nsPerOp, total, check, report, RUNS, WARMUP } from '../lib.mjs';

const { Counter } = loadLib();
const N = 5e6;
const M = ['GET', 'POST', 'PUT', 'DELETE'];
const S = ['200', '201', '204', '301', '400', '404', '500', '503'];
const c = new Counter({ name: 'bench_requests_total', help: 'h', labelNames: ['method', 'status'] });

// The timed loop is defined once, so every run reuses its optimised code (steady state).
const loop = (n) => {
  for (let i = 0; i < n; i++) c.inc({ method: M[i & 3], status: S[i & 7] }, 1);
};

const r = await measure('ns/op', () => nsPerOp(N, loop));
check('sum of counter', await total(c), (RUNS + WARMUP) * N);
report(r);
