// The one rule for HTTP request metrics, shared by every framework adapter (Hono, Express,
// Fastify, Koa): which metrics, which labels, how a route, a method and a status become label
// values, which requests are left out. An adapter only says, per request, which route template
// handled it (or none), the status the client got, and the sizes it knows.
import { Counter } from '../../metrics/counter';
import { InvalidMetricError, show } from '../../errors';
import { DEFAULT_BUCKETS, Histogram } from '../../metrics/histogram';
import type { LabelValues } from '../../metrics/labels';
import { OPENMETRICS_CONTENT_TYPE, register as globalRegister, type Registry } from '../../metrics/registry';
import { traceExemplarLabels } from '../../metrics/trace';
import { validateLabelName } from '../../metrics/validation';
import { isPlainObject, optionChecks, type OptionChecks } from '../../options';

/** What the options' callbacks (`normalizePath`, `extraLabels`) learn about a finished request. */
export interface RequestInfo {
  /** The request method as sent (`GET`, `PATCH`, …). */
  readonly method: string;
  /** The template of the route that handled it (`/users/:id`), or `undefined` when none matched. */
  readonly route: string | undefined;
  /** The raw path, without the query string (`/users/42`). */
  readonly path: string;
  /** The status the client got. */
  readonly status: number;
}

/** Options of every framework's `metricsMiddleware` (and of the Fastify plugin). */
export interface MetricsMiddlewareOptions {
  /** Registry of the metrics (default: the global `register`). */
  registry?: Registry;
  /** Prepended to every metric name, e.g. `'myapp_'` → `myapp_http_requests_total`. */
  prefix?: string;
  /** Name of the request counter, before `prefix` (default `http_requests_total`). */
  requestsTotalName?: string;
  /** Name of the duration histogram, before `prefix` (default `http_request_duration_seconds`). */
  requestDurationName?: string;
  /** Histogram buckets in seconds (default prom-client's `[0.005, …, 10]`). */
  buckets?: readonly number[];
  /** Constant labels added to every series, e.g. `{ app: 'api' }`. */
  labels?: Record<string, string | number>;
  /**
   * Labels computed per request, e.g. `{ tenant: (r) => tenantOf(r.path) }`. Each value must stay
   * within a small set: every distinct value is a new series. `undefined` becomes `""`.
   */
  extraLabels?: Record<string, (request: RequestInfo) => string | number | undefined>;
  /**
   * Requests left out of every metric: a string equals the route template or the raw path
   * (`'/healthz'`), a RegExp is tested against both.
   */
  excludeRoutes?: readonly (string | RegExp)[];
  /**
   * Computes the `route` label (default: the template, or `unmatchedRoute` when none matched).
   * E.g. `(r) => r.route ?? r.path.replace(/\/\d+/g, '/#id')` for apps with few raw paths. What it
   * returns must stay within a small set: every distinct value is a new series.
   */
  normalizePath?: (request: RequestInfo) => string;
  /**
   * Also record `http_request_size_bytes` and `http_response_size_bytes` (Histograms, same labels),
   * from the `Content-Length` of the request and of the response (bodies without one are not
   * observed). Default false.
   */
  sizes?: boolean;
  /** Buckets of the size histograms in bytes (default `[100, 1000, 10000, 100000, 1000000, 10000000]`). */
  sizeBuckets?: readonly number[];
  /**
   * Attach `{ trace_id, span_id? }` exemplars (from `currentTrace()` when the request enters the
   * middleware) to duration observations. Default: on when `registry` is an OpenMetrics registry,
   * the only kind that accepts exemplars.
   */
  exemplars?: boolean;
  /** `route` label of requests no route matched (default `(unmatched)`). */
  unmatchedRoute?: string;
}

/** What an adapter reports when a request is done. */
export interface FinishedRequest {
  method: string;
  /** Route template, `undefined` when none matched. */
  route: string | undefined;
  path: string;
  status: number;
  /** `Content-Length` of the request, when known. */
  requestBytes?: number | undefined;
  /** `Content-Length` of the response, when known. */
  responseBytes?: number | undefined;
}

/** Taken when a request enters the middleware. */
export interface RequestStart {
  readonly at: bigint;
  readonly exemplar: Record<string, string> | undefined;
}

export const DEFAULT_SIZE_BUCKETS: readonly number[] = Object.freeze([
  100, 1000, 10_000, 100_000, 1_000_000, 10_000_000,
]);
const DEFAULT_REQUESTS_TOTAL = 'http_requests_total';
const DEFAULT_DURATION = 'http_request_duration_seconds';
const REQUEST_SIZE = 'http_request_size_bytes';
const RESPONSE_SIZE = 'http_response_size_bytes';
const OWN_LABELS = ['method', 'route', 'status'] as const;
export const OPTIONS = [
  'registry',
  'prefix',
  'requestsTotalName',
  'requestDurationName',
  'buckets',
  'labels',
  'extraLabels',
  'excludeRoutes',
  'normalizePath',
  'sizes',
  'sizeBuckets',
  'exemplars',
  'unmatchedRoute',
] as const;
// Any other method string becomes `_OTHER` (OpenTelemetry's HTTP semantic conventions), so a
// client sending made-up methods cannot create series.
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

