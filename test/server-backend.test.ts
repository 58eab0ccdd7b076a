import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { gunzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type Backend,
  Counter,
  IoredisBackend,
  loadBackend,
  PROTOBUF_CONTENT_TYPE,
  RedisBackend,
  register,
  startHttpServer,
  startHttpServerInThread,
} from '../index';
import { get } from './helpers/http';
import { type RedisServer, spawnChild, startRedis } from './helpers/redis';

// The servers expose the cross-process aggregate when a backend is loaded: the in-thread one
// through the backend, the threaded one by rendering through the core from its worker thread.
const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

describe('metrics servers on the Redis backend', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis.kill();
  });

  it('serve the aggregate of this and another process, in both formats, gzipped or not', async () => {
    const child = spawnChild({
      url: redis.url,
      prefix: 'served',
      metrics: [{ type: 'counter', config: { name: 'served_orders_total', help: 'Orders.', labelNames: ['status'] } }],
      steps: [{ metric: 0, method: 'inc', labels: { status: 'paid' }, value: 5 }],
    });
    expect(await child.exited).toBe(0);
    const backend = loadBackend(
      new RedisBackend({ url: redis.url, prefix: 'served', flushIntervalMs: 100, logger: quiet }),
    );
    try {
      const orders = new Counter({ name: 'served_orders_total', help: 'Orders.', labelNames: ['status'] });
      orders.inc({ status: 'paid' }, 2);
      for (let i = 0; i < 60; i++) orders.inc({ status: `s${i}` }); // enough to be gzipped
      register.setDefaultLabels({ service: 'shop' });
      const direct = await startHttpServer({ addr: '127.0.0.1' });
      const threaded = await startHttpServerInThread({ addr: '127.0.0.1' });
      try {
        for (const server of [direct, threaded]) {
          const text = (await get(server.url)).body.toString();
          expect(text).toContain('# TYPE served_orders_total counter\n');
          expect(text).toContain('served_orders_total{status="paid",service="shop"} 7\n');
          expect(text).toContain('served_orders_total{status="s59",service="shop"} 1\n');
          const om = await get(server.url, {
            headers: { accept: 'application/openmetrics-text', 'accept-encoding': 'gzip' },
          });
          expect(om.headers['content-encoding']).toBe('gzip');
          const unzipped = gunzipSync(om.body).toString();
          expect(unzipped).toContain('# TYPE served_orders counter\n');
          expect(unzipped).toContain('served_orders_total{status="paid",service="shop"} 7\n');
          expect(unzipped.endsWith('# EOF\n')).toBe(true);
        }
      } finally {
        await Promise.all([direct.close(), threaded.close()]);
      }
    } finally {
      await backend.close();
    }
  });
});

