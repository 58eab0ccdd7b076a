// Express adapter of the request metrics (server/frameworks/common.ts holds the rule). Express is
// not imported: the middleware only uses what every Express 4/5 request and response carry.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MetricsHandlerOptions } from '../app';
import { metricsRequestListener } from '../app';
import { contentLength, pathOf, RequestMetrics } from './common';
import type { MetricsMiddlewareOptions } from './common';

/** The parts of an Express request the middleware reads. */
interface ExpressRequest extends IncomingMessage {
  baseUrl?: string;
  originalUrl?: string;
  route?: { path?: unknown };
}

type Next = (err?: unknown) => void;

/** `route.path` is a string, a RegExp or an array of them. */
function templateOf(baseUrl: string | undefined, path: unknown): string {
  const p = Array.isArray(path) ? path.map(String).join('|') : String(path);
  return (baseUrl ?? '') + p;
}

/**
 * Observes `req.route` as Express's router sets it, with the `baseUrl` of that moment: by the time
 * the response finishes, a router that unwound after a thrown handler has reset `baseUrl`.
 */
function watchRoute(req: ExpressRequest): () => string | undefined {
  let route: ExpressRequest['route'];
  let template: string | undefined;
  Object.defineProperty(req, 'route', {
    configurable: true,
    enumerable: true,
    get: () => route,
    set: (value: ExpressRequest['route']) => {
      route = value;
      template = value === undefined || value === null ? undefined : templateOf(req.baseUrl, value.path);
    },
  });
  return () => template;
}

/**
 * An Express middleware (4 and 5) recording `http_requests_total` and
 * `http_request_duration_seconds{method,route,status}` — the same metrics and labels as the Hono,
 * Fastify and Koa ones. `route` is the template of the route that answered, with the mount path of
 * its router (`/api/users/:id`); requests no route answered (Express's 404) are `(unmatched)`; a
 * handler that throws (or rejects, in Express 5) is counted with the 500 Express answers. The
 * duration runs until the response is finished (or the client went away).
 *
 * ```js
 * app.use(metricsMiddleware());
 * app.get('/metrics', metricsHandler());
 * ```
 */
export function metricsMiddleware(
  options: MetricsMiddlewareOptions = {},
): (req: IncomingMessage, res: ServerResponse, next: Next) => void {
  const metrics = new RequestMetrics(options, 'metricsMiddleware');
  return function promsdMetrics(req: ExpressRequest, res: ServerResponse, next: Next): void {
    const start = metrics.start();
    const route = watchRoute(req);
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      metrics.finish(start, {
        method: req.method ?? 'GET',
        route: route(),
        path: pathOf(req.originalUrl ?? req.url),
        status: res.statusCode,
        requestBytes: contentLength(req.headers['content-length']),
        responseBytes: contentLength(res.getHeader('content-length') as string | number | undefined),
      });
    };
    res.once('finish', finish);
    res.once('close', finish);
    next();
  };
}

/**
 * An Express handler serving a registry's exposition (OpenMetrics or text 0.0.4 as the scraper
 * asks, gzip): `app.get('/metrics', metricsHandler())`.
 */
export function metricsHandler(
  options: MetricsHandlerOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  return metricsRequestListener(options);
}
