// await register.metrics() wall time with 10k histogram series
// (default buckets, one label, one observation each).
import { loadLib, measure, timeMs, check, report } from '../lib.mjs';

const { Histogram, register } = loadLib();
const h = new Histogram({ name: 'bench_duration_seconds', help: 'h', labelNames: ['route'] });
for (let i = 0; i < 10_000; i++) h.observe({ route: `/api/v1/resource/${i}` }, (i % 200) / 100);

let text = '';
const r = await measure('ms', () =>
  timeMs(async () => {
    text = await register.metrics();
  }),
);
// 11 default buckets + le="+Inf" + _sum + _count = 14 lines per series.
check('sample lines', text.split('\n').filter((l) => l && l[0] !== '#').length, 14 * 10_000);
report(r);
