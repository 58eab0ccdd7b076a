import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { ConfigError, InvalidOptionsError } from '../errors';
import { checkLogger, createLogger, defaultLogger, LogThrottle, setLogger } from '../log';
import { Registry } from '../metrics/registry';
import { metricsMiddleware as expressMetrics } from '../server/frameworks/express';
import { metricsPlugin } from '../server/frameworks/fastify';
import { metricsMiddleware as honoMetrics } from '../server/frameworks/hono';
import { metricsMiddleware as koaMetrics } from '../server/frameworks/koa';

// The options every adapter shares (one implementation, server/frameworks/common.ts), the clear
// errors for bad ones, and the one logger module. Real frameworks over real sockets, in-process.

async function samples(reg: Registry, name: string): Promise<string[]> {
  return (await reg.metrics())
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`))
    .sort();
}

async function listen(server: import('node:http').Server): Promise<number> {
  if (!server.listening) await new Promise((r) => server.once('listening', r));
  return (server.address() as AddressInfo).port;
}

describe('options shared by every adapter', () => {
  it('normalizePath computes the route label, extraLabels add per-request labels, made-up methods are _OTHER', async () => {
    const reg = new Registry();
    const app = express();
    app.use(
      expressMetrics({
        registry: reg,
        buckets: [1],
        normalizePath: (r) => r.route ?? r.path.replace(/\/\d+/g, '/#'),
        extraLabels: { tenant: (r) => r.path.split('/')[1] },
      }),
    );
    app.get('/acme/users/:id', (_req, res) => res.send('u'));
    const server = app.listen(0, '127.0.0.1');
    try {
      const port = await listen(server);
      for (const [method, path] of [
        ['GET', '/acme/users/1'],
        ['GET', '/files/12/34'],
        ['PURGE', '/acme/users/1'],
      ] as const)
        await (await fetch(`http://127.0.0.1:${port}${path}`, { method })).arrayBuffer();
      expect(await samples(reg, 'http_requests_total')).toEqual([
        'http_requests_total{method="GET",route="/acme/users/:id",status="200",tenant="acme"} 1',
        'http_requests_total{method="GET",route="/files/#/#",status="404",tenant="files"} 1',
        'http_requests_total{method="_OTHER",route="/acme/users/#",status="404",tenant="acme"} 1',
      ]);
    } finally {
      server.close();
    }
  });

  it('excludeRoutes takes RegExps, tested against the template and the path', async () => {
    const reg = new Registry();
    const app = new Koa();
    app.use(koaMetrics({ registry: reg, excludeRoutes: [/^\/internal\//] }));
    app.use((ctx) => {
      ctx.body = 'x';
    });
    const server = app.listen(0, '127.0.0.1');
    try {
      const port = await listen(server);
      for (const p of ['/internal/a', '/internal/b', '/public'])
        await (await fetch(`http://127.0.0.1:${port}${p}`)).arrayBuffer();
      expect(await samples(reg, 'http_requests_total')).toEqual([
        'http_requests_total{method="GET",route="(unmatched)",status="200"} 1',
      ]);
    } finally {
      server.close();
    }
  });

  it('the Fastify plugin takes endpoint: false, and counts a thrown handler as 500', async () => {
    const reg = new Registry();
    const app = Fastify();
    await app.register(metricsPlugin, { registry: reg, endpoint: false });
    app.get('/boom', async () => {
      throw new Error('boom');
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const port = (app.server.address() as AddressInfo).port;
      expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(404);
      expect((await fetch(`http://127.0.0.1:${port}/boom`)).status).toBe(500);
      expect(await samples(reg, 'http_requests_total')).toEqual([
        'http_requests_total{method="GET",route="(unmatched)",status="404"} 1',
        'http_requests_total{method="GET",route="/boom",status="500"} 1',
      ]);
    } finally {
      await app.close();
    }
  });

  it('refuses bad options with the offending value named', async () => {
    const reg = new Registry();
    expect(() => expressMetrics({ registry: reg, excludeRoutes: '/healthz' as never })).toThrow(
      new InvalidOptionsError(
        'metricsMiddleware: excludeRoutes must be an array of strings and RegExps, got "/healthz"',
      ),
    );
    expect(() => koaMetrics({ registry: reg, normalizePath: 'x' as never })).toThrow(
      'metricsMiddleware: normalizePath must be a function (request) => route label, got "x"',
    );
    expect(() => honoMetrics({ registry: reg, extraLabels: { route: () => 'x' } })).toThrow(
      'metricsMiddleware: extraLabels: label name must be valid and not reserved (method, route, status, le, and each other label once), got "route"',
    );
    expect(() => honoMetrics({ registry: reg, labels: { a: 1 }, extraLabels: { a: () => 'x' } })).toThrow(
      /^metricsMiddleware: extraLabels: label name must be valid and not reserved .*, got "a"$/,
    );
    expect(() => honoMetrics({ registry: reg, sizes: 'yes' as never })).toThrow(
      'metricsMiddleware: sizes must be true or false, got "yes"',
    );
    const app = Fastify();
    await expect(app.register(metricsPlugin, { registry: reg, endpoint: 'metrics' })).rejects.toThrow(
      'promsd/fastify metricsPlugin: endpoint must be an absolute URL path or false, got "metrics"',
    );
  });

  it('the Hono middleware used in Express says where the Express one is', async () => {
    const app = express();
    let seen: unknown;
    app.use(honoMetrics({ registry: new Registry() }) as never);
    app.use((err: unknown, _req: unknown, res: express.Response, _next: unknown) => {
      seen = err;
      res.status(500).end();
    });
    const server = app.listen(0, '127.0.0.1');
    try {
      const port = await listen(server);
      expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(500);
      expect((seen as Error).message).toBe(
        'metricsMiddleware: this is the Hono middleware (promsd/hono); for Express import it from promsd/express, for Koa from promsd/koa, for Fastify register promsd/fastify',
      );
    } finally {
      server.close();
    }
  });

  it('the Hono middleware reads the route through the request, so it works whatever Hono build the app loaded', async () => {
    const reg = new Registry();
    const app = new Hono().use(honoMetrics({ registry: reg })).get('/a/:b', (c) => c.text('x'));
    await app.request('/a/1');
    expect(await samples(reg, 'http_requests_total')).toEqual([
      'http_requests_total{method="GET",route="/a/:b",status="200"} 1',
    ]);
  });
});

describe('the one logger', () => {
  it('accepts console-like loggers and names what is missing otherwise', () => {
    expect(() => checkLogger('RedisBackend', { info() {} })).toThrow(
      'RedisBackend: logger must have debug, info, warn and error methods (missing debug); pino, winston and console fit, got {}',
    );
    const lines: string[] = [];
    const l = checkLogger('x', {
      prefix: 'p',
      debug(this: { prefix: string }, m: string) {
        lines.push(`${this.prefix} ${m}`);
      },
      info() {
        throw new Error('a throwing logger is contained');
      },
      warn() {},
      error() {},
    });
    l.debug('bound');
    expect(() => l.info('ignored')).not.toThrow();
    expect(lines).toEqual(['p bound']);
  });

  it('defaults to stderr at PROMSD_LOG_LEVEL (warn when unset) and refuses a bad level with the config message', () => {
    const out: string[] = [];
    const warnOnly = createLogger('warn', 'json', (line) => void out.push(line));
    warnOnly.info('dropped');
    warnOnly.warn('kept');
    expect(out.map((l) => JSON.parse(l).msg)).toEqual(['kept']);
    expect(() => defaultLogger({ PROMSD_LOG_LEVEL: 'loud' })).toThrow(ConfigError);
    expect(() => defaultLogger({ PROMSD_LOG_LEVEL: 'loud' })).toThrow(
      'log.level = "loud" (from env PROMSD_LOG_LEVEL): expected debug | info | warn | error | silent',
    );
    expect(defaultLogger({})).toBe(defaultLogger({ PROMSD_LOG_LEVEL: 'warn' }));
    const mine = { debug() {}, info() {}, warn() {}, error() {} };
    setLogger(mine);
    try {
      defaultLogger().warn('to mine');
      expect(defaultLogger({ PROMSD_LOG_LEVEL: 'loud' })).not.toBe(undefined);
    } finally {
      setLogger(undefined);
    }
  });

  it('throttles per cause: the first line at once, the repeats counted on the next one after the window', () => {
    const lines: string[] = [];
    const t = new LogThrottle({ debug() {}, info() {}, warn: (m) => void lines.push(m), error() {} }, 60_000);
    t.log('warn', 'a', 'a failed', 0);
    t.log('warn', 'a', 'a failed', 1000);
    t.log('warn', 'a', 'a failed', 2000);
    t.log('warn', 'b', 'b failed', 3000);
    t.log('warn', 'a', 'a failed', 61_000);
    expect(lines).toEqual(['a failed', 'b failed', 'a failed (2 more in the last 61 s)']);
  });
});
