// prometheus_async's `aio.time`, `aio.count_exceptions` and `aio.track_inprogress` for Node.
//
// Each factory checks its metric and options when it is called and returns a wrapper that works
// three ways with the same object:
//   time(h)(fn)                      a wrapped function (sync, or returning a promise/thenable)
//   @time(h) method() {}             a TypeScript 5 standard (stage 3) method decorator
//   [f, g].map(time(h))              anything else calling it with one function
// The wrapped call keeps `this`, the arguments, the return value and the thrown error (the same
// objects); metrics are recorded when the call returns, throws, or its promise settles.
import { Counter } from './counter';
import { InvalidLabelsError, InvalidMetricError, InvalidValueError, show } from '../errors';
import { optionChecks, type OptionChecks } from '../options';
import { Gauge } from './gauge';
import { Histogram } from './histogram';
import { labelValuesOf, type LabelValues } from './labels';
import { Metric } from './metric';
import { Summary } from './summary';
import { traceExemplarLabels } from './trace';

/** Any function: the wrappers accept every signature and return the same type. */
// `never[]` parameters make every function assignable, whatever its parameters and `this`.
export type AnyFunction = (...args: never[]) => unknown;

/**
 * What `time(metric)`, `countExceptions(counter)` and `trackInprogress(gauge)` return: call it
 * with a function to get the instrumented function, or use it as a method decorator (`@time(h)`).
 */
export type Wrapper = <F extends AnyFunction>(fn: F, context?: ClassMethodDecoratorContext) => F;

/**
 * Labels computed from a call. `args` are the call's arguments. For `time`, it is called once
 * the call is over: `(args, result, undefined)` after a return or a fulfilled promise (`result`
 * is the resolved value), `(args, undefined, error)` after a throw or a rejection. For
 * `countExceptions`, only for counted errors, as `(args, undefined, error)`.
 */
export type LabelsFunction<T extends string, A extends unknown[] = unknown[], R = unknown> = (
  args: A,
  result: R | undefined,
  error: unknown,
) => LabelValues<T>;

/** Options of `time`. */
export interface TimeOptions<T extends string, A extends unknown[] = unknown[], R = unknown> {
  /**
   * Labels of the observation: a fixed label set, checked when `time()` is called, or a function
   * of the call (see `LabelsFunction`). Required when the metric has label names.
   */
  labels?: LabelValues<T> | LabelsFunction<T, A, R>;
  /**
   * Attach `{ trace_id, span_id? }` exemplars from `currentTrace()` (read when the call starts).
   * Default: on for histograms created with `enableExemplars: true`, which only they accept.
   */
  exemplars?: boolean;
}

/** An error class, matched with `instanceof`. */
export type ErrorClass = abstract new (...args: never[]) => unknown;

/** Options of `countExceptions`. */
export interface CountExceptionsOptions<T extends string, A extends unknown[] = unknown[]> {
  /**
   * Which errors count: an error class (any class, or a function whose prototype is an Error's;
   * matched with `instanceof`) or a predicate `(error) => boolean`. Default: every error.
   */
  exc?: ErrorClass | ((error: unknown) => boolean);
  /** Labels of the increment: fixed, or computed as `(args, undefined, error)` for counted errors. */
  labels?: LabelValues<T> | LabelsFunction<T, A, undefined>;
}

/** Options of `trackInprogress`. */
export interface TrackInprogressOptions<T extends string, A extends unknown[] = unknown[]> {
  /**
   * Labels of the in-progress series: fixed, or computed once from the arguments when the call
   * starts (the same series is decremented when it ends, so result and error are not passed).
   */
  labels?: LabelValues<T> | ((args: A) => LabelValues<T>);
}

/** How one wrapper instruments a call: `enter` before it, `exit` after it (state from `enter`). */
interface Instrument<S> {
  enter(args: unknown[]): S;
  exit(state: S, args: unknown[], failed: boolean, outcome: unknown): void;
}

