import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context, Handler, Hono, MiddlewareHandler } from 'hono';
import {
  getGlobalRegistry,
  isGzip,
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  PROTOBUF_CONTENT_TYPE,
} from '../metrics/registry';
import type { ExpositionContentType, Registry } from '../metrics/registry';
import { httpSdHandler } from '../sd/http';
import type { HttpSdSource } from '../sd/types';
import { defaultLogger, LogThrottle } from '../log';
import type { Logger } from '../log';
import { honoNow } from './hono';
import type { AuthOptions } from './options';

/**
 * Produces the exposition bytes in the requested format, gzipped when `gzip` is true and the
 * source chose to (the body then starts with gzip's magic bytes). A source that cannot encode
 * the protobuf format answers in OpenMetrics and says so in `contentType`.
 */
export type ExpositionSource = (
  contentType: ExpositionContentType,
  gzip: boolean,
) => Promise<{ body: Buffer; headers?: Record<string, string>; contentType?: ExpositionContentType }>;

/** Options of `metricsHandler` and of the request listener. */
export interface MetricsHandlerOptions {
  /** Registry to expose; default the global one. */
  registry?: Registry;
  /** gzip when the scraper accepts it; default true. */
  compression?: boolean;
}

function qOf(params: string[]): number {
  for (const p of params) {
    const m = /^\s*q\s*=\s*([0-9.]+)\s*$/i.exec(p);
    if (m) return Number(m[1]);
  }
  return 1;
}

/** True for `proto=io.prometheus.client.MetricFamily` with `encoding=delimited` among `params`. */
function isMetricFamilyStream(params: string[]): boolean {
  let proto = false;
  let delimited = false;
  for (const p of params) {
    const [k = '', v = ''] = p.split('=').map((x) => x.trim());
    if (k.toLowerCase() === 'proto') proto = v === 'io.prometheus.client.MetricFamily';
    else if (k.toLowerCase() === 'encoding') delimited = v.toLowerCase() === 'delimited';
  }
  return proto && delimited;
}

/**
 * The format a scraper asked for: the protobuf format when its `Accept` header ranks
 * `application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited`
 * highest (Prometheus does with `--enable-feature=native-histograms`; the only format that
 * carries native histograms), else OpenMetrics when it ranks `application/openmetrics-text` at
 * least as high as `text/plain` (Prometheus sends
 * `application/openmetrics-text;version=1.0.0,...,text/plain;version=0.0.4;q=0.5,*\/*;q=0.1`),
 * text 0.0.4 otherwise.
 */
export function negotiateContentType(accept: string | null | undefined): ExpositionContentType {
  if (!accept) return PROMETHEUS_CONTENT_TYPE;
  let pb = 0;
  let om = 0;
  let text = 0;
  for (const range of accept.split(',')) {
    const [type = '', ...params] = range.split(';');
    const t = type.trim().toLowerCase();
    const q = qOf(params);
    if (t === 'application/openmetrics-text') om = Math.max(om, q);
    else if (t === 'application/vnd.google.protobuf' && isMetricFamilyStream(params)) pb = Math.max(pb, q);
    else if (t === 'text/plain' || t === 'text/*' || t === '*/*') text = Math.max(text, q);
  }
  if (pb > 0 && pb >= om && pb >= text) return PROTOBUF_CONTENT_TYPE;
  return om > 0 && om >= text ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE;
}

/** True when `Accept-Encoding` admits gzip (a `q=0` refuses it). */
export function acceptsGzip(acceptEncoding: string | null | undefined): boolean {
  if (!acceptEncoding) return false;
  for (const range of acceptEncoding.split(',')) {
    const [coding = '', ...params] = range.split(';');
    const c = coding.trim().toLowerCase();
    if ((c === 'gzip' || c === 'x-gzip') && qOf(params) > 0) return true;
  }
  return false;
}

/** Status, headers and body of a metrics response, independent of the HTTP framework. */
export interface MetricsResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Encodes (and gzips) one scrape, both in one task off this thread. */
export async function renderMetrics(
  source: ExpositionSource,
  accept: string | null | undefined,
  acceptEncoding: string | null | undefined,
  compression: boolean,
): Promise<MetricsResponse> {
  const asked = negotiateContentType(accept);
  const { body, headers: extra, contentType } = await source(asked, compression && acceptsGzip(acceptEncoding));
  const headers: Record<string, string> = {
    'content-type': contentType ?? asked,
    vary: 'Accept, Accept-Encoding',
    'cache-control': 'no-store',
    ...extra,
  };
  if (isGzip(body)) headers['content-encoding'] = 'gzip';
  headers['content-length'] = String(body.length);
  return { status: 200, headers, body };
}

