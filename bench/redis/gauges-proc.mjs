// One of the 16 processes of the wide-read bench: sets 10k gauge series and 10k counter series,
// flushes, prints "ready", and stays alive (its gauges count only while it lives) until stdin ends.
//   node gauges-proc.mjs <url> <prefix> <series>
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { Counter, Gauge, RedisBackend, loadBackend } = require('promsd');
const [url, prefix, series] = process.argv.slice(2);
const backend = loadBackend(
  new RedisBackend({ url, prefix, processTtlMs: 60_000, logger: { debug() {}, info() {}, warn() {}, error() {} } }),
);
const g = new Gauge({ name: 'wide_inflight', help: 'In flight.', labelNames: ['k'] });
const c = new Counter({ name: 'wide_ops_total', help: 'Ops.', labelNames: ['k'] });
for (let i = 0; i < Number(series); i++) {
  g.set({ k: String(i) }, 1);
  c.inc({ k: String(i) });
}
await backend.flush();
console.log('ready');
process.stdin.resume();
process.stdin.on('end', () => backend.close().then(() => process.exit(0)));
