// HTTP request metrics for Hono apps, labelled by route template so the series stay bounded.
import type { Context, MiddlewareHandler } from 'hono';
import { Counter } from '../metrics/counter';
import { InvalidMetricError, InvalidOptionsError, show } from '../errors';
import { honoRouteLoaded, honoRouteNow, importHonoRoute } from './hono';
import { DEFAULT_BUCKETS, Histogram } from '../metrics/histogram';
import type { LabelValues } from '../metrics/labels';
import { OPENMETRICS_CONTENT_TYPE, register as globalRegister, type Registry } from '../metrics/registry';
import { traceExemplarLabels } from '../metrics/trace';
import { validateLabelName } from '../metrics/validation';

/** Options of `metricsMiddleware`. */
export interface MetricsMiddlewareOptions {
  /** Registry of the two metrics (default: the global `register`). */
  registry?: Registry;
  /** Prepended to both metric names, e.g. `'myapp_'` → `myapp_http_requests_total`. */
  prefix?: string;
  /** Name of the request counter, before `prefix` (default `http_requests_total`). */
  requestsTotalName?: string;
  /** Name of the duration histogram, before `prefix` (default `http_request_duration_seconds`). */
  requestDurationName?: string;
  /** Histogram buckets in seconds (default prom-client's `[0.005, …, 10]`). */
  buckets?: readonly number[];
  /** Constant labels added to every series of both metrics, e.g. `{ app: 'api' }`. */
  labels?: Record<string, string | number>;
  /**
   * Attach `{ trace_id, span_id? }` exemplars (from `currentTrace()` when the request enters the
   * middleware) to duration observations. Default: on when `registry` is an OpenMetrics registry,
   * the only kind that accepts exemplars.
   */
  exemplars?: boolean;
  /** `route` label of requests no route matched (default `(unmatched)`). */
  unmatchedRoute?: string;
}

const DEFAULT_REQUESTS_TOTAL = 'http_requests_total';
const DEFAULT_DURATION = 'http_request_duration_seconds';
const OWN_LABELS = ['method', 'route', 'status'] as const;
const OPTIONS = [
  'registry',
  'prefix',
  'requestsTotalName',
  'requestDurationName',
  'buckets',
  'labels',
  'exemplars',
  'unmatchedRoute',
] as const;
// Any other method string becomes `_OTHER` (OpenTelemetry's HTTP semantic conventions), so a
// client sending made-up methods cannot create series.
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

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
  const o = checkOptions(options);
  const registry = o.registry ?? globalRegister;
  const prefix = o.prefix ?? '';
  const constLabels = { ...(o.labels ?? {}) };
  const labelNames = [...OWN_LABELS, ...Object.keys(constLabels)];
  const unmatched = o.unmatchedRoute ?? '(unmatched)';
  const exemplarsWanted = o.exemplars ?? registry.contentType === OPENMETRICS_CONTENT_TYPE;
  const counter = counterIn(registry, prefix + (o.requestsTotalName ?? DEFAULT_REQUESTS_TOTAL), labelNames);
  const durationName = prefix + (o.requestDurationName ?? DEFAULT_DURATION);
  const histogram = histogramIn(registry, durationName, labelNames, o.buckets, exemplarsWanted, o.exemplars === true);
  const withExemplars = exemplarsWanted && histogram.enableExemplars;

  const record = (
    c: Context,
    own: number,
    start: bigint,
    exemplar: Record<string, string> | undefined,
    status: number,
  ): void => {
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const method = c.req.method;
    const labels = {
      ...constLabels,
      method: METHODS.has(method) ? method : '_OTHER',
      route: routeOf(c, own, status, unmatched),
      status: String(status),
    } as LabelValues<string>;
    counter.inc(labels);
    // The object form whenever exemplars are enabled: `value` could otherwise be a label name.
    if (histogram.enableExemplars) histogram.observe({ labels, value: seconds, exemplarLabels: exemplar });
    else histogram.observe(labels, seconds);
  };

  // hono/route is loaded now, in promsd's module format, so that importing promsd does not load it.
  const routeHelper = importHonoRoute();
  routeHelper.catch(() => {});

  return async function promsdMetrics(c, next) {
    const own = c.req.routeIndex;
    const exemplar = withExemplars ? traceExemplarLabels() : undefined;
    const start = process.hrtime.bigint();
    try {
      await next();
    } catch (err) {
      if (!honoRouteLoaded()) await routeHelper;
      record(c, own, start, exemplar, 500);
      throw err;
    }
    if (!honoRouteLoaded()) await routeHelper;
    record(c, own, start, exemplar, c.res.status);
  };
}