// Issue 13's two bugs: whether a scrape shows the aggregate was decided per JS thread, so (1) a
// worker thread's register.metrics() showed its process's own values with a backend loaded on the
// main thread, and (2) a threaded server started before loadBackend served the local view on its
// first scrape after it. The core now answers for every thread (native/src/route_api.rs).
describe('the aggregate, from every thread of the process', () => {
  let redis: RedisServer;
  const closers: (() => Promise<unknown>)[] = [];
  beforeAll(async () => {
    redis = await startRedis();
    register.clear();
  });
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    register.clear();
  });
  afterAll(async () => {
    await redis.kill();
  });

  /** Another process adds 10 to `name` through Redis, flushes and exits. */
  async function otherProcessAdds10(prefix: string, name: string): Promise<void> {
    const child = spawnChild({
      url: redis.url,
      prefix,
      metrics: [{ type: 'counter', config: { name, help: 'Orders.' } }],
      steps: [{ metric: 0, method: 'inc', value: 10 }],
    });
    expect(await child.exited).toBe(0);
  }

  const backends: [string, (prefix: string) => Backend][] = [
    ['RedisBackend', (prefix) => new RedisBackend({ url: redis.url, prefix, flushIntervalMs: 100, logger: quiet })],
    ['IoredisBackend', (prefix) => new IoredisBackend({ url: redis.url, prefix, flushIntervalMs: 100, logger: quiet })],
  ];

  for (const [kind, make] of backends) {
    it(`a worker thread's register.metrics() shows the aggregate with ${kind} loaded on the main thread (11, not its own 1)`, async () => {
      const prefix = `w13${kind}`;
      const name = `w13_${kind.toLowerCase()}_orders_total`;
      await otherProcessAdds10(prefix, name);
      const backend = loadBackend(make(prefix));
      closers.push(() => backend.close());
      const worker = new Worker(join(__dirname, 'fixtures', 'global-render-worker.js'), {
        workerData: { name, inc: 1 },
      });
      const m = await new Promise<{ type: string; text?: string }>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      expect(m.type).toBe('text');
      expect(m.text).toContain(`# TYPE ${name} counter\n${name} 11\n`);
      // And this thread, which never defined the counter, sees the same.
      expect(await register.metrics()).toContain(`${name} 11\n`);
    });

    it(`a threaded server started before ${kind} is loaded serves the aggregate on its first scrape after it (1, then 11), and the local view again once it is closed`, async () => {
      const prefix = `t13${kind}`;
      const name = `t13_${kind.toLowerCase()}_orders_total`;
      await otherProcessAdds10(prefix, name);
      const orders = new Counter({ name, help: 'Orders.' });
      orders.inc();
      const server = await startHttpServerInThread({ addr: '127.0.0.1' });
      closers.push(() => server.close());
      expect((await get(server.url)).body.toString()).toContain(`${name} 1\n`);
      const backend = loadBackend(make(prefix));
      const first = await get(server.url);
      expect(first.headers['x-promsd-fallback']).toBeUndefined();
      expect(first.body.toString()).toContain(`${name} 11\n`);
      await backend.close();
      expect((await get(server.url)).body.toString()).toContain(`${name} 1\n`);
    });
  }

  it("a threaded server answers a protobuf request with the core backend's protobuf aggregate", async () => {
    const name = 'p13_orders_total';
    await otherProcessAdds10('p13', name);
    const backend = new RedisBackend({ url: redis.url, prefix: 'p13', flushIntervalMs: 100, logger: quiet });
    loadBackend(backend);
    closers.push(() => backend.close());
    new Counter({ name, help: 'Orders.' }).inc();
    const server = await startHttpServerInThread({ addr: '127.0.0.1' });
    closers.push(() => server.close());
    const r = await get(server.url, { headers: { accept: PROTOBUF_CONTENT_TYPE } });
    expect(r.headers['content-type']).toBe(PROTOBUF_CONTENT_TYPE);
    expect(r.body.equals(await backend.renderProtobuf({ defaultLabels: [] }))).toBe(true);
    // The family name and the aggregate (11 as a double) are in it.
    expect(r.body.includes(Buffer.from(name.replace(/_total$/, '')))).toBe(true);
    const eleven = Buffer.alloc(8);
    eleven.writeDoubleLE(11);
    expect(r.body.includes(eleven)).toBe(true);
  });

  it("a threaded server serves this process's own series, marked, when the JS backend on the main thread cannot read", async () => {
    const lines: string[] = [];
    const logger = { ...quiet, warn: (m: string) => lines.push(m) };
    const backend = loadBackend(
      new IoredisBackend({ url: 'redis://127.0.0.1:1', prefix: 'f13', timeoutMs: 200, logger: quiet }),
    );
    // Its last flush cannot be sent either: close() says so.
    closers.push(() => backend.close({ timeoutMs: 200 }).catch(() => undefined));
    const hits = new Counter({ name: 'f13_hits_total', help: 'Hits.' });
    hits.inc(3);
    const server = await startHttpServerInThread({ addr: '127.0.0.1', logger });
    closers.push(() => server.close());
    const r = await get(server.url);
    expect(r.status).toBe(200);
    expect(r.headers['x-promsd-fallback']).toBe('local');
    expect(r.body.toString()).toContain('f13_hits_total 3\n');
    expect(r.body.toString()).not.toContain('127.0.0.1:1');
    for (let i = 0; i < 100 && lines.length === 0; i++) await new Promise((res) => setTimeout(res, 20));
    expect(lines[0]).toMatch(/^promsd: metrics collection failed: /);
  });
});