/** Labels for a call, or undefined for the unlabelled series. */
type Resolve = (args: unknown[], result: unknown, error: unknown) => object | undefined;

/**
 * Records the time a call takes, in seconds: `observe()` on a Histogram or Summary, `set()` on a
 * Gauge. Calls that throw or reject are timed too.
 *
 * ```ts
 * const load = time(latency, { labels: { source: 'db' } })(async (id: string) => db.get(id));
 * class Repo { @time(latency, { labels: { source: 'db' } }) async get(id: string) { … } }
 * ```
 */
export function time<T extends string, A extends unknown[] = unknown[], R = unknown>(
  metric: Histogram<T> | Summary<T> | Gauge<T>,
  options?: TimeOptions<T, A, R>,
): Wrapper {
  const api = 'time';
  if (!(metric instanceof Histogram || metric instanceof Summary || metric instanceof Gauge)) {
    throw new InvalidMetricError(`${api}: metric must be a Histogram, Summary or Gauge, got ${describe(metric)}`);
  }
  const opts = checkOptions(api, options, ['labels', 'exemplars']);
  const labelsOf = resolver(api, metric, opts.labels, 3);
  optionChecks(api).boolean('exemplars', opts.exemplars, false);
  const exemplars = opts.exemplars as boolean | undefined; // undefined: on when the histogram has them
  const histogram = metric instanceof Histogram ? metric : undefined;
  const summary = metric instanceof Summary ? metric : undefined;
  const gauge = metric instanceof Gauge ? metric : undefined;
  if (exemplars === true && !histogram?.enableExemplars) {
    throw new InvalidMetricError(
      `${api}: exemplars need a Histogram created with enableExemplars: true, got ${describe(metric)}` +
        (histogram ? ' without it' : ''),
    );
  }
  const withExemplars = histogram?.enableExemplars && exemplars !== false;
  const record = (
    labels: object | undefined,
    seconds: number,
    exemplarLabels: Record<string, string> | undefined,
  ): void => {
    if (histogram !== undefined) {
      // The object form whenever exemplars are enabled: a label named `value` would otherwise
      // make the positional form ambiguous.
      if (histogram.enableExemplars)
        histogram.observe({ labels: labels as LabelValues<T>, value: seconds, exemplarLabels });
      else if (labels === undefined) histogram.observe(seconds);
      else histogram.observe(labels as LabelValues<T>, seconds);
    } else if (summary !== undefined) {
      if (labels === undefined) summary.observe(seconds);
      else summary.observe(labels as LabelValues<T>, seconds);
    } else if (gauge !== undefined) {
      if (labels === undefined) gauge.set(seconds);
      else gauge.set(labels as LabelValues<T>, seconds);
    }
  };
  return wrapper<{ start: bigint; exemplar: Record<string, string> | undefined }>(api, {
    enter: () => ({ start: process.hrtime.bigint(), exemplar: withExemplars ? traceExemplarLabels() : undefined }),
    exit: (state, args, failed, outcome) => {
      const seconds = Number(process.hrtime.bigint() - state.start) / 1e9;
      record(failed ? labelsOf(args, undefined, outcome) : labelsOf(args, outcome, undefined), seconds, state.exemplar);
    },
  });
}

/**
 * Counts the errors a call throws (or its promise rejects with) on a Counter, then lets them
 * through unchanged. With `exc`, only matching errors are counted.
 *
 * ```ts
 * const fetchUser = countExceptions(failures, { exc: TimeoutError })(rawFetchUser);
 * ```
 */
