// Bytes allocated on the JS heap per NEW series (garbage included), by allocating function:
//
//   node --expose-gc bench/alloc-creation.mjs <promsd|prom-client> [histogram|counter] [series]
//
// V8's sampling heap profiler (node:inspector, 32-byte interval, objects collected by minor and
// major GCs kept in the profile) over the creation of `series` series (default 10k, 2 labels,
// the loop and label values of bench/cases/memory-histograms.mjs), each updated once. Garbage
// made while series are created decides how many young-generation pages V8 touches, which
// the rss-per-series cases read as per-series memory (bench/RESULTS.md "Issue 17"). The
// caller's own allocations (the label object literal, the loop) are listed too: they are the
// rows attributed to this file. A diagnostic, not a bench/run.mjs case: sampling is
// statistical, so figures move a few bytes between runs.
import { Session } from 'node:inspector/promises';
import { loadLib } from './lib.mjs';

const lib = loadLib();
const kind = process.argv[3] ?? 'histogram';
const SERIES = Number(process.argv[4] ?? 10_000);
const Metric = kind === 'histogram' ? lib.Histogram : lib.Counter;
const update = kind === 'histogram' ? (m, l) => m.observe(l, 0.1) : (m, l) => m.inc(l, 1);
const A = Array.from({ length: 100 }, (_, i) => `m${i}`);
const B = Array.from({ length: SERIES / 100 }, (_, i) => `/api/v1/resource/${i}`);

const warm = new Metric({ name: 'bench_warmup', help: 'h', labelNames: ['method', 'path'] });
for (let i = 0; i < 1000; i++) update(warm, { method: A[i % 100], path: B[i % B.length] });
for (let i = 0; i < 4; i++) global.gc();

const session = new Session();
session.connect();
await session.post('HeapProfiler.enable');
await session.post('HeapProfiler.startSampling', {
  samplingInterval: 32,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true,
});
const m = new Metric({ name: 'bench_requests', help: 'h', labelNames: ['method', 'path'] });
for (const b of B) for (const a of A) update(m, { method: a, path: b });
const { profile } = await session.post('HeapProfiler.stopSampling');

// Self bytes by allocating function (builtins such as Map's `set` have no script).
const bytes = new Map();
let total = 0;
const walk = (node) => {
  const f = node.callFrame;
  const where = f.url === '' ? '(builtin)' : `${f.url.replace(/^.*\/(dist|node_modules)\//, '')}:${f.lineNumber + 1}`;
  const key = `${f.functionName || '(anonymous)'} ${where}`;
  if (node.selfSize > 0) bytes.set(key, (bytes.get(key) ?? 0) + node.selfSize);
  total += node.selfSize;
  for (const child of node.children) walk(child);
};
walk(profile.head);
console.log(`${process.argv[2]}, ${SERIES} new ${kind} series: ${(total / SERIES).toFixed(1)} B allocated per series`);
for (const [key, b] of [...bytes].sort((x, y) => y[1] - x[1]).slice(0, 12)) {
  if (b / SERIES >= 0.5) console.log(`${(b / SERIES).toFixed(1).padStart(8)}  ${key}`);
}
