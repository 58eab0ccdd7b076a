// Cost of `require(lib)` for an app that only instruments: wall time of the require call and
// the rss it adds, in a fresh process each time (a second require in one process is a cache
// hit), so one child process per sample. promsd's figure includes loading the native addon.
// bench/run.mjs runs the two libraries one after the other; the median of SAMPLES children
// evens out the noise of a shared machine.
import { execFileSync } from 'node:child_process';
import { check, median, report } from '../lib.mjs';

const SAMPLES = 21;
const name = process.argv[2];
if (name !== 'promsd' && name !== 'prom-client') {
  throw new Error(`usage: node --expose-gc require-time.mjs promsd|prom-client (got ${name})`);
}
const child = `
const rss0 = process.memoryUsage().rss;
const t0 = process.hrtime.bigint();
const lib = require(${JSON.stringify(name)});
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
const rss = process.memoryUsage().rss - rss0;
console.log(JSON.stringify({ ms, rss, counter: typeof lib.Counter }));
`;
const samples = [];
for (let i = 0; i < SAMPLES + 1; i++) {
  const out = JSON.parse(execFileSync(process.execPath, ['-e', child], { cwd: import.meta.dirname, encoding: 'utf8' }));
  check('typeof Counter', out.counter, 'function');
  if (i > 0) samples.push(out); // the first one warms the OS file cache
}
const row = (unit, xs) => ({ unit, median: median(xs), samples: xs });
report({
  time: row(
    'ms',
    samples.map((s) => s.ms),
  ),
  rss: row(
    'MB',
    samples.map((s) => s.rss / 1048576),
  ),
});
