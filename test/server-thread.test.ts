import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { Counter, Gauge, Registry, ServerStartError, startHttpServer, startHttpServerInThread } from '../index';
import type { ThreadedMetricsHTTPServer } from '../index';
import { get, refused } from './helpers/http';

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((s) => s.close()));
});

async function threaded(
  options: Parameters<typeof startHttpServerInThread>[0] = {},
): Promise<ThreadedMetricsHTTPServer> {
  const s = await startHttpServerInThread({ addr: '127.0.0.1', ...options });
  open.push(s);
  return s;
}

/** Blocks this thread for `ms`, the way a CPU-bound request handler does. */
function spin(ms: number, each?: () => void): void {
  const end = Date.now() + ms;
  while (Date.now() < end) each?.();
}

/**
 * Scrapes `url` from another thread while this one is blocked for `busyMs`. Returns the body, how
 * long the scrape took, and when (ms into the block) it was answered, or -1 if only after it.
 */
async function scrapeWhileBusy(
  url: string,
  busyMs: number,
  before?: () => void,
): Promise<{ body: string; latencyMs: number; answeredAt: number }> {
  const sab = new SharedArrayBuffer(16);
  const flags = new Int32Array(sab, 0, 2);
  const latency = new Float64Array(sab, 8, 1);
  const scraper = new Worker(
    `const { workerData: { url, sab }, parentPort } = require('node:worker_threads');
     const flags = new Int32Array(sab, 0, 2); const latency = new Float64Array(sab, 8, 1);
     parentPort.postMessage('ready');
     Atomics.wait(flags, 0, 0);
     const t0 = performance.now();
     fetch(url).then((r) => r.text()).then((body) => {
       latency[0] = performance.now() - t0;
       parentPort.postMessage(body);
       Atomics.store(flags, 1, 1);
     });`,
    { eval: true, workerData: { url, sab } },
  );
  await new Promise((r) => scraper.once('message', r)); // loaded and waiting
  const body = new Promise<string>((resolve) => scraper.once('message', resolve));
  before?.();
  Atomics.store(flags, 0, 1);
  Atomics.notify(flags, 0);
  let answeredAt = -1;
  const t0 = Date.now();
  spin(busyMs, () => {
    if (answeredAt < 0 && Atomics.load(flags, 1) === 1) answeredAt = Date.now() - t0;
  });
  const result = { body: await body, latencyMs: latency[0] ?? -1, answeredAt };
  await scraper.terminate();
  return result;
}

