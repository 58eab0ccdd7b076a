import cluster from 'node:cluster';
import type { Worker } from 'node:cluster';
import { resolve } from 'node:path';
import { serve as serveHono } from '@hono/node-server';
import { Hono } from 'hono';
import { loadBackend } from '../backend/load';
import type { Backend } from '../backend/types';
import { Counter } from '../metrics/counter';
import { Gauge } from '../metrics/gauge';
import { getGlobalRegistry } from '../metrics/registry';
import { trackInprogress } from '../metrics/wrappers';
import { startHttpServer } from '../server/http';
import { metricsMiddleware } from '../server/middleware';
import type { Command, CommandContext } from './common';
import { EXIT, untilSignal } from './common';
import { backendOf, serverOptionsOf, serviceDiscoveryOf } from './runtime';

/** Messages between the demo's primary and its workers. */
type WorkerReady = { type: 'ready'; port: number };

function intFlag(value: unknown, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (typeof value !== 'string' || !/^\d+$/.test(value) || n < min || n > max) {
    throw new Error(`--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return n;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const jitter = (min: number, max: number): number => min + Math.random() * (max - min);

/** The instrumented service each worker runs: a small shop API on Hono. */
function shopApp(workerId: string): Hono {
  const handled = new Counter({
    name: 'demo_handled_total',
    help: 'Requests handled, by cluster worker.',
    labelNames: ['worker'],
  });
  const inflight = new Gauge({ name: 'demo_requests_in_progress', help: 'Requests being handled, all workers.' });
  const work = trackInprogress(inflight)(async (ms: number) => sleep(ms));
  const app = new Hono();
  app.use(metricsMiddleware());
  app.use(async (_c, next) => {
    handled.inc({ worker: workerId });
    await next();
  });
  app.get('/api/users/:id', async (c) => {
    await work(jitter(1, 15));
    return c.json({ id: c.req.param('id'), name: 'Ada' });
  });
  app.get('/api/orders', async (c) => {
    await work(jitter(5, 40));
    return c.json([{ id: 1 }, { id: 2 }]);
  });
  app.post('/api/orders', async (c) => {
    await work(jitter(10, 60));
    if (Math.random() < 0.03) return c.json({ error: 'payment declined' }, 502);
    return c.json({ id: 3 }, 201);
  });
  app.get('/api/slow', async (c) => {
    await work(jitter(100, 300));
    return c.text('done');
  });
  return app;
}

/** Worker role: serve the shop on the shared port until the primary disconnects. */
async function runWorker({ resolved, logger }: CommandContext, appPort: number): Promise<number> {
  // Ctrl-C reaches the whole process group: the primary decides when workers stop.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => undefined);
  const backend = backendOf(resolved.config, logger);
  if (backend) loadBackend(backend);
  const app = shopApp(String(cluster.worker?.id ?? process.pid));
  const server = serveHono({ fetch: app.fetch, port: appPort, hostname: '127.0.0.1' }, (info) => {
    process.send?.({ type: 'ready', port: info.port } satisfies WorkerReady);
  });
  await new Promise<void>((r) => cluster.worker?.once('disconnect', r));
  await new Promise<void>((r) => server.close(() => r()));
  await backend?.close({ timeoutMs: 2000 }).catch(() => undefined);
  return EXIT.ok;
}

/** A scrape's request count and latency histogram, summed over every series. */
interface Totals {
  requests: number;
  buckets: Map<number, number>;
}

/** Reads `http_requests_total` and `http_request_duration_seconds_bucket` from an exposition. */
export function totalsOf(exposition: string): Totals {
  const out: Totals = { requests: 0, buckets: new Map() };
  for (const line of exposition.split('\n')) {
    if (line.startsWith('http_requests_total')) {
      out.requests += Number(line.slice(line.lastIndexOf(' ') + 1));
    } else if (line.startsWith('http_request_duration_seconds_bucket')) {
      const le = /le="([^"]+)"/.exec(line)?.[1];
      if (le === undefined) continue;
      const bound = le === '+Inf' ? Infinity : Number(le);
      out.buckets.set(bound, (out.buckets.get(bound) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
    }
  }
  return out;
}

/** p-quantile of the observations between two cumulative bucket snapshots (Prometheus' histogram_quantile). */
export function quantileBetween(q: number, before: Map<number, number>, after: Map<number, number>): number {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const counts = bounds.map((b) => (after.get(b) ?? 0) - (before.get(b) ?? 0));
  const total = counts[counts.length - 1] ?? 0;
  if (total <= 0) return NaN;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    if ((counts[i] ?? 0) >= rank) {
      const upper = bounds[i] as number;
      const lower = i === 0 ? 0 : (bounds[i - 1] as number);
      if (upper === Infinity) return lower;
      const below = i === 0 ? 0 : (counts[i - 1] as number);
      const inBucket = (counts[i] as number) - below;
      return inBucket <= 0 ? upper : lower + ((upper - lower) * (rank - below)) / inBucket;
    }
  }
  return NaN;
}

/** Sends about `rps` requests per second over a mix of routes, until stopped. */
function startLoad(base: string, rps: number): { stop: () => Promise<void>; sent: () => number } {
  let sent = 0;
  let stopped = false;
  const inFlight = new Set<Promise<void>>();
  const routes: [string, string][] = [
    ['GET', '/api/users/1'],
    ['GET', '/api/users/2'],
    ['GET', '/api/users/42'],
    ['GET', '/api/orders'],
    ['POST', '/api/orders'],
    ['GET', '/api/slow'],
    ['GET', '/nope'],
  ];
  const weights = [20, 20, 20, 15, 15, 5, 5];
  const pick = (): [string, string] => {
    let r = Math.random() * 100;
    for (let i = 0; i < routes.length; i++) if ((r -= weights[i] as number) < 0) return routes[i] as [string, string];
    return routes[0] as [string, string];
  };
  const tick = 50;
  const perTick = rps / (1000 / tick);
  let credit = 0;
  const timer = setInterval(() => {
    if (stopped) return;
    credit += perTick;
    for (; credit >= 1; credit--) {
      const [method, path] = pick();
      sent++;
      const p = fetch(base + path, { method })
        .then((r) => r.arrayBuffer())
        .then(
          () => undefined,
          () => undefined,
        );
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    }
  }, tick);
  return {
    sent: () => sent,
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await Promise.allSettled([...inFlight]);
    },
  };
}

/** Primary role: workers, load, metrics server with FileSD, live summary, clean stop. */
async function runPrimary({ args, resolved, logger, out }: CommandContext): Promise<number> {
  const { config } = resolved;
  const workers = intFlag(args.extra.workers, 'workers', 2, 1, 64);
  const rps = intFlag(args.extra.rps, 'rps', 200, 0, 100_000);
  const duration = intFlag(args.extra.duration, 'duration', 0, 0, 86_400);
  // The backend first: the embedded one starts its aggregator and tells the workers where it is.
  const backend: Backend | undefined = backendOf(config, logger);
  if (backend) loadBackend(backend);
  const children: Worker[] = [];
  const stopWorkers = async (): Promise<void> => {
    const exits = children.map((w) => new Promise<void>((r) => (w.isDead() ? r() : w.once('exit', () => r()))));
    for (const w of children) if (w.isConnected()) w.disconnect();
    const timer = setTimeout(() => {
      for (const w of children) if (!w.isDead()) w.kill('SIGKILL');
    }, 5000);
    await Promise.all(exits);
    clearTimeout(timer);
  };
  let port: number;
  try {
    const ports = await Promise.all(
      Array.from({ length: workers }, () => {
        const w = cluster.fork();
        children.push(w);
        return new Promise<number>((ok, fail) => {
          w.once('message', (m: WorkerReady) =>
            m?.type === 'ready' ? ok(m.port) : fail(new Error(`worker ${w.id}: unexpected message`)),
          );
          w.once('exit', (code) => fail(new Error(`worker ${w.id} exited (code ${code}) before listening`)));
        });
      }),
    );
    port = ports[0] as number;
  } catch (err) {
    await stopWorkers();
    await backend?.close({ timeoutMs: 2000 }).catch(() => undefined);
    throw err;
  }

  const sd = serviceDiscoveryOf(
    { ...config, sd: { ...config.sd, kinds: [...new Set([...config.sd.kinds, 'file' as const])] } },
    logger,
  );
  let server: Awaited<ReturnType<typeof startHttpServer>>;
  try {
    server = await startHttpServer({
      ...serverOptionsOf(config),
      logger,
      serviceDiscovery: sd.plugins,
      ...(sd.httpSd ? { httpSd: sd.httpSd } : {}),
    });
  } catch (err) {
    await stopWorkers();
    await backend?.close({ timeoutMs: 2000 }).catch(() => undefined);
    throw err;
  }
  const targets = resolve(config.sd.fileDir);
  const scrapeHost = server.socket.addr === '0.0.0.0' || server.socket.addr === '::' ? '127.0.0.1' : server.socket.addr;
  const metricsUrl = server.url.replace(`//${server.socket.addr}:`, `//${scrapeHost}:`);
  out(
    [
      `promsd demo: ${workers} workers serving http://127.0.0.1:${port}/api/... on the ${config.backend.kind} backend`,
      `metrics: ${metricsUrl}`,
      `targets: ${targets}/ (file_sd_configs)`,
      `workers: ${children.map((w) => w.process.pid).join(' ')}`,
      'prometheus.yml:',
      '  scrape_configs:',
      '    - job_name: promsd-demo',
      '      file_sd_configs:',
      `        - files: ['${targets}/*.json']`,
      `Ctrl-C stops it${duration > 0 ? ` (or after ${duration} s)` : ''}.`,
      '',
    ].join('\n'),
  );
  const load = startLoad(`http://127.0.0.1:${port}`, rps);
  const registry = getGlobalRegistry();
  let last: Totals | undefined;
  const summary = setInterval(() => {
    registry.metrics().then(
      (text) => {
        const now = totalsOf(text);
        if (last !== undefined) {
          const p99 = quantileBetween(0.99, last.buckets, now.buckets);
          out(
            `${new Date().toISOString().slice(11, 19)} ${(now.requests - last.requests).toFixed(0)} req/s  p99 ${Number.isNaN(p99) ? '-' : `${(p99 * 1000).toFixed(0)} ms`}  total ${now.requests}\n`,
          );
        }
        last = now;
      },
      (err: unknown) => logger.warn(`promsd demo: summary: ${(err as Error).message}`),
    );
  }, 1000);
  const stop = await Promise.race([
    untilSignal(),
    ...(duration > 0 ? [sleep(duration * 1000).then(() => 'timeout' as const)] : []),
  ]);
  logger.info(`promsd demo: ${stop}: stopping`);
  clearInterval(summary);
  await load.stop();
  let code: number = EXIT.ok;
  try {
    await server.close();
  } catch (err) {
    logger.error(`promsd demo: deregistration failed: ${(err as Error).message}`);
    code = EXIT.failed;
  }
  await stopWorkers();
  await backend
    ?.close({ timeoutMs: 2000 })
    .catch((err: unknown) => logger.warn(`promsd demo: backend close: ${(err as Error).message}`));
  return code;
}

/** `promsd demo`: a small instrumented service in cluster workers, its load, its metrics. */
export const demo: Command = {
  name: 'demo',
  summary:
    'Run a small instrumented Hono service in node:cluster workers with a built-in load generator, aggregated through the embedded multi-process backend (or Redis when PROMSD_REDIS_URL is set), served on /metrics and registered in ./.promsd/targets (FileSD). Ctrl-C stops it cleanly.',
  flags: {
    workers: { type: 'string', help: 'cluster workers (default 2)' },
    rps: { type: 'string', help: 'requests per second from the load generator (default 200)' },
    duration: { type: 'string', help: 'stop after this many seconds (default: run until Ctrl-C)' },
    'app-port': { type: 'string', help: 'port of the demo service on 127.0.0.1 (default 3000; 0 = any)' },
  },
  async run(ctx) {
    const appPort = intFlag(ctx.args.extra['app-port'], 'app-port', 3000, 0, 65535);
    return cluster.isPrimary ? runPrimary(ctx) : runWorker(ctx, appPort);
  },
};
