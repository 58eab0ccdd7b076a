// Memory per histogram series at 10k series, or the count given after the library name
// (bench/run.mjs also runs 100k), one histogram, default buckets, 2 labels, each series
// observed once. At 10k a fixed cost weighs ~200 B a series: V8 touches the pages of its young
// generation for the first time while the series are made (~2 MB here, in both libraries;
// measured from /proc/self/smaps, see bench/RESULTS.md "Issue 17"). One measurement per
// process: rss never shrinks back after
// a free, so a second measurement in the same process would reuse the pages and
// read low. bench/run.mjs starts this case several times and takes the median.
//
// Two figures:
//  - heapUsed + external: what V8 knows about (JS heap, plus ArrayBuffer and
//    SharedArrayBuffer backing stores; process.memoryUsage().arrayBuffers is a
//    subset of external, so adding it would count it twice). Blind to memory
//    the Rust core allocates itself (series table, label strings).
//  - rss delta: everything the process touched, native included. Noisier (V8
//    heap slack shows up too), but the only figure that is fair to a native core.
import { loadLib, fullGc, check, report } from '../lib.mjs';

const { Histogram } = loadLib();
const SERIES = Number(process.argv[3] ?? 10_000);
// Label values are built before the baseline: they belong to the application,
// not to the library under test.
const A = Array.from({ length: 100 }, (_, i) => `m${i}`);
const B = Array.from({ length: SERIES / 100 }, (_, i) => `/api/v1/resource/${i}`);

// Warm-up: load the library's code paths (JIT, lazy native init) outside the delta.
const warm = new Histogram({ name: 'bench_warmup_seconds', help: 'h', labelNames: ['method', 'path'] });
for (let i = 0; i < 1000; i++) warm.observe({ method: A[i % 100], path: B[i % B.length] }, 0.1);

const snap = () => {
  fullGc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed + m.external, rss: m.rss };
};
const before = snap();
const c = new Histogram({ name: 'bench_requests_seconds', help: 'h', labelNames: ['method', 'path'] });
for (const b of B) for (const a of A) c.observe({ method: a, path: b }, 0.1);
const after = snap();

const { values } = await c.get(); // also keeps c alive past the snapshot
const count = values.filter((v) => v.metricName === 'bench_requests_seconds_count').reduce((s, v) => s + v.value, 0);
check('histogram count', count, SERIES);
const row = (bytes) => ({ unit: 'B/series', median: bytes / SERIES, samples: [bytes / SERIES] });
report({ heap: row(after.heap - before.heap), rss: row(after.rss - before.rss) });