/** The exposition of `registry` (default: the global one, through its backend when one is loaded). */
export function registrySource(registry: Registry | undefined): ExpositionSource {
  return (contentType, gzip) => registryExposition(registry ?? getGlobalRegistry(), contentType, gzip);
}

/** Header telling a scraper the aggregate was unavailable and the body is this process's own metrics. */
export const LOCAL_FALLBACK_HEADER = 'x-promsd-fallback';

/**
 * A registry's exposition in `asked`, or in OpenMetrics when the JS backend aggregating it cannot
 * encode protobuf (the core decides, for every thread alike). With `fallbackLogger` (the servers),
 * a failed read of the aggregate serves this process's own series instead, marked
 * `X-Promsd-Fallback: local`, and the cause is logged there (throttled): Prometheus then keeps
 * this process's series rather than losing every series of the target to a 500.
 */
export async function registryExposition(
  registry: Registry,
  asked: ExpositionContentType,
  gzip: boolean,
  options?: { collect?: boolean; defaultLabels?: Record<string, string>; fallbackLogger?: Logger },
): Promise<{ body: Buffer; contentType: ExpositionContentType; headers?: Record<string, string> }> {
  const { fallbackLogger, ...rest } = options ?? {};
  const r = await registry.exposition({ ...rest, contentType: asked, gzip, fallback: fallbackLogger !== undefined });
  if (r.fallback === undefined) return { body: r.body, contentType: r.contentType };
  logScrapeFailure(new Error(r.fallback), fallbackLogger, 'warn');
  return { body: r.body, contentType: r.contentType, headers: { [LOCAL_FALLBACK_HEADER]: 'local' } };
}

function toResponse(r: MetricsResponse, head: boolean): Response {
  return new Response(head ? null : r.body, { status: r.status, headers: r.headers });
}

/**
 * What a scraper sees when a scrape fails: no cause. Causes name hosts, ports and error texts that
 * are nobody's business on an endpoint often open to the network; they go to the log instead.
 */
export const SCRAPE_FAILED_BODY = 'metrics collection failed; the cause is in the server log\n';

// One throttle per logger: a failing scrape every 15 s logs once a minute.
const throttles = new WeakMap<Logger, LogThrottle>();

/** Logs why a scrape failed (throttled per cause). */
export function logScrapeFailure(err: unknown, logger: Logger = defaultLogger(), level: keyof Logger = 'error'): void {
  const msg = err instanceof Error ? err.message : String(err);
  let t = throttles.get(logger);
  if (t === undefined) throttles.set(logger, (t = new LogThrottle(logger)));
  t.log(level, msg, `promsd: metrics collection failed: ${msg}`);
}

function errorResponse(err: unknown, logger?: Logger): Response {
  logScrapeFailure(err, logger);
  return new Response(SCRAPE_FAILED_BODY, {
    status: 500,
    headers: { 'content-type': 'text/plain; charset=utf-8' },
  });
}

function handlerFor(source: ExpositionSource, compression: boolean, logger?: Logger): Handler {
  return async (c: Context) => {
    try {
      const r = await renderMetrics(source, c.req.header('accept'), c.req.header('accept-encoding'), compression);
      return toResponse(r, c.req.method === 'HEAD');
    } catch (err) {
      return errorResponse(err, logger);
    }
  };
}

/**
 * A Hono handler serving a registry's exposition, negotiated per request (OpenMetrics or text
 * 0.0.4, gzip). `app.get('/metrics', metricsHandler({ registry }))`.
 */
export function metricsHandler(options: MetricsHandlerOptions = {}): Handler {
  return handlerFor(registrySource(options.registry), options.compression ?? true);
}

/** A Hono handler serving the global registry: `app.get('/metrics', serverStats)`. */
export const serverStats: Handler = metricsHandler();

/**
 * A plain Node `(req, res)` listener serving a registry's exposition, for node:http, Express
 * (`app.get('/metrics', metricsRequestListener())`) and Fastify (`reply.hijack()` first) users.
 */
