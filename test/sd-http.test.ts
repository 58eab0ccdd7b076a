import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Hono } from 'hono';
import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidSdOptionError } from '../errors';
import { RedisHttpSD, httpSdHandler, httpSdNodeHandler, type RedisHttpSDOptions } from '../sd/http';
import type { HttpSdSource, MetricsServerInfo } from '../sd/types';
import { freePort, recordingLogger, sleep, startRedis, waitFor, type RedisProcess } from './fixtures/sd-helpers';

// RedisHttpSD against a real redis-server on loopback, and the HTTP SD endpoint as Hono and
// node:http handlers.

let redis: RedisProcess;
let client: Redis;
let n = 0;

/** A prefix no other test uses, so each test sees its own fleet. */
function prefix(): string {
  return `t${++n}`;
}

function info(port: number, extra: Partial<MetricsServerInfo> = {}): MetricsServerInfo {
  return {
    socket: { addr: '127.0.0.1', port },
    url: `http://127.0.0.1:${port}/metrics`,
    path: '/metrics',
    https: false,
    healthPath: '/healthz',
    ...extra,
  };
}

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
});

afterAll(async () => {
  client.disconnect();
  await redis.stop();
});

describe('RedisHttpSD', () => {
  it('lists every live instance of the fleet, with its labels, and [] when there are none', async () => {
    const p = prefix();
    const reader = new RedisHttpSD({ url: redis.url, prefix: p });
    expect(await reader.list()).toEqual([]);
    const a = new RedisHttpSD({ url: redis.url, prefix: p, serviceId: 'a', labels: { job: 'checkout' } });
    const b = new RedisHttpSD({ redis: client, prefix: p, serviceId: 'b' });
    const da = await a.register(info(9101));
    const db = await b.register(info(9102, { https: true, path: '/m' }));
    expect(a.isRegistered && b.isRegistered).toBe(true);
    expect(await reader.list()).toEqual([
      { targets: ['127.0.0.1:9101'], labels: { __metrics_path__: '/metrics', __scheme__: 'http', job: 'checkout' } },
      { targets: ['127.0.0.1:9102'], labels: { __metrics_path__: '/m', __scheme__: 'https' } },
    ]);
    expect(await a.list()).toEqual(await reader.list());
    await da();
    expect((await reader.list()).map((g) => g.targets[0])).toEqual(['127.0.0.1:9102']);
    expect(a.isRegistered).toBe(false);
    await db();
    expect(await reader.list()).toEqual([]);
    await reader.close();
  });

  it('keeps a hash-tagged sorted set scored by expiry and a hash of targets, both expiring with the last member', async () => {
    const p = prefix();
    const sd = new RedisHttpSD({ redis: client, prefix: p, serviceId: 'x', ttlSeconds: 10 });
    expect(sd.keys).toEqual([`{${p}}:sd`, `{${p}}:sd:targets`]);
    await sd.register(info(9201));
    const [sec, usec] = await client.time();
    const now = Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
    const score = Number(await client.zscore(`{${p}}:sd`, 'x'));
    expect(score - now).toBeGreaterThan(9000);
    expect(score - now).toBeLessThanOrEqual(10_000);
    expect(JSON.parse((await client.hget(`{${p}}:sd:targets`, 'x')) as string)).toEqual({
      targets: ['127.0.0.1:9201'],
      labels: { __metrics_path__: '/metrics', __scheme__: 'http' },
    });
    const pttl = await client.pttl(`{${p}}:sd`);
    expect(pttl).toBeGreaterThan(9000);
    expect(pttl).toBeLessThanOrEqual(11_000);
    expect(await client.pttl(`{${p}}:sd:targets`)).toBeGreaterThan(9000);
    await sd.close();
  });

  it('an instance that stops refreshing (crashed) disappears after its TTL, and its entry is pruned', async () => {
    const p = prefix();
    const live = new RedisHttpSD({ redis: client, prefix: p, serviceId: 'live', ttlSeconds: 0.6 });
    const dead = new RedisHttpSD({ redis: client, prefix: p, serviceId: 'dead', ttlSeconds: 0.6 });
    const stopLive = await live.register(info(9301));
    await dead.register(info(9302));
    await dead.close(); // stops refreshing without withdrawing, like a crash
    expect(await live.list()).toHaveLength(2);
    await sleep(900);
    expect((await live.list()).map((g) => g.targets[0])).toEqual(['127.0.0.1:9301']);
    expect(await client.hkeys(`{${p}}:sd:targets`)).toEqual(['live']);
    expect(await client.zrange(`{${p}}:sd`, 0, -1)).toEqual(['live']);
    await stopLive();
  });

  it('keys disappear from Redis once the whole fleet is gone', async () => {
    const p = prefix();
    const sd = new RedisHttpSD({ redis: client, prefix: p, serviceId: 'only', ttlSeconds: 0.3 });
    await sd.register(info(9401));
    await sd.close();
    await waitFor('keys expired', async () => (await client.exists(`{${p}}:sd`, `{${p}}:sd:targets`)) === 0, 3000);
  });

  it('refreshes every third of the TTL', async () => {
    const p = prefix();
    const sd = new RedisHttpSD({ redis: client, prefix: p, serviceId: 'r', ttlSeconds: 0.6 });
    const stop = await sd.register(info(9501));
    const first = Number(await client.zscore(`{${p}}:sd`, 'r'));
    await sleep(450);
    expect(Number(await client.zscore(`{${p}}:sd`, 'r'))).toBeGreaterThan(first);
    await sleep(500);
    expect(await sd.list()).toHaveLength(1); // alive past its first TTL
    await stop();
  });

  it('starts with Redis down, says so once, and announces when Redis comes up', async () => {
    const port = await freePort();
    const logger = recordingLogger();
    const sd = new RedisHttpSD({
      url: `redis://127.0.0.1:${port}`,
      prefix: prefix(),
      serviceId: 'late',
      ttlSeconds: 0.6,
      logger,
    });
    const stop = await sd.register(info(9601));
    expect(sd.isRegistered).toBe(false);
    expect(logger.at('warn')).toHaveLength(1);
    expect(logger.at('warn')[0]).toMatch(/^RedisHttpSD: cannot announce "late" in Redis: .*; retrying every 0.2s$/);
    const late = await startRedis(port);
    try {
      await waitFor('announced', () => sd.isRegistered, 5000);
      expect((await sd.list()).map((g) => g.targets[0])).toEqual(['127.0.0.1:9601']);
      expect(logger.at('info')).toEqual(['RedisHttpSD: announcing "late" in Redis again']);
      expect(logger.at('warn')).toHaveLength(1);
    } finally {
      await stop();
      await late.stop();
    }
  });

  it('deregister withdraws the instance, closes the connection it opened, and stops the timer', async () => {
    const p = prefix();
    const sd = new RedisHttpSD({ url: redis.url, prefix: p, serviceId: 'w', ttlSeconds: 0.3 });
    const stop = await sd.register(info(9701));
    await stop();
    await stop();
    await sleep(250);
    expect(await client.exists(`{${p}}:sd:targets`)).toBe(0);
    await expect(sd.list()).rejects.toThrow('RedisHttpSD: list() after close()');
  });

  it('leaves an injected client open on close', async () => {
    const sd = new RedisHttpSD({ redis: client, prefix: prefix(), serviceId: 'i' });
    const stop = await sd.register(info(9801));
    await stop();
    expect(client.status).toBe('ready');
    expect(await client.ping()).toBe('PONG');
  });

  it('refuses a second register() on the same instance', async () => {
    const sd = new RedisHttpSD({ redis: client, prefix: prefix() });
    const stop = await sd.register(info(9901));
    await expect(sd.register(info(9902))).rejects.toThrow(
      'RedisHttpSD: register() was already called; use one RedisHttpSD per metrics server',
    );
    await stop();
  });

  const bad: [string, unknown, string][] = [
    [
      'neither url nor redis',
      {},
      'RedisHttpSD: give exactly one of url (a redis:// URL) or redis (an ioredis instance)',
    ],
    ['both url and redis', { url: 'redis://x', redis: { eval() {} } }, 'RedisHttpSD: give exactly one of url'],
    [
      'url of another scheme',
      { url: 'http://redis:6379' },
      'RedisHttpSD: url must be a redis:// or rediss:// URL, got "http://redis:6379"',
    ],
    [
      'redis not a client',
      { redis: 'redis://x' },
      'RedisHttpSD: redis must be an ioredis Redis or Cluster instance, got "redis://x"',
    ],
    [
      'prefix with braces',
      { url: 'redis://x', prefix: '{app}' },
      'RedisHttpSD: prefix must not contain "{", "}" or spaces (it becomes the Redis Cluster hash tag), got "{app}"',
    ],
    [
      'ttlSeconds zero',
      { url: 'redis://x', ttlSeconds: 0 },
      'RedisHttpSD: ttlSeconds must be a positive number of seconds, got 0',
    ],
    [
      'ttlSeconds as a string',
      { url: 'redis://x', ttlSeconds: '30' },
      'RedisHttpSD: ttlSeconds must be a positive number of seconds, got "30"',
    ],
    [
      'invalid label name',
      { url: 'redis://x', labels: { 'a b': 'x' } },
      'RedisHttpSD: labels: key "a b" is not a valid Prometheus label name',
    ],
    [
      'serviceId with spaces',
      { url: 'redis://x', serviceId: 'a b' },
      'RedisHttpSD: serviceId must be 1-200 characters without spaces, got "a b"',
    ],
    [
      'unknown option',
      { url: 'redis://x', ttl: 30 },
      'RedisHttpSD: unknown option "ttl" (known: url, redis, prefix, ttlSeconds, labels, serviceId, address, logger)',
    ],
    [
      'logger without methods',
      { url: 'redis://x', logger: console.log },
      'RedisHttpSD: logger must have debug, info, warn and error methods',
    ],
  ];
  it.each(bad)('%s is refused with a clear error', (_what, options, message) => {
    expect(() => new RedisHttpSD(options as RedisHttpSDOptions)).toThrow(InvalidSdOptionError);
    expect(() => new RedisHttpSD(options as RedisHttpSDOptions)).toThrow(message);
  });
});

