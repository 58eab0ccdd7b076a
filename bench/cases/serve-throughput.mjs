// /metrics throughput served over HTTP on loopback, measured with hey (4 connections, 3 s per
// run, the default Accept). Args: <lib> <series> <identity|gzip>: `identity` sends hey's
// -disable-compression (both libraries then do the same work); `gzip` lets Go's client ask for
// gzip as Prometheus does (promsd compresses, prom-client does not; hey then also gunzips on
// the same 2 cores).
import { loadLib, measure, report, RUNS } from '../lib.mjs';
import { counters, hey, startServer } from '../serve-lib.mjs';

const lib = loadLib();
const series = Number(process.argv[3] ?? 1000);
const encoding = process.argv[4] ?? 'identity';
if (encoding !== 'identity' && encoding !== 'gzip')
  throw new Error(`encoding must be identity or gzip, got ${encoding}`);
counters(lib, series);
const server = await startServer(process.argv[2], lib);
const body = await (await fetch(server.url)).text();
const lines = body.split('\n').filter((l) => l && !l.startsWith('#')).length;
if (lines !== series) throw new Error(`expected ${series} samples, got ${lines}`);
const r = await measure(
  'req/s',
  async () => (await hey(server.url, { seconds: 3, concurrency: 4, gzip: encoding === 'gzip' })).rps,
  { runs: Math.min(RUNS, 3) },
);
await server.close();
report(r);
