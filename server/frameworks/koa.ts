// Koa adapter of the request metrics (server/frameworks/common.ts holds the rule). Koa is not
// imported: the middleware only uses what every Koa 2/3 context carries, and the route template
// @koa/router leaves on it.
import type { Context, Next } from 'koa';
import type { MetricsHandlerOptions } from '../app';
import { registrySource, renderMetrics } from '../app';
import { RequestMetrics } from './common';
import type { MetricsMiddlewareOptions } from './common';

/** The status Koa answers for an error that escaped the middleware stack (Koa's own rule). */
function statusOf(err: unknown): number {
  const e = err as { status?: unknown; statusCode?: unknown; code?: unknown } | null;
  const s = e?.status ?? e?.statusCode;
  if (typeof s === 'number' && Number.isInteger(s) && s >= 400 && s <= 599) return s;
  if (e?.code === 'ENOENT') return 404;
  return 500;
}

/**
 * A Koa middleware (2 and 3) recording `http_requests_total` and
 * `http_request_duration_seconds{method,route,status}` — the same metrics and labels as the Hono,
 * Express and Fastify ones. `route` is the template @koa/router matched (`/users/:id`, with the
 * router's prefix); requests no route matched are `(unmatched)`; an error thrown downstream is
 * counted with the status Koa answers for it (500 for a plain Error, `ctx.throw(404)`'s 404) and
 * re-thrown. Register it first: `app.use(metricsMiddleware())`.
 */
export function metricsMiddleware(options: MetricsMiddlewareOptions = {}): (ctx: Context, next: Next) => Promise<void> {
  const metrics = new RequestMetrics(options, 'metricsMiddleware');
  return async function promsdMetrics(ctx: Context, next: Next): Promise<void> {
    const start = metrics.start();
    const finish = (status: number): void => {
      const route = (ctx as { _matchedRoute?: unknown })._matchedRoute;
      metrics.finish(start, {
        method: ctx.method,
        route: typeof route === 'string' ? route : route instanceof RegExp ? String(route) : undefined,
        path: ctx.path,
        status,
        requestBytes: ctx.request.length,
        responseBytes: ctx.response.length,
      });
    };
    try {
      await next();
    } catch (err) {
      finish(statusOf(err));
      throw err;
    }
    finish(ctx.status);
  };
}

/**
 * A Koa handler serving a registry's exposition (OpenMetrics or text 0.0.4 as the scraper asks,
 * gzip): `router.get('/metrics', metricsHandler())`.
 */
export function metricsHandler(options: MetricsHandlerOptions = {}): (ctx: Context) => Promise<void> {
  const source = registrySource(options.registry);
  const compression = options.compression ?? true;
  return async function promsdMetricsHandler(ctx: Context): Promise<void> {
    const r = await renderMetrics(source, ctx.get('accept'), ctx.get('accept-encoding'), compression);
    ctx.status = r.status;
    ctx.set(r.headers);
    ctx.body = r.body;
  };
}
