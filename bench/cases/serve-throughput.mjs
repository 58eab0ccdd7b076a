// /metrics throughput served over HTTP on loopback, measured with hey (4 connections, 3 s per
// run, the default Accept, and Accept-Encoding: gzip as Go's client sends it).
// Args: <lib> <series>.
import { loadLib, measure, report, RUNS } from '../lib.mjs';
import { counters, hey, startServer } from '../serve-lib.mjs';

const lib = loadLib();
const series = Number(process.argv[3] ?? 1000);
counters(lib, series);
const server = await startServer(process.argv[2], lib);
const body = await (await fetch(server.url)).text();
const lines = body.split('\n').filter((l) => l && !l.startsWith('#')).length;
if (lines !== series) throw new Error(`expected ${series} samples, got ${lines}`);
const r = await measure('req/s', async () => (await hey(server.url, { seconds: 3, concurrency: 4 })).rps, { runs: RUNS > 3 ? 3 : RUNS });
await server.close();
report(r);
