// await register.metrics() wall time with 100k counter series
// (one counter, 2 labels, 100k distinct label combinations, each incremented once).
import { loadLib, measure, timeMs, check, report } from '../lib.mjs';

const { Counter, register } = loadLib();
const A = Array.from({ length: 100 }, (_, i) => `m${i}`);
const B = Array.from({ length: 1000 }, (_, i) => `/api/v1/resource/${i}`);
const c = new Counter({ name: 'bench_requests_total', help: 'h', labelNames: ['method', 'path'] });
for (const b of B) for (const a of A) c.inc({ method: a, path: b });

let text = '';
const r = await measure('ms', () =>
  timeMs(async () => {
    text = await register.metrics();
  }),
);
check('sample lines', text.split('\n').filter((l) => l && l[0] !== '#').length, 100_000);
report(r);