describe('httpSdHandler', () => {
  const fixed = (groups: unknown[]): HttpSdSource => ({ list: async () => groups as never });
  const failing: HttpSdSource = { list: async () => Promise.reject(new Error('redis is down')) };

  it('Hono: GET /sd answers application/json with the target groups', async () => {
    const app = new Hono();
    app.get('/sd', httpSdHandler(fixed([{ targets: ['10.0.0.1:9464'], labels: { __metrics_path__: '/metrics' } }])));
    const res = await app.request('/sd');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.text()).toBe('[{"targets":["10.0.0.1:9464"],"labels":{"__metrics_path__":"/metrics"}}]');
  });

  it('Hono: answers [] when there are no targets', async () => {
    const app = new Hono();
    app.get('/sd', httpSdHandler(fixed([])));
    const res = await app.request('/sd');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('[]');
  });

  it('Hono: answers 503 with the reason when the source fails (Prometheus keeps its last targets)', async () => {
    const app = new Hono();
    app.get('/sd', httpSdHandler(failing));
    const res = await app.request('/sd');
    expect(res.status).toBe(503);
    expect(await res.text()).toBe('service discovery source failed: redis is down\n');
  });

  it('node:http: serves the live Redis listing over a real socket; HEAD has no body; POST gets 405', async () => {
    const p = prefix();
    const sd = new RedisHttpSD({ redis: client, prefix: p, serviceId: 's' });
    const stop = await sd.register(info(9464));
    const reader = new RedisHttpSD({ redis: client, prefix: p }); // a fleet member that only lists
    const server: Server = createServer(httpSdNodeHandler(reader));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sd`;
    try {
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(await res.json()).toEqual([
        { targets: ['127.0.0.1:9464'], labels: { __metrics_path__: '/metrics', __scheme__: 'http' } },
      ]);
      const head = await fetch(url, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(await head.text()).toBe('');
      const post = await fetch(url, { method: 'POST' });
      expect(post.status).toBe(405);
      expect(post.headers.get('allow')).toBe('GET, HEAD');
      await stop();
      expect(await (await fetch(url)).text()).toBe('[]');
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('refuses a source without list()', () => {
    expect(() => httpSdHandler({} as HttpSdSource)).toThrow(
      'httpSdHandler(source): source must have a list() method returning target groups, got {}',
    );
    expect(() => httpSdNodeHandler(undefined as never)).toThrow(
      'httpSdNodeHandler(source): source must have a list() method',
    );
  });
});