export function countExceptions<T extends string, A extends unknown[] = unknown[]>(
  metric: Counter<T>,
  options?: CountExceptionsOptions<T, A>,
): Wrapper {
  const api = 'countExceptions';
  if (!(metric instanceof Counter))
    throw new InvalidMetricError(`${api}: metric must be a Counter, got ${describe(metric)}`);
  const opts = checkOptions(api, options, ['exc', 'labels']);
  const matches = matcher(api, opts.exc);
  const labelsOf = resolver(api, metric, opts.labels, 3);
  return wrapper<undefined>(api, {
    enter: () => undefined,
    exit: (_state, args, failed, error) => {
      if (!failed || !matches(error)) return;
      const labels = labelsOf(args, undefined, error);
      if (labels === undefined) metric.inc();
      else metric.inc(labels as LabelValues<T>);
    },
  });
}

/**
 * Counts calls in progress on a Gauge: `inc()` when a call starts, `dec()` when it returns,
 * throws, or its promise settles.
 *
 * ```ts
 * class Jobs { @trackInprogress(running) async run(job: Job) { … } }
 * ```
 */
export function trackInprogress<T extends string, A extends unknown[] = unknown[]>(
  metric: Gauge<T>,
  options?: TrackInprogressOptions<T, A>,
): Wrapper {
  const api = 'trackInprogress';
  if (!(metric instanceof Gauge))
    throw new InvalidMetricError(`${api}: metric must be a Gauge, got ${describe(metric)}`);
  const opts = checkOptions(api, options, ['labels']);
  const labelsOf = resolver(api, metric, opts.labels, 1);
  return wrapper<object | undefined>(api, {
    // Labels are resolved (and checked, by the inc) before the call: a bad label set throws
    // without running the function, and the exit cannot fail.
    enter: (args) => {
      const labels = labelsOf(args, undefined, undefined);
      if (labels === undefined) metric.inc();
      else metric.inc(labels as LabelValues<T>);
      return labels;
    },
    exit: (labels) => {
      if (labels === undefined) metric.dec();
      else metric.dec(labels as LabelValues<T>);
    },
  });
}

/** Builds the wrapper shared by the three factories. */
function wrapper<S>(api: string, instrument: Instrument<S>): Wrapper {
  const wrap = (fn: unknown, context?: unknown): unknown => {
    checkTarget(api, fn, context);
    const target = fn as (...args: unknown[]) => unknown;
    // A `function`, not an arrow, so the caller's `this` reaches the wrapped function.
    const wrapped = function (this: unknown, ...args: unknown[]): unknown {
      return call(api, instrument, target, this, args);
    };
    Object.defineProperty(wrapped, 'name', { value: target.name, configurable: true });
    Object.defineProperty(wrapped, 'length', { value: target.length, configurable: true });
    return wrapped;
  };
  return wrap as Wrapper;
}

function call<S>(
  api: string,
  instrument: Instrument<S>,
  fn: (...args: unknown[]) => unknown,
  self: unknown,
  args: unknown[],
): unknown {
  const state = instrument.enter(args);
  let result: unknown;
  try {
    result = Reflect.apply(fn, self, args);
  } catch (error) {
    exitFailed(api, instrument, state, args, error);
    throw error;
  }
  if (isThenable(result)) {
    const settled = (value: unknown): unknown => {
      instrument.exit(state, args, false, value);
      return value;
    };
    const rejected = (error: unknown): never => {
      exitFailed(api, instrument, state, args, error);
      throw error;
    };
    // A native promise keeps its class (species); another thenable is adopted once (a lazy
    // thenable, such as a query builder, must not run twice) into a native promise.
    return result instanceof Promise ? result.then(settled, rejected) : Promise.resolve(result).then(settled, rejected);
  }
  // A failure to record after a successful call (a labels function throwing, bad labels) is a bug
  // in the instrumentation and surfaces here, as any bad update does.
  instrument.exit(state, args, false, result);
  return result;
}

