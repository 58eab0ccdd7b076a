// Scrape latency while the application's thread is busy: it blocks 50 ms of every 100 ms (a
// CPU-bound handler). promsd serves from its worker thread (startHttpServerInThread);
// prom-client from node:http on the busy thread, as its users do. One scraper (hey -c 1) for
// 3 s per run; the figure is the p99 latency. 1k counter series.
import { loadLib, measure, report } from '../lib.mjs';
import { counters, hey, startServer } from '../serve-lib.mjs';

const lib = loadLib();
counters(lib, 1000);
const server = await startServer(process.argv[2], lib, { threaded: process.argv[2] === 'promsd' });
const busy = setInterval(() => {
  const end = performance.now() + 50;
  while (performance.now() < end);
}, 100);
const r = await measure('ms p99', async () => (await hey(server.url, { seconds: 3, concurrency: 1 })).p99, { runs: 3 });
clearInterval(busy);
await server.close();
report(r);
