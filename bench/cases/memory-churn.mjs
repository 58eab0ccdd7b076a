// Memory that outlives its metrics (issue 17). One figure per process, as memory-counters:
//
//   node --expose-gc memory-churn.mjs <lib> drop [metrics rounds]   create 100k counters (each incremented
//       once), drop them, ten rounds; the figure is rss after round 10 minus rss after round 1
//       (round 1 pays for the heap, the maps and the shard chunks that later rounds reuse).
//       Rounds rotate the ways a metric goes: the global registry's clear(), removeSingleMetric,
//       `registers: []`, and a whole fresh Registry that is dropped.
//   node --expose-gc memory-churn.mjs <lib> workers [workers]       start and exit 1,000 worker threads (4 at a
//       time) that each create and increment a counter; the figure is rss after them minus rss
//       after 50 warm-up workers (the first workers pay for the thread pool and code caches).
//
// Run with --max-semi-space-size=1 (bench/run.mjs and the test do): V8 growing its young
// generation during the run adds up to 12 MB of heapTotal to rss from one run to the next.
// "Settled" means: full GCs and turns of the event loop until FinalizationRegistry callbacks
// have run (promsd: until the core holds no more families than before; prom-client: fixed).
// test/memory.test.ts runs this script too, with generous bounds, so a leak fails CI.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { loadLib, check, report } from '../lib.mjs';

const lib = loadLib();
const name = process.argv[2];
const mode = process.argv[3] ?? 'drop';
const require = createRequire(import.meta.url);
const addon = name === 'promsd' ? require('../../native/promsd.linux-x64-gnu.node') : undefined;
// Builds before issue 17 had no storeCounts: then the figures alone (for before/after tables).
const core = addon?.storeCounts ? addon : undefined;

const turn = () => new Promise((r) => setImmediate(r));
async function settle(families) {
  for (let i = 0; i < 50; i++) {
    global.gc();
    await turn();
    if (i >= 4 && (core === undefined || core.storeCounts().families <= families)) return;
  }
}
const rss = () => process.memoryUsage().rss;

if (mode === 'drop') {
  const N = Number(process.argv[4] ?? 100_000);
  const ROUNDS = Number(process.argv[5] ?? 10);
  const base = core?.storeCounts().families ?? 0;
  const baseRegistries = core?.storeCounts().registries ?? 0;
  const names = Array.from({ length: N }, (_, i) => `churn_${i}_total`);
  const ways = ['clear', 'removeSingleMetric', 'registers: []', 'own registry'];
  const rssAt = [];
  // One round in its own function: a suspended frame of the caller keeps no reference to it.
  async function round(r) {
    const way = ways[r % ways.length];
    const registry = way === 'own registry' ? new lib.Registry() : undefined;
    const registers = way === 'registers: []' ? [] : registry ? [registry] : undefined;
    const metrics = [];
    for (let i = 0; i < N; i++) {
      const c = new lib.Counter({ name: names[i], help: 'h', registers });
      c.inc();
      metrics.push(c);
    }
    if (core) check(`round ${r} families`, core.storeCounts().families, base + N);
    for (let i = 0; i < N; i += 997) check(`round ${r} value`, (await metrics[i].get()).values[0].value, 1);
    if (way === 'clear') lib.register.clear();
    else if (way === 'removeSingleMetric') for (const n of names) lib.register.removeSingleMetric(n);
  }
  for (let r = 0; r < ROUNDS; r++) {
    await round(r);
    await settle(base);
    rssAt.push(rss());
  }
  if (core) {
    check('families left', core.storeCounts().families, base);
    check('registries left', core.storeCounts().registries, baseRegistries);
  }
  const growth = (rssAt.at(-1) - rssAt[0]) / 2 ** 20;
  report({ unit: 'MB', median: growth, samples: [growth], rounds: rssAt.map((b) => Math.round(b / 2 ** 20)) });
} else if (mode === 'workers') {
  const WARMUP = 50;
  const N = Number(process.argv[4] ?? 1000);
  const file = require.resolve(name);
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const { Counter } = require(workerData.file);
    new Counter({ name: 'churn_worker_total', help: 'h' }).inc();
    parentPort.postMessage('done');
  `;
  const one = () =>
    new Promise((resolve, reject) => {
      const w = new Worker(code, { eval: true, workerData: { file } });
      w.on('error', reject);
      w.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker exit ${code}`))));
    });
  const batch = async (n) => {
    for (let i = 0; i < n; i += 4) await Promise.all(Array.from({ length: Math.min(4, n - i) }, one));
  };
  // The main thread's own counter: the workers' families merge into it in the global registry.
  const mine = new lib.Counter({ name: 'churn_worker_total', help: 'h' });
  await batch(WARMUP);
  const families = core?.storeCounts().families ?? 0;
  await settle(Infinity);
  const before = rss();
  await batch(N);
  await settle(Infinity);
  const after = rss();
  if (core) {
    // Every finished worker's increment is still in the total, and each left one family.
    const text = await lib.register.metrics();
    check('total over the threads', /^churn_worker_total (\d+)$/m.exec(text)?.[1], String(WARMUP + N));
    check('families left', core.storeCounts().families, families + N);
  }
  // promsd's get() of a global-registry metric merges the threads; prom-client sees its own only.
  check('own counter', (await mine.get()).values[0].value, addon ? WARMUP + N : 0);
  const growth = (after - before) / 2 ** 20;
  report({ unit: 'MB', median: growth, samples: [growth] });
} else {
  throw new Error(`unknown mode ${mode}`);
}
