// Memory per counter series at 100k series (one counter, 2 labels, each series
// incremented once). One measurement per process: rss never shrinks back after
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
import { loadLib, fullGc, total, check, report } from '../lib.mjs';

const { Counter } = loadLib();
const SERIES = 100_000;
// Label values are built before the baseline: they belong to the application,
// not to the library under test.
const A = Array.from({ length: 100 }, (_, i) => `m${i}`);
const B = Array.from({ length: SERIES / 100 }, (_, i) => `/api/v1/resource/${i}`);

// Warm-up: load the library's code paths (JIT, lazy native init) outside the delta.
const warm = new Counter({ name: 'bench_warmup_total', help: 'h', labelNames: ['method', 'path'] });
for (let i = 0; i < 1000; i++) warm.inc({ method: A[i % 100], path: B[i] });

const snap = () => {
  fullGc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed + m.external, rss: m.rss };
};
const before = snap();
const c = new Counter({ name: 'bench_requests_total', help: 'h', labelNames: ['method', 'path'] });
for (const b of B) for (const a of A) c.inc({ method: a, path: b });
const after = snap();

check('sum of counter', await total(c), SERIES); // also keeps c alive past the snapshot
const row = (bytes) => ({ unit: 'B/series', median: bytes / SERIES, samples: [bytes / SERIES] });
report({ heap: row(after.heap - before.heap), rss: row(after.rss - before.rss) });
