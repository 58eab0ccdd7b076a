// Main-thread time of `await register.metrics()` at 100k counter series: the event loop's active
// time over the call (performance.eventLoopUtilization), so promsd's off-thread encode is not
// counted but building the JS string is. Median of 15 calls after 3 warm-ups, after a full GC.
import { loadLib, fullGc, median, report } from '../lib.mjs';

const lib = loadLib();
const c = new lib.Counter({ name: 'bench_requests_total', help: 'h', labelNames: ['method', 'path'] });
for (let b = 0; b < 1000; b++) for (let a = 0; a < 100; a++) c.inc({ method: `m${a}`, path: `/api/v1/resource/${b}` });
const samples = [];
for (let i = 0; i < 18; i++) {
  if (i % 6 === 0) fullGc();
  const e0 = performance.eventLoopUtilization();
  const text = await lib.register.metrics();
  const e = performance.eventLoopUtilization(e0);
  if (text.length < 1e6) throw new Error('short exposition');
  if (i >= 3) samples.push(e.active);
}
report({ unit: 'ms', median: median(samples), samples });