describe('startHttpServerInThread', () => {
  it('answers scrapes while this thread is blocked, with the values as of the last write', async () => {
    const c = new Counter({ name: 'busy_total', help: 'Busy.', labelNames: ['phase'] });
    const s = await threaded();
    const r = await scrapeWhileBusy(s.url, 2000, () => c.inc({ phase: 'before' }, 42));
    expect(r.answeredAt).toBeGreaterThanOrEqual(0); // answered while this thread was blocked
    expect(r.answeredAt).toBeLessThan(1000);
    expect(r.latencyMs).toBeLessThan(500);
    expect(r.body).toContain('busy_total{phase="before"} 42\n');
  });

  it('serves a custom registry, its default labels, and both formats', async () => {
    const registry = new Registry();
    registry.setDefaultLabels({ app: 'shop' });
    new Counter({ name: 'orders_total', help: 'Orders.', registers: [registry] }).inc(5);
    const s = await threaded({ registry, path: '/prom' });
    expect(s.url).toBe(`http://127.0.0.1:${s.socket.port}/prom`);
    expect((await get(s.url)).body.toString()).toBe(
      '# HELP orders_total Orders.\n# TYPE orders_total counter\norders_total{app="shop"} 5\n',
    );
    const om = await get(s.url, { headers: { accept: 'application/openmetrics-text' } });
    expect(om.body.toString()).toBe(
      '# HELP orders Orders.\n# TYPE orders counter\norders_total{app="shop"} 5\n# EOF\n',
    );
    expect((await get(`http://127.0.0.1:${s.socket.port}/healthz`)).status).toBe(200);
  });

  it('serves collect()-fed values as of the last collect, never waiting on a busy thread for more than collectTimeoutMs', async () => {
    const registry = new Registry();
    let calls = 0;
    new Gauge({
      name: 'collected',
      help: 'Collected.',
      registers: [registry],
      collect() {
        this.set(++calls);
      },
    });
    const lazy = await threaded({ registry });
    const first = await scrapeWhileBusy(lazy.url, 300);
    expect(first.answeredAt).toBeGreaterThanOrEqual(0);
    expect(first.body).toContain('collected 0\n'); // no collect could run yet
    await new Promise((r) => setTimeout(r, 50)); // now this thread runs the collect the scrape asked for
    expect(calls).toBe(1);
    expect((await scrapeWhileBusy(lazy.url, 300)).body).toContain('collected 1\n');

    const bounded = await threaded({ registry, collectTimeoutMs: 150 });
    const stale = await scrapeWhileBusy(bounded.url, 1000);
    expect(stale.answeredAt).toBeGreaterThanOrEqual(0); // the wait is bounded: answered while blocked
    expect(stale.latencyMs).toBeGreaterThanOrEqual(140);
    expect(stale.body).toMatch(/collected [12]\n/);
    await new Promise((r) => setTimeout(r, 50));
    const before = calls;
    const fresh = (await get(bounded.url)).body.toString(); // this thread is idle: it collects for the scrape
    expect(calls).toBe(before + 1);
    expect(fresh).toContain(`collected ${calls}\n`);
  });

  it('rejects promptly when the port is taken, and leaves no worker behind', async () => {
    const s = await startHttpServer({ addr: '127.0.0.1' });
    open.push(s);
    const t0 = Date.now();
    const err = await startHttpServerInThread({ addr: '127.0.0.1', port: s.socket.port }).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(err).toBeInstanceOf(ServerStartError);
    expect((err as ServerStartError).code).toBe('EADDRINUSE');
    expect((err as Error).message).toContain(`cannot listen on 127.0.0.1:${s.socket.port}`);
  });

  it('rejects invalid TLS material and options before or while the worker starts', async () => {
    const err = await startHttpServerInThread({ addr: '127.0.0.1', tls: { key: 'x', cert: 'y' } }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ServerStartError);
    const bad = await startHttpServerInThread({ collectTimeoutMs: -1 }).catch((e: unknown) => e);
    expect((bad as Error).message).toBe('metrics server: collectTimeoutMs must be a number ≥ 0, got -1');
    const sd = await startHttpServerInThread({ httpSd: { list: async () => [] } } as never).catch((e: unknown) => e);
    expect((sd as Error).message).toContain('metrics server: httpSd must not be given to a threaded server');
  });

  it('registers from this thread, deregisters on close even when that fails, and stops the worker', async () => {
    let registered = 0;
    const boom = new Error('deregister failed');
    const s = await startHttpServerInThread({
      addr: '127.0.0.1',
      serviceDiscovery: {
        register: async (info) => {
          registered = info.socket.port;
          return async () => Promise.reject(boom);
        },
      },
    });
    expect(registered).toBe(s.socket.port);
    expect(s.isRegistered).toBe(true);
    const exited = new Promise<number>((r) => s.worker.once('exit', r));
    await expect(s.close()).rejects.toBe(boom);
    expect(await exited).toBe(0);
    expect(await refused(s.socket.port)).toBe(true);
    await expect(s.close()).rejects.toBe(boom);
  });

  it('lets the process exit on its own after close()', () => {
    const r = spawnSync(process.execPath, [join(__dirname, 'fixtures', 'thread-exit.js')], {
      timeout: 15_000,
      encoding: 'utf8',
    });
    expect(r.error).toBeUndefined();
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).body).toBe('# HELP exit_total Exit.\n# TYPE exit_total counter\nexit_total 3\n');
  });
});
