import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Counter, loadBackend, RedisBackend, register, startHttpServer, startHttpServerInThread } from '../index';
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