/** Records a failed call; the call's own error wins, so a recording failure becomes a warning. */
function exitFailed<S>(api: string, instrument: Instrument<S>, state: S, args: unknown[], error: unknown): void {
  try {
    instrument.exit(state, args, true, error);
  } catch (recordingError) {
    const message =
      recordingError instanceof Error ? `${recordingError.name}: ${recordingError.message}` : show(recordingError);
    process.emitWarning(
      `${api}: could not record a call that threw (${message}); the call's own error is passed on`,
      'PromsdWarning',
    );
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** Checks what the wrapper was called with: a function, and a method decorator context if any. */
function checkTarget(api: string, fn: unknown, context: unknown): void {
  if (typeof context === 'string' || typeof context === 'symbol') {
    throw new InvalidValueError(
      `${api}: legacy decorators (experimentalDecorators) are not supported on ${show(String(context))}; use TypeScript 5 standard decorators`,
    );
  }
  if (isDecoratorContext(context) && context.kind !== 'method') {
    throw new InvalidValueError(
      `${api}: decorates methods only, not the ${context.kind} ${show(String(context.name))}`,
    );
  }
  if (typeof fn !== 'function') throw new InvalidValueError(`${api}: expected a function to wrap, got ${show(fn)}`);
}

function isDecoratorContext(value: unknown): value is DecoratorContext {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { kind?: unknown }).kind === 'string' &&
    'name' in value &&
    typeof (value as { addInitializer?: unknown }).addInitializer === 'function'
  );
}

/** Checks that options is an object with only known keys (a typo must not be ignored). */
function checkOptions(api: string, options: object | undefined, known: readonly string[]): Record<string, unknown> {
  return optionChecks(api).keys(options, known);
}

/**
 * The labels of each call. Fixed labels are checked now against the metric's label names; a
 * metric with label names needs a `labels` option; computed labels are checked by the update.
 */
function resolver(
  api: string,
  metric: { readonly labelNames: readonly string[] },
  labels: unknown,
  arity: number,
): Resolve {
  const what = describe(metric);
  const names = metric.labelNames;
  if (labels === undefined) {
    if (names.length > 0) {
      throw new InvalidLabelsError(
        `${api}: ${what} has label names [${names.join(', ')}]; pass a labels option (fixed, or a function)`,
      );
    }
    return () => undefined;
  }
  if (typeof labels === 'function') {
    const fn = labels as (...args: unknown[]) => unknown;
    const check = (l: unknown): object => {
      if (typeof l !== 'object' || l === null || Array.isArray(l)) {
        throw new InvalidLabelsError(`${api}: the labels function for ${what} must return an object, got ${show(l)}`);
      }
      return l;
    };
    return arity === 1 ? (args) => check(fn(args)) : (args, result, error) => check(fn(args, result, error));
  }
  labelValuesOf(`${api}: ${what}`, names, labels);
  if (names.length === 0) return () => undefined;
  const fixed = Object.freeze({ ...(labels as object) });
  return () => fixed;
}

/** Matcher for `exc`: an error class (instanceof) or a predicate. */
function matcher(api: string, exc: unknown): (error: unknown) => boolean {
  if (exc === undefined) return () => true;
  if (typeof exc !== 'function') {
    const opt: OptionChecks = optionChecks(api);
    opt.fail('exc', exc, 'must be an error class or a predicate (error) => boolean');
  }
  if (isClass(exc)) return (error) => error instanceof exc;
  const predicate = exc as (error: unknown) => unknown;
  return (error) => Boolean(predicate(error));
}

function isClass(fn: { prototype?: unknown }): boolean {
  const proto: unknown = fn.prototype;
  return fn === Error || proto instanceof Error || /^class[\s{]/.test(Function.prototype.toString.call(fn));
}

/** `Histogram "name"` for promsd metrics, the value itself otherwise. */
function describe(value: unknown): string {
  if (value instanceof Metric) return `${value.type[0].toUpperCase()}${value.type.slice(1)} "${value.name}"`;
  if (typeof value === 'object' && value !== null && typeof (value as { name?: unknown }).name === 'string') {
    const ctor = (value as object).constructor?.name ?? 'object';
    return `${ctor} "${(value as { name: string }).name}" (not a promsd metric of the right type)`;
  }
  return show(value);
}
