import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

import { fullGc, median, RUNS, startRedisServer, timeMs } from './lib.mjs';

const require = createRequire(import.meta.url);
const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const { Counter, IoredisBackend, loadBackend, register } = require('promsd');
const { native } = require(here('../dist/metrics/native.js'));

/** Medians of `n` rounds in which every variant runs once, in turn (so load drifts hit all alike). */
async function interleaved(n, variants) {
  const xs = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  for (const f of Object.values(variants)) await f();
  for (let i = 0; i < n; i++) {
    for (const [k, f] of Object.entries(variants)) {
      if (n <= 20) fullGc();
      xs[k].push(await timeMs(f));
    }
  }
  return Object.fromEntries(Object.entries(xs).map(([k, v]) => [k, median(v)]));
}

const out = {};

// Local view, 100k series.
{
  const c = new Counter({ name: 'route_bench_total', help: 'h', labelNames: ['a', 'b'] });
  for (let b = 0; b < 1000; b++) for (let a = 0; a < 100; a++) c.inc({ a: `m${a}`, b: `/api/v1/resource/${b}` });
  const req = { registry: 0, openMetrics: false, defaultLabels: [], nowMs: Date.now() };
  Object.assign(
    out,
    await interleaved(4 * RUNS, {
      localMetricsRouteMs: () => register.metrics(),
      localEncodeDirectMs: () => native.encode(req),
      localBufferRouteMs: () => register.metricsBuffer(),
      localBufferDirectMs: () => native.encodeBuffer(req),
    }),
  );
  register.clear();
}

// IoredisBackend on this thread, 1k series.
const { port, proc: redis } = await startRedisServer();
try {
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  const backend = loadBackend(new IoredisBackend({ url: `redis://127.0.0.1:${port}`, prefix: 'rb', logger: quiet }));
  const c = new Counter({ name: 'route_js_total', help: 'h', labelNames: ['i'] });
  for (let i = 0; i < 1000; i++) c.inc({ i: String(i) });
  const opts = { openMetrics: false, defaultLabels: [] };
  Object.assign(
    out,
    await interleaved(200, {
      jsDirectMs: () => backend.render(opts),
      jsRouteSameThreadMs: () => register.metrics(),
    }),
  );
  const w = new Worker(
    `const { parentPort } = require('node:worker_threads');
     const { register } = require('promsd');
     parentPort.on('message', async (n) => {
       const xs = [];
       await register.metrics();
       for (let i = 0; i < n; i++) { const t0 = performance.now(); await register.metrics(); xs.push(performance.now() - t0); }
       xs.sort((a, b) => a - b);
       parentPort.postMessage(xs[xs.length >> 1]);
     });`,
    { eval: true },
  );
  w.postMessage(200);
  out.jsRouteWorkerMs = await new Promise((r) => w.once('message', r));
  await w.terminate();
  await backend.close();
} finally {
  redis.kill('SIGKILL');
}
for (const k of Object.keys(out)) out[k] = Number(out[k].toFixed(3));
console.log(JSON.stringify(out));
