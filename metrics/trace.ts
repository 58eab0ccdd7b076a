// The trace context that exemplars read: promsd's own AsyncLocalStorage first, then the active
// OpenTelemetry span when `@opentelemetry/api` happens to be installed (it is not a dependency:
// it is loaded lazily, once, by a guarded require).
import { AsyncLocalStorage } from 'node:async_hooks';
import { InvalidValueError, show } from '../errors';

/** A trace (and optionally span) id that exemplars recorded inside it will carry. */
export interface TraceContext {
  /** Trace id, e.g. W3C's 32 hex digits; 1 to 64 characters. */
  traceId: string;
  /** Span id, e.g. W3C's 16 hex digits; 1 to 32 characters. */
  spanId?: string;
}

// Length caps keep `{trace_id="…",span_id="…"}` within OpenMetrics' 128-character exemplar limit.
const MAX_TRACE_ID = 64;
const MAX_SPAN_ID = 32;
const ALL_ZERO = /^0+$/;

const storage = new AsyncLocalStorage<TraceContext>();

function checkId(what: string, id: unknown, max: number): string {
  if (typeof id !== 'string' || id.length === 0 || id.length > max) {
    throw new InvalidValueError(`runWithTrace: ${what} must be a string of 1 to ${max} characters, got ${show(id)}`);
  }
  return id;
}

/**
 * Runs `fn` with `context` as the current trace: `currentTraceId()` returns its `traceId` in `fn`
 * and in everything `fn` starts asynchronously (promises, timers, callbacks). Returns what `fn`
 * returns. Contexts nest; the innermost wins.
 *
 * ```ts
 * app.use(async (c, next) => runWithTrace({ traceId: c.req.header('x-trace-id') ?? randomTraceId() }, next));
 * ```
 */
export function runWithTrace<R>(context: TraceContext, fn: () => R): R {
  if (typeof context !== 'object' || context === null) {
    throw new InvalidValueError(`runWithTrace: context must be an object { traceId, spanId? }, got ${show(context)}`);
  }
  if (typeof fn !== 'function') throw new InvalidValueError(`runWithTrace: fn must be a function, got ${show(fn)}`);
  const traceId = checkId('traceId', context.traceId, MAX_TRACE_ID);
  const spanId = context.spanId === undefined ? undefined : checkId('spanId', context.spanId, MAX_SPAN_ID);
  // A frozen copy: later changes to the caller's object cannot alter exemplars already scheduled.
  return storage.run(Object.freeze(spanId === undefined ? { traceId } : { traceId, spanId }), fn);
}

/** The subset of `@opentelemetry/api` used here. */
interface OtelApi {
  trace: { getActiveSpan(): { spanContext(): { traceId: string; spanId: string } } | undefined };
}

let otel: OtelApi | null | undefined;

function loadOtel(): OtelApi | null {
  if (otel === undefined) {
    try {
      // A plain require so a missing package costs one failed lookup, once, and no import error.
      const api = require('@opentelemetry/api') as Partial<OtelApi>;
      otel = typeof api?.trace?.getActiveSpan === 'function' ? (api as OtelApi) : null;
    } catch {
      otel = null;
    }
  }
  return otel;
}

/**
 * The current trace: the innermost `runWithTrace` context, else the active OpenTelemetry span's
 * ids when `@opentelemetry/api` is installed and a span is active and valid, else undefined.
 */
export function currentTrace(): TraceContext | undefined {
  const own = storage.getStore();
  if (own !== undefined) return own;
  const api = loadOtel();
  if (api === null) return undefined;
  const sc = api.trace.getActiveSpan()?.spanContext();
  // OpenTelemetry's "no span" is a span whose ids are all zeros.
  if (sc === undefined || typeof sc.traceId !== 'string' || sc.traceId === '' || ALL_ZERO.test(sc.traceId))
    return undefined;
  if (sc.traceId.length > MAX_TRACE_ID) return undefined;
  const spanOk =
    typeof sc.spanId === 'string' && sc.spanId !== '' && sc.spanId.length <= MAX_SPAN_ID && !ALL_ZERO.test(sc.spanId);
  return spanOk ? { traceId: sc.traceId, spanId: sc.spanId } : { traceId: sc.traceId };
}

/** The current trace id (see `currentTrace`), or undefined outside any trace. */
export function currentTraceId(): string | undefined {
  return currentTrace()?.traceId;
}

/**
 * @internal Exemplar labels for the current trace, `{ trace_id, span_id? }`, or undefined when no
 * trace is active.
 */
export function traceExemplarLabels(): Record<string, string> | undefined {
  const t = currentTrace();
  if (t === undefined) return undefined;
  return t.spanId === undefined ? { trace_id: t.traceId } : { trace_id: t.traceId, span_id: t.spanId };
}
