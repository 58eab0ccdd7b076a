// Hot-path cost with the Redis backend loaded vs in memory (bench/redis.mjs runs this).
//   node --expose-gc hotpath.mjs memory|redis <url>   → one JSON line of ns/op medians
import { createRequire } from 'node:module';
import { measure, nsPerOp } from '../lib.mjs';

const require = createRequire(import.meta.url);
const { Counter, Histogram, RedisBackend, loadBackend } = require('promsd');
const [mode, url] = process.argv.slice(2);
const backend =
  mode === 'redis' &&
  loadBackend(
    new RedisBackend({
      url,
      prefix: `bench-hot-${process.pid}`,
      logger: { debug() {}, info() {}, warn() {}, error() {} },
    }),
  );

const N = 5e6;
const M = ['GET', 'POST', 'PUT', 'DELETE'];
const S = ['200', '201', '204', '301', '400', '404', '500', '503'];
const c = new Counter({ name: 'hot_requests_total', help: 'h', labelNames: ['method', 'status'] });
const child = new Counter({ name: 'hot_child_total', help: 'h', labelNames: ['k'] }).labels('x');
const h = new Histogram({ name: 'hot_seconds', help: 'h' });

const labelled = await measure('ns/op', () =>
  nsPerOp(N, (n) => {
    for (let i = 0; i < n; i++) c.inc({ method: M[i & 3], status: S[i & 7] }, 1);
  }),
);
const cached = await measure('ns/op', () =>
  nsPerOp(N, (n) => {
    for (let i = 0; i < n; i++) child.inc();
  }),
);
const observe = await measure('ns/op', () =>
  nsPerOp(N, (n) => {
    for (let i = 0; i < n; i++) h.observe((i & 1023) / 1000);
  }),
);
if (mode === 'redis') {
  await backend.flush();
  const text = await require('promsd').register.metrics();
  const m = /hot_child_total\{k="x"\} (\d+)/.exec(text);
  if (!m || Number(m[1]) !== 6 * N) throw new Error(`lost updates: ${m?.[1]} != ${6 * N}`);
  await backend.close();
}
console.log(JSON.stringify({ labelled: labelled.median, cached: cached.median, observe: observe.median }));
