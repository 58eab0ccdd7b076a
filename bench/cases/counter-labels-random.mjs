// Labelled counter.inc({method, status}, 1) over 32 series visited in a random order (a fixed
// pseudo-random sequence of 4096 series, the same for both libraries), as a real request mix
// is: the `counter-labels` case's period-8 order lets the branch predictor learn the label
// lookups (issue 17 finding). The label object is an inline literal built on every call.
import { loadLib, measure, nsPerOp, total, check, report, RUNS, WARMUP } from '../lib.mjs';

const { Counter } = loadLib();
const N = 5e6;
const M = ['GET', 'POST', 'PUT', 'DELETE'];
const S = ['200', '201', '204', '301', '400', '404', '500', '503'];
// xorshift32, fixed seed: the order is the same in every run and for both libraries.
let x = 2463534242;
const R = Int32Array.from({ length: 4096 }, () => {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  return (x >>> 0) % 32;
});
const c = new Counter({ name: 'bench_requests_total', help: 'h', labelNames: ['method', 'status'] });

// The timed loop is defined once, so every run reuses its optimised code (steady state).
const loop = (n) => {
  for (let i = 0; i < n; i++) {
    const k = R[i & 4095];
    c.inc({ method: M[k & 3], status: S[k >> 2] }, 1);
  }
};

const r = await measure('ns/op', () => nsPerOp(N, loop));
check('sum of counter', await total(c), (RUNS + WARMUP) * N);
report(r);
