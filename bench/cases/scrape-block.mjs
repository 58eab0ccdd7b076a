// How long creating a series waits while a 100k-series scrape runs (issue 17: the core held
// its one lock for the whole merge and encode, so a new series waited up to the whole scrape).
// The main thread holds one counter with 100k series in the global registry and scrapes it
// back to back (`await register.metrics()`) for 3 s; a worker thread creates a new series of its
// own counter every 0.5 ms, timing each creation (`performance.now()` around the first `inc`).
// Figures: per scrape, the longest creation while it ran; the median of that over the scrapes,
// and the overall max (which includes the machine's preemption), in ms. prom-client's worker
// has its own registry and no lock to share: its figure is what a creation costs uncontended.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { loadLib, median, report } from '../lib.mjs';

const lib = loadLib();
const require = createRequire(import.meta.url);
const SERIES = 100_000;
const c = new lib.Counter({ name: 'bench_block_total', help: 'h', labelNames: ['method', 'path'] });
const A = Array.from({ length: 100 }, (_, i) => `m${i}`);
for (let b = 0; b < SERIES / 100; b++) for (const a of A) c.inc({ method: a, path: `/api/v1/resource/${b}` });

const stop = new Int32Array(new SharedArrayBuffer(8)); // [stop, scrape number]
const code = `
  const { parentPort, workerData } = require('node:worker_threads');
  const { Counter } = require(workerData.file);
  const stop = new Int32Array(workerData.stop);
  const c = new Counter({ name: 'bench_block_new_total', help: 'h', labelNames: ['id'] });
  c.inc({ id: 'warm' });
  const times = [];
  let i = 0;
  parentPort.postMessage('ready');
  while (Atomics.load(stop, 0) === 0) {
    const scrape = Atomics.load(stop, 1);
    const t0 = performance.now();
    c.inc({ id: String(i++) });
    const dt = performance.now() - t0;
    if (scrape > 0 && scrape === Atomics.load(stop, 1)) times[scrape] = Math.max(times[scrape] ?? 0, dt);
    const until = performance.now() + 0.5;
    while (performance.now() < until);
  }
  parentPort.postMessage(times);
`;
const w = new Worker(code, { eval: true, workerData: { file: require.resolve(process.argv[2]), stop: stop.buffer } });
const messages = [];
let wake;
w.on('message', (m) => {
  messages.push(m);
  wake?.();
});
const next = () => new Promise((r) => (messages.length ? r() : (wake = r))).then(() => messages.shift());
await next(); // ready
const t0 = performance.now();
let scrapes = 0;
while (performance.now() - t0 < 3000) {
  Atomics.store(stop, 1, scrapes + 1);
  const text = await lib.register.metrics();
  if (!text.includes('bench_block_total{')) throw new Error('scrape lost the series');
  scrapes++;
}
Atomics.store(stop, 0, 1);
const times = (await next()).filter((t) => t !== null && t !== undefined);
await w.terminate();
const ms = (x) => ({ unit: 'ms', median: x, samples: [x] });
report({ median: ms(median(times)), max: ms(Math.max(...times)), scrapes: ms(scrapes) });
