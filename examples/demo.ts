// The quick-start demo: a "service" whose request handling runs on the main thread and in two
// worker threads, all instrumented with the prom-client API. Every thread writes into its own
// shard; the exposition printed at the end is the process-wide aggregate, produced by the Rust
// core without any help from the (still running) workers.
import { isMainThread, Worker, workerData, parentPort } from 'node:worker_threads';

import { Counter, Histogram, register, Summary } from 'promsd';

const requests = new Counter({
  name: 'demo_requests_total',
  help: 'Requests handled, by route and status.',
  labelNames: ['route', 'status'],
});
const latency = new Histogram({
  name: 'demo_request_duration_seconds',
  help: 'Request latency.',
  labelNames: ['route'],
});
const payload = new Summary({
  name: 'demo_response_size_bytes',
  help: 'Response sizes.',
  percentiles: [0.5, 0.9, 0.99],
  maxAgeSeconds: 60,
});

const ROUTES = ['/', '/users/:id', '/orders'];

/** Simulates `n` requests with a deterministic mix of routes, statuses, latencies and sizes. */
function handle(n: number, seed: number): void {
  for (let i = 0; i < n; i++) {
    const route = ROUTES[(i + seed) % ROUTES.length];
    const status = (i + seed) % 50 === 0 ? '500' : '200';
    requests.inc({ route, status });
    latency.observe({ route }, (((i * 7919 + seed) % 1000) + 1) / 4000);
    payload.observe(200 + ((i * 31 + seed) % 1800));
  }
}

const PER_THREAD = 100_000;

async function main(): Promise<void> {
  const wait = new Int32Array(new SharedArrayBuffer(4));
  const workers = [1, 2].map((seed) => new Worker(__filename, { workerData: { seed, wait } }));
  const started = process.hrtime.bigint();
  handle(PER_THREAD, 0);
  await Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve))));
  const ms = Number(process.hrtime.bigint() - started) / 1e6;

  // The workers are parked in Atomics.wait: they run no JS while the core reads their shards.
  process.stdout.write(await register.metrics());
  const total = 3 * PER_THREAD;
  console.error(
    `\n# ${total} requests recorded by 3 threads in ${ms.toFixed(0)} ms; exposition above is their aggregate.`,
  );
  Atomics.store(wait, 0, 1);
  Atomics.notify(wait, 0);
  await Promise.all(workers.map((w) => new Promise((resolve) => w.once('exit', resolve))));
}

if (isMainThread) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
} else {
  const { seed, wait } = workerData as { seed: number; wait: Int32Array };
  handle(PER_THREAD, seed);
  parentPort?.postMessage('done');
  Atomics.wait(wait, 0, 0);
}
