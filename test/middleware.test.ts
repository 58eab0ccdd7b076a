import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { describe, expect, it } from 'vitest';
import {
  Counter,
  InvalidMetricError,
  InvalidOptionsError,
  OPENMETRICS_CONTENT_TYPE,
  Registry,
  metricsMiddleware,
  runWithTrace,
} from '../index';

// metricsMiddleware: http_requests_total and http_request_duration_seconds by method, route
// template and status, read back from each test's own registry. Handlers run in-process through
// app.request(), except in the test where the socket is the point.

/** Sample lines of `name` (without HELP/TYPE lines). */
async function samples(reg: Registry, name: string): Promise<string[]> {
  return (await reg.metrics()).split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

function appWith(reg: Registry, options: Parameters<typeof metricsMiddleware>[0] = {}): Hono {
  const app = new Hono();
  app.use(metricsMiddleware({ registry: reg, buckets: [5, 60], ...options }));
  app.get('/users/:id', (c) => c.json({ id: c.req.param('id') }));
  app.get('/boom', () => {
    throw new Error('boom');
  });
  return app;
}

describe('metricsMiddleware', () => {
  it('labels requests with the route template: two ids on /users/:id make one series', async () => {
    const reg = new Registry();
    const app = appWith(reg);
    expect((await app.request('/users/1')).status).toBe(200);
    expect(await (await app.request('/users/2')).json()).toEqual({ id: '2' });
    expect(await samples(reg, 'http_requests_total')).toEqual([
      'http_requests_total{method="GET",route="/users/:id",status="200"} 2',
    ]);
    expect(await samples(reg, 'http_request_duration_seconds_count')).toEqual([
      'http_request_duration_seconds_count{method="GET",route="/users/:id",status="200"} 2',
    ]);
    expect(await samples(reg, 'http_request_duration_seconds_bucket')).toEqual([
      'http_request_duration_seconds_bucket{le="5",method="GET",route="/users/:id",status="200"} 2',
      'http_request_duration_seconds_bucket{le="60",method="GET",route="/users/:id",status="200"} 2',
      'http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/users/:id",status="200"} 2',
    ]);
    expect(await reg.metrics()).not.toContain('/users/1');
  });

  it('labels requests no route matched "(unmatched)", whatever their path or method', async () => {
    const reg = new Registry();
    const app = appWith(reg);
    app.use('*', async (_c, next) => next()); // a wildcard middleware after ours passes 404s on
    for (const path of ['/nope', '/a/b/c', '/users']) expect((await app.request(path)).status).toBe(404);
    expect((await app.request('/users/1', { method: 'POST' })).status).toBe(404);
    expect(await samples(reg, 'http_requests_total')).toEqual([
      'http_requests_total{method="GET",route="(unmatched)",status="404"} 3',
      'http_requests_total{method="POST",route="(unmatched)",status="404"} 1',
    ]);
  });

  it('keeps the route of a handler that answers 404 itself, and the unmatched label is configurable', async () => {
    const reg = new Registry();
    const app = appWith(reg, { unmatchedRoute: 'none' });
    app.get('/items/:id', (c) => c.text('no such item', 404));
    await app.request('/items/7');
    await app.request('/elsewhere');
    expect(await samples(reg, 'http_requests_total')).toEqual([
      'http_requests_total{method="GET",route="/items/:id",status="404"} 1',
      'http_requests_total{method="GET",route="none",status="404"} 1',
    ]);
  });

  it('counts a handler that throws with status 500, and the error still reaches onError', async () => {
    const reg = new Registry();
    const app = appWith(reg);
    const seen: Error[] = [];
    app.onError((err, c) => {
      seen.push(err);
      return c.text('failed', 500);
    });
    const res = await app.request('/boom');
    expect(res.status).toBe(500);
    expect(await res.text()).toBe('failed');
    expect(seen.map((e) => e.message)).toEqual(['boom']);
    expect(await samples(reg, 'http_requests_total')).toEqual([
      'http_requests_total{method="GET",route="/boom",status="500"} 1',
    ]);
    expect(await samples(reg, 'http_request_duration_seconds_count')).toEqual([
      'http_request_duration_seconds_count{method="GET",route="/boom",status="500"} 1',
    ]);
  });

  it('counts an HTTPException with its own status', async () => {
    const reg = new Registry();
    const app = appWith(reg);
    app.get('/secret', () => {
      throw new HTTPException(403, { message: 'no' });
    });
    expect((await app.request('/secret')).status).toBe(403);
    expect(await samples(reg, 'http_requests_total')).toEqual([
      'http_requests_total{method="GET",route="/secret",status="403"} 1',
    ]);
  });

  it('counts a non-Error throw, which escapes Hono, with status 500 and re-throws it', async () => {
    const reg = new Registry();
    const app = appWith(reg);
    app.get('/raw', () => {
      throw 'raw failure';
    });
    await expect(app.request('/raw')).rejects.toBe('raw failure');
    expect(await samples(reg, 'http_requests_total')).toEqual([
      'http_requests_total{method="GET",route="/raw",status="500"} 1',
    ]);
  });

  it('labels routes of mounted sub-apps with their full template', async () => {
    const reg = new Registry();
    const app = appWith(reg);
    const api = new Hono();
    api.get('/items/:id', (c) => c.text('item'));
    app.route('/api', api);
    await app.request('/api/items/1');
    await app.request('/api/items/2');
    expect(await samples(reg, 'http_requests_total')).toEqual([
      'http_requests_total{method="GET",route="/api/items/:id",status="200"} 2',
    ]);
  });

  it('labels HEAD requests HEAD and unknown methods _OTHER', async () => {
    const reg = new Registry();
    const app = appWith(reg);
    await app.request('/users/1', { method: 'HEAD' });
    await app.request('/users/1', { method: 'BREW' });
    expect(await samples(reg, 'http_requests_total')).toEqual([
      'http_requests_total{method="HEAD",route="/users/:id",status="200"} 1',
      'http_requests_total{method="_OTHER",route="(unmatched)",status="404"} 1',
    ]);
  });

  it('applies a prefix, custom names and constant labels', async () => {
    const reg = new Registry();
    const app = appWith(reg, { prefix: 'shop_', requestsTotalName: 'requests_total', labels: { app: 'api', zone: 1 } });
    await app.request('/users/1');
    expect(await samples(reg, 'shop_requests_total')).toEqual([
      // Labels in the key order of the first update (prom-client's rule): the middleware's own first.
      'shop_requests_total{method="GET",route="/users/:id",status="200",app="api",zone="1"} 1',
    ]);
    expect(await samples(reg, 'shop_http_request_duration_seconds_count')).toEqual([
      'shop_http_request_duration_seconds_count{method="GET",route="/users/:id",status="200",app="api",zone="1"} 1',
    ]);
  });

  it('reuses the metrics when created twice on one registry, and refuses a clashing metric', async () => {
    const reg = new Registry();
    const a = appWith(reg);
    const b = appWith(reg);
    await a.request('/users/1');
    await b.request('/users/2');
    expect(await samples(reg, 'http_requests_total')).toEqual([
      'http_requests_total{method="GET",route="/users/:id",status="200"} 2',
    ]);
    expect(() => metricsMiddleware({ registry: reg, buckets: [1, 2] })).toThrow(
      'metricsMiddleware: histogram "http_request_duration_seconds" is already registered with buckets [5, 60], not [1, 2]',
    );
    const other = new Registry();
    new Counter({ name: 'http_requests_total', help: 'Mine.', labelNames: ['path'], registers: [other] });
    expect(() => metricsMiddleware({ registry: other })).toThrow(InvalidMetricError);
    expect(() => metricsMiddleware({ registry: other })).toThrow(
      'metricsMiddleware: counter "http_requests_total" is already registered with labels [path]; this middleware needs a counter with labels [method, route, status]',
    );
  });

  it('refuses bad options with the offending value named', () => {
    const reg = new Registry();
    expect(() => metricsMiddleware({ registry: reg, bucket: [1] } as never)).toThrow(InvalidOptionsError);
    expect(() => metricsMiddleware({ registry: reg, bucket: [1] } as never)).toThrow(
      'metricsMiddleware: unknown option "bucket"',
    );
    expect(() => metricsMiddleware({ registry: reg, labels: { route: 'x' } })).toThrow(
      'labels: label name must be valid and not reserved (method, route, status, le, and each other label once), got "route"',
    );
    expect(() => metricsMiddleware({ registry: reg, labels: { ok: {} as never } })).toThrow(
      'value of "ok" must be a string or a number, got {}',
    );
    expect(() => metricsMiddleware({ registry: reg, prefix: 'bad-' })).toThrow(InvalidMetricError);
    expect(() => metricsMiddleware({ registry: reg, exemplars: true })).toThrow(
      'exemplars are supported only on OpenMetrics registries',
    );
  });

  describe('exemplars', () => {
    it('attach the trace_id of runWithTrace to duration observations on an OpenMetrics registry', async () => {
      const reg = new Registry(OPENMETRICS_CONTENT_TYPE);
      const app = new Hono();
      // A tracing middleware in front, as an app would have: the trace id from a request header.
      app.use((c, next) => runWithTrace({ traceId: c.req.header('x-trace-id') ?? 'none' }, next));
      app.use(metricsMiddleware({ registry: reg, buckets: [5, 60] }));
      app.get('/users/:id', (c) => c.text('u'));
      await app.request('/users/1', { headers: { 'x-trace-id': '4bf92f3577b34da6a3ce929d0e0e4736' } });
      const [bucket] = await samples(reg, 'http_request_duration_seconds_bucket');
      expect(bucket).toMatch(
        /^http_request_duration_seconds_bucket\{le="5",method="GET",route="\/users\/:id",status="200"\} 1 # \{trace_id="4bf92f3577b34da6a3ce929d0e0e4736"\} \S+ \d+\.\d{3}$/,
      );
      // The counter carries none; the text format shows none.
      expect((await samples(reg, 'http_requests_total')).join('\n')).not.toContain('#');
      expect(await reg.metrics({ contentType: 'text/plain; version=0.0.4; charset=utf-8' })).not.toContain('trace_id');
    });

    it('are off with exemplars: false, and outside any trace', async () => {
      const off = new Registry(OPENMETRICS_CONTENT_TYPE);
      const appOff = appWith(off, { exemplars: false });
      await runWithTrace({ traceId: 'abc' }, () => appOff.request('/users/1'));
      const on = new Registry(OPENMETRICS_CONTENT_TYPE);
      await appWith(on).request('/users/1');
      for (const reg of [off, on]) expect((await reg.metrics()).includes('trace_id')).toBe(false);
    });
  });

  it('records requests served over a real socket by @hono/node-server', async () => {
    const reg = new Registry();
    const app = appWith(reg);
    app.onError((_err, c) => c.text('failed', 500)); // keeps Hono's default handler from logging
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
    try {
      await new Promise<void>((resolve, reject) => {
        if (server.listening) resolve();
        server.once('listening', () => resolve());
        server.once('error', reject);
      });
      const { port } = server.address() as AddressInfo;
      for (const path of ['/users/10', '/users/11', '/missing', '/boom'])
        await (await fetch(`http://127.0.0.1:${port}${path}`)).text();
      expect(await samples(reg, 'http_requests_total')).toEqual([
        'http_requests_total{method="GET",route="/users/:id",status="200"} 2',
        'http_requests_total{method="GET",route="(unmatched)",status="404"} 1',
        'http_requests_total{method="GET",route="/boom",status="500"} 1',
      ]);
    } finally {
      await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    }
  });
});