/** The `route` label: the template of the last route that ran after this middleware. */
function routeOf(c: Context, own: number, status: number, unmatched: string): string {
  const index = c.req.routeIndex;
  if (index === own) return unmatched;
  const route = honoRouteNow().matchedRoutes(c)[index];
  if (route === undefined) return unmatched;
  if (status === 404 && route.method === 'ALL' && route.path.endsWith('*')) return unmatched;
  return route.path;
}

function checkOptions(options: unknown): MetricsMiddlewareOptions {
  const where = 'metricsMiddleware';
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidOptionsError(`${where}: options must be an object, got ${show(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!(OPTIONS as readonly string[]).includes(key)) {
      throw new InvalidOptionsError(`${where}: unknown option ${show(key)} (known: ${OPTIONS.join(', ')})`);
    }
  }
  const o = options as MetricsMiddlewareOptions;
  for (const key of ['prefix', 'requestsTotalName', 'requestDurationName', 'unmatchedRoute'] as const) {
    if (o[key] !== undefined && typeof o[key] !== 'string') {
      throw new InvalidOptionsError(`${where}: option ${key} must be a string, got ${show(o[key])}`);
    }
  }
  if (o.exemplars !== undefined && typeof o.exemplars !== 'boolean') {
    throw new InvalidOptionsError(`${where}: option exemplars must be a boolean, got ${show(o.exemplars)}`);
  }
  if (
    o.registry !== undefined &&
    (typeof o.registry !== 'object' || typeof o.registry?.getSingleMetric !== 'function')
  ) {
    throw new InvalidOptionsError(`${where}: option registry must be a Registry, got ${show(o.registry)}`);
  }
  if (o.labels !== undefined) {
    if (typeof o.labels !== 'object' || o.labels === null || Array.isArray(o.labels)) {
      throw new InvalidOptionsError(`${where}: option labels must be an object of label values, got ${show(o.labels)}`);
    }
    for (const [name, value] of Object.entries(o.labels)) {
      if (!validateLabelName([name]) || (OWN_LABELS as readonly string[]).includes(name) || name === 'le') {
        throw new InvalidOptionsError(
          `${where}: option labels: label name ${show(name)} is invalid or reserved (method, route, status, le)`,
        );
      }
      if (typeof value !== 'string' && typeof value !== 'number') {
        throw new InvalidOptionsError(
          `${where}: option labels: value of "${name}" must be a string or a number, got ${show(value)}`,
        );
      }
    }
  }
  return o;
}

function sameLabelNames(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((n) => b.includes(n));
}

/** The request counter: the one already in `registry` under `name`, or a new one. */
function counterIn(registry: Registry, name: string, labelNames: string[]): Counter<string> {
  const existing = registry.getSingleMetric(name);
  if (existing === undefined) {
    return new Counter({
      name,
      help: 'HTTP requests handled, by method, route template and status.',
      labelNames,
      registers: [registry],
    });
  }
  if (!(existing instanceof Counter) || !sameLabelNames(existing.labelNames, labelNames)) {
    throw new InvalidMetricError(
      `metricsMiddleware: ${existing.type} "${name}" is already registered with labels [${existing.labelNames.join(', ')}]; ` +
        `this middleware needs a counter with labels [${labelNames.join(', ')}]`,
    );
  }
  return existing;
}

/** The duration histogram: the one already in `registry` under `name`, or a new one. */
function histogramIn(
  registry: Registry,
  name: string,
  labelNames: string[],
  buckets: readonly number[] | undefined,
  exemplars: boolean,
  exemplarsRequired: boolean,
): Histogram<string> {
  const existing = registry.getSingleMetric(name);
  if (existing === undefined) {
    return new Histogram({
      name,
      help: 'HTTP request duration in seconds, by method, route template and status.',
      labelNames,
      buckets: buckets ?? DEFAULT_BUCKETS,
      enableExemplars: exemplars,
      registers: [registry],
    });
  }
  const clash = (why: string): never => {
    throw new InvalidMetricError(`metricsMiddleware: ${existing.type} "${name}" is already registered ${why}`);
  };
  if (!(existing instanceof Histogram)) return clash('and is not a histogram');
  if (!sameLabelNames(existing.labelNames, labelNames)) {
    clash(`with labels [${existing.labelNames.join(', ')}], not [${labelNames.join(', ')}]`);
  }
  if (buckets !== undefined) {
    const want = buckets[buckets.length - 1] === Infinity ? buckets.slice(0, -1) : buckets;
    if (want.length !== existing.upperBounds.length || want.some((b, i) => b !== existing.upperBounds[i])) {
      clash(`with buckets [${existing.upperBounds.join(', ')}], not [${want.join(', ')}]`);
    }
  }
  if (exemplarsRequired && !existing.enableExemplars)
    clash('without exemplars (exemplars: true needs enableExemplars on it)');
  return existing;
}
