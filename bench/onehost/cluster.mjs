// node:cluster primary + 4 workers, 2.5k counter series each (the same label values, so the
// aggregate sums them): sequential scrapes from the primary, promsd's EmbeddedBackend vs
// prom-client's AggregatorRegistry. node cluster.mjs <promsd|prom-client> <workers> <series> <runs>
// Prints {ms: [...], perSec, value}: sequential scrape times, scrapes/s with 4 in flight, and one
// aggregated sample (checked by the caller).
import cluster from 'node:cluster';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const [lib, workers, series, runs] = process.argv.slice(2).map((x, i) => (i === 0 ? x : Number(x)));
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const m = require(lib);
const backend =
  lib === 'promsd'
    ? m.loadBackend(
        new m.EmbeddedBackend({ prefix: `bench-ohc-${cluster.isPrimary ? process.pid : process.ppid}`, logger: quiet }),
      )
    : undefined;

// prom-client's workers answer the primary once they too have built an AggregatorRegistry.
const agg = lib === 'prom-client' ? new m.AggregatorRegistry() : undefined;
if (cluster.isPrimary) {
  const scrape = () => (agg ? agg.clusterMetrics() : m.register.metrics());
  let ready = 0;
  for (let i = 0; i < workers; i++) {
    cluster.fork().on('message', async (msg) => {
      if (msg !== 'ready' || ++ready < workers) return;
      // Every worker's values reached the aggregate before timing starts.
      const want = `oh_ops_total{k="0"} ${workers}`;
      while (!(await scrape()).includes(want)) await new Promise((r) => setTimeout(r, 20));
      const ms = [];
      for (let r = 0; r <= runs; r++) {
        const t0 = process.hrtime.bigint();
        await scrape();
        if (r > 0) ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
      // Throughput: 4 scrapes in flight for 2 s.
      let done = 0;
      const until = performance.now() + 2000;
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (performance.now() < until) {
            await scrape();
            done++;
          }
        }),
      );
      const perSec = done / 2;
      const text = await scrape();
      const value = /oh_ops_total\{k="7"\} (\S+)/.exec(text)?.[1];
      console.log(JSON.stringify({ ms, perSec, value: Number(value) }));
      for (const w of Object.values(cluster.workers)) w.kill();
      await backend?.close();
      process.exit(0);
    });
  }
} else {
  const c = new m.Counter({ name: 'oh_ops_total', help: 'Ops.', labelNames: ['k'] });
  for (let i = 0; i < series; i++) c.inc({ k: String(i) });
  await backend?.flush();
  process.send('ready');
  setInterval(() => c.inc({ k: '1' }), 50);
}
