// Labelled histogram.observe({method, status}, v), default buckets, over 32 series (information
// only, no target): the request-duration histogram most apps have.
import { loadLib, measure, nsPerOp, check, report, RUNS, WARMUP } from '../lib.mjs';

const { Histogram } = loadLib();
const N = 5e6;
const M = ['GET', 'POST', 'PUT', 'DELETE'];
const S = ['200', '201', '204', '301', '400', '404', '500', '503'];
const V = Float64Array.from({ length: 1024 }, () => Math.random() * 2);
const h = new Histogram({ name: 'bench_request_seconds', help: 'h', labelNames: ['method', 'status'] });

// The timed loop is defined once, so every run reuses its optimised code (steady state).
const loop = (n) => {
  for (let i = 0; i < n; i++) h.observe({ method: M[i & 3], status: S[(i >> 2) & 7] }, V[i & 1023]);
};

const r = await measure('ns/op', () => nsPerOp(N, loop));
const { values } = await h.get();
const count = values.filter((v) => v.metricName === 'bench_request_seconds_count').reduce((s, v) => s + v.value, 0);
check('histogram count', count, (RUNS + WARMUP) * N);
report(r);
