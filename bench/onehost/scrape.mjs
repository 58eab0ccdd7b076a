// One scrape process of bench/onehost.mjs. node scrape.mjs <mode> <series> <runs> [new]
//   local     10k series, no backend: register.metrics()
//   embedded  the same through EmbeddedBackend (this process alone: it holds the aggregator)
//   new       a new series before each scrape instead of a changed one
// Prints {ms: [...], lines}.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { Counter, EmbeddedBackend, loadBackend, register } = require('promsd');
const [mode, series, runs] = process.argv.slice(2).map((x, i) => (i === 0 ? x : Number(x)));
const fresh = process.argv[5] === 'new';
const backend =
  mode === 'embedded'
    ? loadBackend(
        new EmbeddedBackend({
          prefix: `bench-oh-${process.pid}`,
          logger: { debug() {}, info() {}, warn() {}, error() {} },
        }),
      )
    : undefined;
const c = new Counter({ name: 'oh_ops_total', help: 'Ops.', labelNames: ['k'] });
for (let i = 0; i < series; i++) c.inc({ k: String(i) });
await backend?.flush();
const ms = [];
let lines = 0;
for (let r = 0; r <= runs; r++) {
  // A changed series per scrape, as in a live app (or a new one).
  c.inc({ k: fresh ? `new${r}` : String(r % series) });
  const t0 = process.hrtime.bigint();
  const text = await register.metrics();
  if (r > 0) ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  lines = text.split('\n').filter((l) => l.startsWith('oh_ops_total{')).length - (fresh ? r + 1 : 0);
}
await backend?.close();
console.log(JSON.stringify({ ms, lines }));
