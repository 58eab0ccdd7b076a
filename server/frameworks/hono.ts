// Hono adapter of the request metrics (server/frameworks/common.ts holds the rule).
import type { Context, MiddlewareHandler } from 'hono';
import { InvalidOptionsError } from '../../errors';
import { contentLength, RequestMetrics } from './common';
import type { MetricsMiddlewareOptions } from './common';

interface RouteLike {
  path: string;
  method: string;
}

/**
 * The routes matched for this request. The instance getter first: `hono/route`'s helper reads a
 * module-private Symbol, which differs between Hono's ESM and CJS builds, so it fails when the
 * app loaded one build and promsd the other.
 */
function matched(c: Context): RouteLike[] {
  const viaGetter = (c.req as unknown as { matchedRoutes?: RouteLike[] }).matchedRoutes;
  if (Array.isArray(viaGetter)) return viaGetter;
  const { matchedRoutes } = require('hono/route') as { matchedRoutes: (c: Context) => RouteLike[] };
  return matchedRoutes(c);
}

/**
 * A Hono middleware recording `http_requests_total` (Counter) and `http_request_duration_seconds`
 * (Histogram), both labelled `method`, `route` and `status`:
 * - `route` is the template of the route that handled the request (`/users/:id`, never the raw
 *   path). A request is unmatched, labelled `unmatchedRoute`, when no route registered after the
 *   middleware ran, or when the last one that ran is a wildcard `use`/`all` route and the answer
 *   is 404 (a middleware that passed the request on to Hono's not-found handler).
 * - `status` is the status the client gets. A handler that throws an Error is answered by the
 *   app's `onError` (500 by default, an `HTTPException`'s own status); anything that escapes to
 *   this middleware is counted with status 500 and re-thrown.
 * - The duration runs until the response is produced (headers), not until a streamed body ends.
 *
 * Register it first (`app.use(metricsMiddleware())`) so it sees every route. Calling the factory
 * again with the same registry and names reuses the metrics already there (same label names and
 * buckets required); a metric of another shape under one of the names throws.
 */
export function metricsMiddleware(options: MetricsMiddlewareOptions = {}): MiddlewareHandler {
  const metrics = new RequestMetrics(options, 'metricsMiddleware');
  const finish = (c: Context, own: number, start: ReturnType<RequestMetrics['start']>, status: number): void => {
    metrics.finish(start, {
      method: c.req.method,
      route: routeOf(c, own, status),
      path: c.req.path,
      status,
      requestBytes: contentLength(c.req.header('content-length')),
      responseBytes: contentLength(c.res?.headers.get('content-length')),
    });
  };
  return async function promsdMetrics(c, next) {
    if (c?.req?.raw === undefined || typeof next !== 'function') {
      throw new InvalidOptionsError(
        'metricsMiddleware: this is the Hono middleware (promsd/hono); for Express import it from promsd/express, for Koa from promsd/koa, for Fastify register promsd/fastify',
      );
    }
    const own = c.req.routeIndex;
    const start = metrics.start();
    try {
      await next();
    } catch (err) {
      finish(c, own, start, 500);
      throw err;
    }
    finish(c, own, start, c.res.status);
  };
}

/** The template of the last route that ran after this middleware; `undefined` when none did. */
function routeOf(c: Context, own: number, status: number): string | undefined {
  const index = c.req.routeIndex;
  if (index === own) return undefined;
  const route = matched(c)[index];
  if (route === undefined) return undefined;
  if (status === 404 && route.method === 'ALL' && route.path.endsWith('*')) return undefined;
  return route.path;
}
