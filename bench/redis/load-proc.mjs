// One process of the load bench: `threads` worker threads (0: the main thread itself) each
// increment a counter over `series` label values as fast as they can for `seconds`, then the
// process flushes, closes and prints { incs }. bench/redis.mjs starts several of these.
//   node load-proc.mjs <url> <prefix> <seconds> <threads> <series>
import { createRequire } from 'node:module';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

const require = createRequire(import.meta.url);
const { Counter, RedisBackend, loadBackend } = require('promsd');

function hammer(seconds, series) {
  const c = new Counter({ name: 'load_ops_total', help: 'Ops.', labelNames: ['k'] });
  const children = Array.from({ length: series }, (_, i) => c.labels(String(i)));
  let n = 0;
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    for (let r = 0; r < 100; r++) for (let i = 0; i < series; i++) children[i].inc();
    n += 100 * series;
  }
  return n;
}

if (isMainThread) {
  const [url, prefix, seconds, threads, series] = process.argv.slice(2);
  const backend = loadBackend(
    new RedisBackend({ url, prefix, logger: { debug() {}, info() {}, warn() {}, error() {} } }),
  );
  let incs = 0;
  if (Number(threads) === 0) incs = hammer(Number(seconds), Number(series));
  else {
    const file = new URL(import.meta.url);
    const counts = await Promise.all(
      Array.from({ length: Number(threads) }, () => {
        const w = new Worker(file, { workerData: { seconds: Number(seconds), series: Number(series) } });
        return new Promise((resolve, reject) => {
          w.once('message', resolve);
          w.once('error', reject);
        });
      }),
    );
    incs = counts.reduce((a, b) => a + b, 0);
  }
  await backend.flush();
  await backend.close();
  console.log(JSON.stringify({ incs }));
} else {
  parentPort.postMessage(hammer(workerData.seconds, workerData.series));
}