export function metricsRequestListener(
  options: MetricsHandlerOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  const source = registrySource(options.registry);
  const compression = options.compression ?? true;
  return (req, res) => {
    const header = (name: string): string | undefined => {
      const v = req.headers[name];
      return Array.isArray(v) ? v.join(', ') : v;
    };
    renderMetrics(source, header('accept'), header('accept-encoding'), compression).then(
      (r) => {
        res.writeHead(r.status, r.headers);
        res.end(req.method === 'HEAD' ? undefined : r.body);
      },
      (err: unknown) => {
        logScrapeFailure(err);
        if (res.headersSent) return void res.destroy();
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(SCRAPE_FAILED_BODY);
      },
    );
  };
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/**
 * Constant-time check of the `Authorization` header against `auth`. The scheme is
 * case-insensitive (`bearer`, `BASIC`: RFC 9110 §11.1); the credentials are compared exactly.
 */
export function authorized(auth: AuthOptions, header: string | undefined): boolean {
  if (header === undefined) return false;
  const m = /^\s*([A-Za-z]+)\s+(\S+)\s*$/.exec(header);
  if (m === null) return false;
  const [, scheme = '', credentials = ''] = m;
  const [wantScheme, want] =
    'token' in auth
      ? ['bearer', auth.token]
      : ['basic', Buffer.from(`${auth.username}:${auth.password}`, 'utf8').toString('base64')];
  // Hashing first makes the comparison constant-time whatever the lengths.
  const same = timingSafeEqual(digest(credentials), digest(want));
  return same && scheme.toLowerCase() === wantScheme;
}

function authMiddleware(auth: AuthOptions): MiddlewareHandler {
  const challenge = 'token' in auth ? 'Bearer realm="metrics"' : 'Basic realm="metrics", charset="UTF-8"';
  return async (c, next) => {
    if (!authorized(auth, c.req.header('authorization'))) {
      return new Response('Unauthorized\n', {
        status: 401,
        headers: { 'www-authenticate': challenge, 'content-type': 'text/plain; charset=utf-8' },
      });
    }
    await next();
  };
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** Options of `createMetricsApp`. */
export interface MetricsAppOptions {
  /** Produces the exposition. */
  source: ExpositionSource;
  /** Metrics path. */
  path: string;
  /** gzip when accepted. */
  compression: boolean;
  /** Required credentials. */
  auth?: AuthOptions;
  /** Serves HTTP SD at `/sd`. */
  httpSd?: HttpSdSource;
  /** Where failed scrapes are logged (default: the library logger). */
  logger?: Logger;
}

/**
 * The metrics server's routes: GET/HEAD on the metrics path, `/` (a small HTML page linking to
 * it — a cheap health check), `/healthz`, `/sd` when an HTTP SD source is given; 405 for other
 * methods on those paths, 404 for anything else.
 */
export function createMetricsApp(options: MetricsAppOptions): Hono {
  const app = new (honoNow().Hono)();
  const { path } = options;
  const methodNotAllowed = (): Response =>
    new Response('Method Not Allowed\n', {
      status: 405,
      headers: { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' },
    });
  if (options.auth) {
    app.use(path, authMiddleware(options.auth));
    if (options.httpSd) app.use('/sd', authMiddleware(options.auth));
  }
  app.get(path, handlerFor(options.source, options.compression, options.logger));
  const page = Buffer.from(
    '<!doctype html>\n<html><head><title>promsd metrics</title></head><body>' +
      `<h1>promsd metrics</h1><p><a href="${escapeHtml(path)}">${escapeHtml(path)}</a></p></body></html>\n`,
  );
  app.get(
    '/',
    () =>
      new Response(page, {
        headers: { 'content-type': 'text/html; charset=utf-8', 'content-length': String(page.length) },
      }),
  );
  app.get('/healthz', () => new Response('ok\n', { headers: { 'content-type': 'text/plain; charset=utf-8' } }));
  const sd = options.httpSd;
  if (sd) app.get('/sd', httpSdHandler(sd));
  for (const p of [path, '/', '/healthz', ...(sd ? ['/sd'] : [])]) app.all(p, methodNotAllowed);
  app.notFound(
    () => new Response('Not Found\n', { status: 404, headers: { 'content-type': 'text/plain; charset=utf-8' } }),
  );
  app.onError((err) => errorResponse(err, options.logger));
  return app;
}