/** The raw path of a URL or request target, without query or fragment. */
export function pathOf(url: string | undefined): string {
  if (url === undefined) return '/';
  const q = url.search(/[?#]/);
  return q === -1 ? url : url.slice(0, q);
}

/** A `Content-Length` header's value as a number, when it is one. */
export function contentLength(value: string | number | string[] | null | undefined): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string' || !/^\d+$/.test(value)) return undefined;
  return Number(value);
}

/**
 * The request metrics of one middleware: created once per `metricsMiddleware(...)` call (reusing
 * metrics already in the registry under the same names), then `start()` on entry and `finish()`
 * when the adapter knows the outcome.
 */
export class RequestMetrics {
  readonly #counter: Counter<string>;
  readonly #duration: Histogram<string>;
  readonly #requestSize: Histogram<string> | undefined;
  readonly #responseSize: Histogram<string> | undefined;
  readonly #constLabels: Record<string, string | number>;
  readonly #extra: [string, (r: RequestInfo) => string | number | undefined][];
  readonly #excluded: readonly (string | RegExp)[];
  readonly #normalize: ((r: RequestInfo) => string) | undefined;
  readonly #unmatched: string;
  readonly #exemplars: boolean;

  /** `where` names the caller in error messages (`metricsMiddleware`, `promsd/fastify`…). */
  constructor(options: unknown, where: string, extraKeys: readonly string[] = []) {
    const o = checkOptions(options, where, extraKeys);
    const registry = o.registry ?? globalRegister;
    const prefix = o.prefix ?? '';
    this.#constLabels = { ...(o.labels ?? {}) };
    this.#extra = Object.entries(o.extraLabels ?? {});
    this.#excluded = [...(o.excludeRoutes ?? [])];
    this.#normalize = o.normalizePath;
    this.#unmatched = o.unmatchedRoute ?? '(unmatched)';
    const labelNames = [...OWN_LABELS, ...Object.keys(this.#constLabels), ...this.#extra.map(([n]) => n)];
    const exemplarsWanted = o.exemplars ?? registry.contentType === OPENMETRICS_CONTENT_TYPE;
    this.#counter = counterIn(where, registry, prefix + (o.requestsTotalName ?? DEFAULT_REQUESTS_TOTAL), labelNames);
    const durationName = prefix + (o.requestDurationName ?? DEFAULT_DURATION);
    const help = 'HTTP request duration in seconds, by method, route template and status.';
    this.#duration = histogramIn(where, registry, durationName, help, labelNames, o.buckets, DEFAULT_BUCKETS, {
      wanted: exemplarsWanted,
      required: o.exemplars === true,
    });
    this.#exemplars = exemplarsWanted && this.#duration.enableExemplars;
    if (o.sizes === true) {
      const sizeHelp = (what: string): string =>
        `HTTP ${what} body size in bytes (Content-Length), by method, route template and status.`;
      const none = { wanted: false, required: false };
      this.#requestSize = histogramIn(
        where,
        registry,
        prefix + REQUEST_SIZE,
        sizeHelp('request'),
        labelNames,
        o.sizeBuckets,
        DEFAULT_SIZE_BUCKETS,
        none,
      );
      this.#responseSize = histogramIn(
        where,
        registry,
        prefix + RESPONSE_SIZE,
        sizeHelp('response'),
        labelNames,
        o.sizeBuckets,
        DEFAULT_SIZE_BUCKETS,
        none,
      );
    }
  }

  /** Taken on entry: the clock, and the trace the request runs in (exemplars). */
  start(): RequestStart {
    return { at: process.hrtime.bigint(), exemplar: this.#exemplars ? traceExemplarLabels() : undefined };
  }

  /** Records one finished request, unless an `excludeRoutes` entry matches it. */
  finish(start: RequestStart, r: FinishedRequest): void {
    const seconds = Number(process.hrtime.bigint() - start.at) / 1e9;
    if (this.#isExcluded(r.route, r.path)) return;
    const info: RequestInfo = { method: r.method, route: r.route, path: r.path, status: r.status };
    // Key order is exposition order (prom-client's rule: the first update's): own labels first.
    const labels: Record<string, string | number> = {
      method: METHODS.has(r.method) ? r.method : '_OTHER',
      route: this.#normalize ? String(this.#normalize(info)) : (r.route ?? this.#unmatched),
      status: String(r.status),
      ...this.#constLabels,
    };
    for (const [name, fn] of this.#extra) labels[name] = fn(info) ?? '';
    const l = labels as LabelValues<string>;
    this.#counter.inc(l);
    // The object form whenever exemplars are enabled: `value` could otherwise be a label name.
    if (this.#duration.enableExemplars)
      this.#duration.observe({ labels: l, value: seconds, exemplarLabels: start.exemplar });
    else this.#duration.observe(l, seconds);
    if (this.#requestSize && r.requestBytes !== undefined) this.#requestSize.observe(l, r.requestBytes);
    if (this.#responseSize && r.responseBytes !== undefined) this.#responseSize.observe(l, r.responseBytes);
  }

  #isExcluded(route: string | undefined, path: string): boolean {
    for (const e of this.#excluded) {
      if (typeof e === 'string' ? e === route || e === path : e.test(path) || (route !== undefined && e.test(route)))
        return true;
    }
    return false;
  }
}

function checkOptions(options: unknown, where: string, extraKeys: readonly string[]): MetricsMiddlewareOptions {
  const opt: OptionChecks = optionChecks(where);
  const o = opt.keys(options ?? null, [...OPTIONS, ...extraKeys]) as MetricsMiddlewareOptions;
  for (const key of ['prefix', 'requestsTotalName', 'requestDurationName', 'unmatchedRoute'] as const) {
    if (o[key] !== undefined && typeof o[key] !== 'string') opt.fail(key, o[key], 'must be a string');
  }
  for (const key of ['exemplars', 'sizes'] as const) opt.boolean(key, o[key], false);
  opt.func('normalizePath', o.normalizePath, '(request) => route label');
  if (
    o.excludeRoutes !== undefined &&
    (!Array.isArray(o.excludeRoutes) || !o.excludeRoutes.every((e) => typeof e === 'string' || e instanceof RegExp))
  ) {
    opt.fail('excludeRoutes', o.excludeRoutes, 'must be an array of strings and RegExps');
  }
  if (
    o.registry !== undefined &&
    (typeof o.registry !== 'object' || typeof o.registry?.getSingleMetric !== 'function')
  ) {
    opt.fail('registry', o.registry, 'must be a Registry');
  }
  const taken = new Set<string>([...OWN_LABELS, 'le']);
  const checkName = (option: string, name: string): void => {
    if (!validateLabelName([name]) || taken.has(name)) {
      opt.fail(
        `${option}: label name`,
        name,
        'must be valid and not reserved (method, route, status, le, and each other label once)',
      );
    }
    taken.add(name);
  };
  if (o.labels !== undefined) {
    if (!isPlainObject(o.labels)) opt.fail('labels', o.labels, 'must be an object of label values');
    for (const [name, value] of Object.entries(o.labels)) {
      checkName('labels', name);
      if (typeof value !== 'string' && typeof value !== 'number') {
        opt.fail(`labels: value of ${show(name)}`, value, 'must be a string or a number');
      }
    }
  }
  if (o.extraLabels !== undefined) {
    if (!isPlainObject(o.extraLabels)) {
      opt.fail('extraLabels', o.extraLabels, 'must be an object of functions (request) => value');
    }
    for (const [name, fn] of Object.entries(o.extraLabels)) {
      checkName('extraLabels', name);
      opt.func(`extraLabels: ${show(name)}`, fn ?? null, '(request) => value');
    }
  }
  return o;
}

function sameLabelNames(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((n) => b.includes(n));
}

/** The request counter: the one already in `registry` under `name`, or a new one. */
function counterIn(where: string, registry: Registry, name: string, labelNames: string[]): Counter<string> {
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
      `${where}: ${existing.type} "${name}" is already registered with labels [${existing.labelNames.join(', ')}]; ` +
        `this middleware needs a counter with labels [${labelNames.join(', ')}]`,
    );
  }
  return existing;
}

/** A histogram: the one already in `registry` under `name`, or a new one. */
function histogramIn(
  where: string,
  registry: Registry,
  name: string,
  help: string,
  labelNames: string[],
  buckets: readonly number[] | undefined,
  defaultBuckets: readonly number[],
  exemplars: { wanted: boolean; required: boolean },
): Histogram<string> {
  const existing = registry.getSingleMetric(name);
  if (existing === undefined) {
    return new Histogram({
      name,
      help,
      labelNames,
      buckets: buckets ?? defaultBuckets,
      enableExemplars: exemplars.wanted,
      registers: [registry],
    });
  }
  const clash = (why: string): never => {
    throw new InvalidMetricError(`${where}: ${existing.type} "${name}" is already registered ${why}`);
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
  if (exemplars.required && !existing.enableExemplars)
    clash('without exemplars (exemplars: true needs enableExemplars on it)');
  return existing;
}
