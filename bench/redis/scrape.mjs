// Scrape time of 10k counter series through the Redis backend (flush + one read + render), and
// for a sidecar (renderRedis, no metrics defined).  node scrape.mjs <url> <series> <runs>
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { Counter, RedisBackend, loadBackend, register, renderRedis } = require('promsd');
const [url, series, runs] = process.argv.slice(2).map((x, i) => (i === 0 ? x : Number(x)));
const backend = loadBackend(
  new RedisBackend({ url, prefix: 'bench-scrape', logger: { debug() {}, info() {}, warn() {}, error() {} } }),
);
const c = new Counter({ name: 'scrape_ops_total', help: 'Ops.', labelNames: ['k'] });
for (let i = 0; i < series; i++) c.inc({ k: String(i) });
await backend.flush();
const time = async (fn) => {
  const t0 = process.hrtime.bigint();
  const text = await fn();
  return [Number(process.hrtime.bigint() - t0) / 1e6, text];
};
const own = [];
const side = [];
let lines = 0;
for (let r = 0; r <= runs; r++) {
  const [a, text] = await time(() => register.metrics());
  const [b] = await time(() => renderRedis({ url, prefix: 'bench-scrape' }));
  if (r > 0) {
    own.push(a);
    side.push(b);
  }
  lines = text.split('\n').filter((l) => l.startsWith('scrape_ops_total{')).length;
}
await backend.close();
console.log(JSON.stringify({ own, side, lines }));
