// Fastify adapter of the request metrics (server/frameworks/common.ts holds the rule). Fastify is
// not imported: the plugin only uses the hooks and routes every Fastify 4/5 instance has.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { optionChecks, type OptionChecks } from '../../options';
import { renderMetrics, registrySource } from '../app';
import { contentLength, pathOf, RequestMetrics } from './common';
import type { MetricsMiddlewareOptions, RequestStart } from './common';

/** Options of the Fastify plugin: the request metrics', and the metrics route's. */
export interface FastifyMetricsOptions extends MetricsMiddlewareOptions {
  /** Path of the metrics route the plugin adds (default `/metrics`); `false` adds none. Not itself counted. */
  endpoint?: string | false;
  /** gzip the exposition when the scraper accepts it (default true). */
  compression?: boolean;
}

const WHERE = 'promsd/fastify metricsPlugin';

/**
 * A Fastify plugin recording `http_requests_total` and
 * `http_request_duration_seconds{method,route,status}` for every route of the instance it is
 * registered on — the same metrics and labels as the Hono, Express and Koa middleware — and
 * serving the registry at `endpoint`. `route` is the route's URL template (`/users/:id`, with the
 * prefixes of the plugins that declared it); requests no route matched are `(unmatched)`; a
 * handler that throws is counted with the status Fastify answers (500 for a plain Error). The
 * duration runs until the response is sent (`onResponse`).
 *
 * ```js
 * await app.register(metricsPlugin, { excludeRoutes: ['/healthz'] });
 * ```
 */
export function metricsPlugin(
  fastify: FastifyInstance,
  options: FastifyMetricsOptions,
  done: (err?: Error) => void,
): void {
  try {
    setUp(fastify, options);
  } catch (err) {
    // A callback plugin reports through done(): a throw here would leave Fastify waiting.
    done(err as Error);
    return;
  }
  done();
}

function setUp(fastify: FastifyInstance, options: FastifyMetricsOptions): void {
  const { endpoint = '/metrics', compression = true, ...rest } = (options ?? {}) as FastifyMetricsOptions;
  const opt: OptionChecks = optionChecks(WHERE);
  if (endpoint !== false && (typeof endpoint !== 'string' || !/^\/\S*$/.test(endpoint))) {
    opt.fail('endpoint', endpoint, 'must be an absolute URL path or false');
  }
  opt.boolean('compression', compression, true);
  const metrics = new RequestMetrics(
    endpoint === false ? rest : { ...rest, excludeRoutes: [endpoint, ...(rest.excludeRoutes ?? [])] },
    WHERE,
  );
  const starts = new WeakMap<FastifyRequest, RequestStart>();
  fastify.addHook('onRequest', (request, _reply, next) => {
    starts.set(request, metrics.start());
    next();
  });
  fastify.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, next) => {
    const start = starts.get(request);
    if (start !== undefined) {
      metrics.finish(start, {
        method: request.method,
        route: request.is404 ? undefined : request.routeOptions.url,
        path: pathOf(request.url),
        status: reply.statusCode,
        requestBytes: contentLength(request.headers['content-length']),
        responseBytes: contentLength(reply.getHeader('content-length') as string | number | undefined),
      });
    }
    next();
  });
  if (endpoint !== false) {
    const source = registrySource(rest.registry);
    fastify.get(endpoint, async (request, reply) => {
      const r = await renderMetrics(source, request.headers.accept, request.headers['accept-encoding'], compression);
      return reply.code(r.status).headers(r.headers).send(r.body);
    });
  }
}

// What fastify-plugin sets: the hooks apply to the whole instance, not to a child context.
Object.assign(metricsPlugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'promsd',
  [Symbol.for('plugin-meta')]: { name: 'promsd', fastify: '>=4' },
});
