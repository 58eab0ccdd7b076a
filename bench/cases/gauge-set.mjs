// Unlabelled gauge.set(v) over varying values (information only, no target).
import { loadLib, measure, nsPerOp, total, check, report } from '../lib.mjs';

const { Gauge } = loadLib();
const N = 5e6;
const V = Float64Array.from({ length: 1024 }, () => Math.random() * 100);
const g = new Gauge({ name: 'bench_level', help: 'h' });

// The timed loop is defined once, so every run reuses its optimised code (steady state).
const loop = (n) => {
  for (let i = 0; i < n; i++) g.set(V[i & 1023]);
};

const r = await measure('ns/op', () => nsPerOp(N, loop));
// The last value written must be visible (also keeps the stores observable).
check('gauge value', await total(g), V[(N - 1) & 1023]);
report(r);
