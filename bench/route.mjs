// What routing every scrape of the global registry through the core (native/src/route_api.rs)
// costs, against the direct calls it replaced, in one process:
//   - local view, 100k counter series: `register.metrics()` / `metricsBuffer()` (routeRender)
//     vs `native.encode` / `native.encodeBuffer` (what they called before);
//   - IoredisBackend, 1k series, real redis-server: `register.metrics()` on the loading thread
//     and from a worker thread (the core calls the backend on its thread: one threadsafe-function
//     hop and a waiting thread) vs `backend.render()` called directly.
//
//   npm run build && node --expose-gc bench/route.mjs
//
// Prints one JSON line: medians of 20 rounds (100k series) or 200 (1k), the variants interleaved.
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

import { fullGc, median, RUNS, timeMs } from './lib.mjs';

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
async function freePort() {
  const s = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}
const port = await freePort();
const redis = spawn(
  '/usr/bin/redis-server',
  ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
  { stdio: 'ignore' },
);
try {
  const cli = (...args) => spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' }).stdout;
  for (let i = 0; i < 100 && !cli('PING').startsWith('PONG'); i++) await new Promise((r) => setTimeout(r, 50));
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
