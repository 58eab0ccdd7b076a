// Event-loop delay of the serving thread during scrapes of 100k counter series: the longest
// stall (perf_hooks.monitorEventLoopDelay, 1 ms resolution) over 10 sequential scrapes served
// on this thread (promsd: startHttpServer; prom-client: node:http + register.metrics()).
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadLib, measure, report } from '../lib.mjs';
import { counters, startServer } from '../serve-lib.mjs';
import { spawn } from 'node:child_process';

const lib = loadLib();
counters(lib, 100_000);
const server = await startServer(process.argv[2], lib);

// hey -n 10 -c 1: bounded in requests; gzip accepted, as Prometheus does.
function scrapes() {
  return new Promise((resolve, reject) => {
    const child = spawn('hey', ['-n', '10', '-c', '1', '-t', '30', server.url], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`hey exited ${code}`))));
  });
}

const r = await measure(
  'ms max',
  async () => {
    const h = monitorEventLoopDelay({ resolution: 1 });
    h.enable();
    await scrapes();
    h.disable();
    return h.max / 1e6;
  },
  { runs: 3 },
);
await server.close();
report(r);
