import { AsyncLocalStorage } from 'node:async_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { context, ROOT_CONTEXT, trace, type Context, type ContextManager } from '@opentelemetry/api';
import { afterAll, describe, expect, it, vi } from 'vitest';
import {
  Counter,
  Gauge,
  Histogram,
  InvalidLabelsError,
  InvalidMetricError,
  InvalidOptionsError,
  InvalidValueError,
  OPENMETRICS_CONTENT_TYPE,
  Registry,
  Summary,
  countExceptions,
  currentTrace,
  currentTraceId,
  runWithTrace,
  time,
  trackInprogress,
} from '../index';

// time / countExceptions / trackInprogress (prometheus_async's aio decorators), checked through
// the exposition each metric produces. Every test uses its own registry.

/** The value of the sample line `series <value>` (exemplar, if any, ignored); throws if absent. */
async function sample(reg: Registry, series: string): Promise<number> {
  const line = (await reg.metrics()).split('\n').find((l) => l.startsWith(`${series} `));
  if (line === undefined) throw new Error(`no sample ${series} in:\n${await reg.metrics()}`);
  return Number(line.slice(series.length + 1).split(' ')[0]);
}

/** The sample line starting with `series `. */
async function lineOf(reg: Registry, series: string): Promise<string | undefined> {
  return (await reg.metrics()).split('\n').find((l) => l.startsWith(`${series} `));
}

function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

function histogram(
  reg: Registry,
  labelNames: string[] = [],
  enableExemplars = false,
  buckets = [0.01, 10],
): Histogram<string> {
  return new Histogram({ name: 'work_seconds', help: 'Work.', buckets, labelNames, enableExemplars, registers: [reg] });
}

describe('time', () => {
  it('observes the duration of a sync call and passes this, arguments and the return value through', async () => {
    const reg = new Registry();
    const h = histogram(reg);
    const result = { answer: 42 };
    const self = { tag: 'self' };
    const seen: unknown[] = [];
    const timed = time(h)(function (this: unknown, a: number, b: string) {
      seen.push(this, a, b);
      busyWait(20);
      return result;
    });
    expect(timed.call(self, 1, 'two')).toBe(result);
    expect(seen).toEqual([self, 1, 'two']);
    expect(seen[0]).toBe(self);
    expect(await sample(reg, 'work_seconds_bucket{le="0.01"}')).toBe(0);
    expect(await sample(reg, 'work_seconds_bucket{le="10"}')).toBe(1);
    expect(await sample(reg, 'work_seconds_count')).toBe(1);
    const sum = await sample(reg, 'work_seconds_sum');
    expect(sum).toBeGreaterThanOrEqual(0.02);
    expect(sum).toBeLessThan(10);
  });

  it('observes an async call when its promise fulfils, and resolves to the same value', async () => {
    const reg = new Registry();
    const h = histogram(reg);
    const result = ['value'];
    const timed = time(h)(async (ms: number) => {
      await sleep(ms);
      return result;
    });
    const pending = timed(30);
    expect(pending).toBeInstanceOf(Promise);
    expect(await sample(reg, 'work_seconds_count')).toBe(0);
    expect(await pending).toBe(result);
    expect(await sample(reg, 'work_seconds_count')).toBe(1);
    expect(await sample(reg, 'work_seconds_sum')).toBeGreaterThanOrEqual(0.025);
    expect(await sample(reg, 'work_seconds_bucket{le="0.01"}')).toBe(0);
  });

  it('observes a call that throws and rethrows the same error', async () => {
    const reg = new Registry();
    const h = histogram(reg);
    const error = new Error('boom');
    const timed = time(h)(() => {
      throw error;
    });
    let caught: unknown;
    try {
      timed();
    } catch (e) {
      caught = e;
    }
    expect(caught).toBe(error);
    expect(await sample(reg, 'work_seconds_count')).toBe(1);
  });

  it('observes a call whose promise rejects and rejects with the same reason', async () => {
    const reg = new Registry();
    const h = histogram(reg);
    const error = new TypeError('nope');
    const timed = time(h)(async () => {
      await sleep(5);
      throw error;
    });
    await expect(timed()).rejects.toBe(error);
    expect(await sample(reg, 'work_seconds_count')).toBe(1);
  });

  it('adopts a non-native thenable once and returns a promise of its value', async () => {
    const reg = new Registry();
    const h = histogram(reg);
    let runs = 0;
    const lazy = {
      then(resolve: (v: string) => void) {
        runs++;
        resolve('lazy');
      },
    };
    const out = time(h)(() => lazy)();
    expect(await out).toBe('lazy');
    expect(runs).toBe(1);
    expect(await sample(reg, 'work_seconds_count')).toBe(1);
  });

  it('observes into a Summary and sets a Gauge', async () => {
    const reg = new Registry();
    const s = new Summary({ name: 'job_seconds', help: 'Jobs.', percentiles: [0.5], registers: [reg] });
    const g = new Gauge({ name: 'last_job_seconds', help: 'Last job.', registers: [reg] });
    time(s)(() => busyWait(5))();
    time(s)(() => busyWait(5))();
    time(g)(() => busyWait(15))();
    expect(await sample(reg, 'job_seconds_count')).toBe(2);
    expect(await sample(reg, 'job_seconds_sum')).toBeGreaterThanOrEqual(0.01);
    const last = await sample(reg, 'last_job_seconds');
    expect(last).toBeGreaterThanOrEqual(0.015);
    expect(last).toBeLessThan(10);
  });

  it('uses fixed labels', async () => {
    const reg = new Registry();
    const h = histogram(reg, ['route']);
    const timed = time(h, { labels: { route: '/x' } })(() => 'ok');
    timed();
    timed();
    expect(await sample(reg, 'work_seconds_count{route="/x"}')).toBe(2);
  });

  it('computes labels after the call: (args, result, undefined) on success, (args, undefined, error) on failure', async () => {
    const reg = new Registry();
    const h = histogram(reg, ['kind', 'outcome']);
    const calls: unknown[][] = [];
    const error = new RangeError('bad');
    const timed = time(h, {
      labels: (args: unknown[], result: unknown, err: unknown) => {
        calls.push([args, result, err]);
        return { kind: String(args[0]), outcome: err === undefined ? String(result) : 'error' };
      },
    })(async (_kind: string, fail: boolean) => {
      if (fail) throw error;
      return 'done';
    });
    await timed('a', false);
    await expect(timed('b', true)).rejects.toBe(error);
    expect(calls).toEqual([
      [['a', false], 'done', undefined],
      [['b', true], undefined, error],
    ]);
    expect(await sample(reg, 'work_seconds_count{kind="a",outcome="done"}')).toBe(1);
    expect(await sample(reg, 'work_seconds_count{kind="b",outcome="error"}')).toBe(1);
  });

  it('keeps the wrapped function name and length', () => {
    const reg = new Registry();
    const timed = time(histogram(reg))(function loadUser(_id: string, _opts: object) {});
    expect(timed.name).toBe('loadUser');
    expect(timed.length).toBe(2);
  });

  it('refuses bad arguments when wrapping, not when called', () => {
    const reg = new Registry();
    const counter = new Counter({ name: 'c_total', help: 'C.', registers: [reg] });
    const labelled = histogram(reg, ['route']);
    expect(() => time(counter as never)).toThrow(InvalidMetricError);
    expect(() => time(counter as never)).toThrow(
      'time: metric must be a Histogram, Summary or Gauge, got Counter "c_total"',
    );
    expect(() => time({} as never)).toThrow(InvalidMetricError);
    expect(() => time(labelled)).toThrow(InvalidLabelsError);
    expect(() => time(labelled)).toThrow(
      'time: Histogram "work_seconds" has label names [route]; pass a labels option',
    );
    expect(() => time(labelled, { labels: { path: '/x' } as never })).toThrow('label "path" is not one of [route]');
    expect(() => time(labelled, { labels: { route: undefined } })).toThrow(InvalidLabelsError);
    expect(() => time(labelled, { label: {} } as never)).toThrow(
      'time: unknown option "label" (known: labels, exemplars)',
    );
    expect(() => time(labelled, { labels: { route: '/' }, exemplars: true })).toThrow(
      'time: exemplars need a Histogram created with enableExemplars: true, got Histogram "work_seconds" without it',
    );
    expect(() => time(labelled, { labels: { route: '/' } })(42 as never)).toThrow(InvalidValueError);
    expect(() => time(labelled, { labels: { route: '/' } })(42 as never)).toThrow(
      'time: expected a function to wrap, got 42',
    );
  });

  it('lets an error from a labels function surface after a successful call', () => {
    const reg = new Registry();
    const h = histogram(reg, ['route']);
    const timed = time(h, { labels: () => 'not an object' as never })(() => 1);
    expect(() => timed()).toThrow(
      'time: the labels function for Histogram "work_seconds" must return an object, got "not an object"',
    );
  });

  it('passes the call error on, and warns, when recording a failed call fails', async () => {
    const reg = new Registry();
    const h = histogram(reg, ['route']);
    const error = new Error('original');
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    try {
      const timed = time(h, { labels: () => ({ nope: 'x' }) as never })(() => {
        throw error;
      });
      expect(() => timed()).toThrow(error);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0][0])).toContain('time: could not record a call that threw (InvalidLabelsError:');
      expect(warn.mock.calls[0][1]).toBe('PromsdWarning');
    } finally {
      warn.mockRestore();
    }
  });
});

describe('countExceptions', () => {
  it('counts throws and rejections, not successes, and passes the errors through', async () => {
    const reg = new Registry();
    const failures = new Counter({ name: 'failures_total', help: 'Failures.', registers: [reg] });
    const error = new Error('x');
    const sync = countExceptions(failures)((fail: boolean) => {
      if (fail) throw error;
      return 'ok';
    });
    const async = countExceptions(failures)(async (fail: boolean) => {
      if (fail) throw error;
      return 'ok';
    });
    expect(sync(false)).toBe('ok');
    expect(() => sync(true)).toThrow(error);
    expect(await async(false)).toBe('ok');
    await expect(async(true)).rejects.toBe(error);
    expect(await sample(reg, 'failures_total')).toBe(2);
  });

  it('counts non-Error throws by default', async () => {
    const reg = new Registry();
    const failures = new Counter({ name: 'failures_total', help: 'Failures.', registers: [reg] });
    const f = countExceptions(failures)(() => {
      throw 'a string';
    });
    expect(() => f()).toThrow('a string');
    expect(await sample(reg, 'failures_total')).toBe(1);
  });

  it('with an error class counts only instances of it (and its subclasses)', async () => {
    const reg = new Registry();
    class TimeoutError extends Error {}
    class SlowTimeout extends TimeoutError {}
    const timeouts = new Counter({ name: 'timeouts_total', help: 'Timeouts.', registers: [reg] });
    const f = countExceptions(timeouts, { exc: TimeoutError })(async (e: unknown) => {
      throw e;
    });
    await expect(f(new TimeoutError())).rejects.toBeInstanceOf(TimeoutError);
    await expect(f(new SlowTimeout())).rejects.toBeInstanceOf(SlowTimeout);
    await expect(f(new Error('other'))).rejects.toThrow('other');
    await expect(f(new TypeError('other'))).rejects.toThrow('other');
    expect(await sample(reg, 'timeouts_total')).toBe(2);
  });

  it('with a predicate counts only the errors it accepts', async () => {
    const reg = new Registry();
    const failures = new Counter({ name: 'failures_total', help: 'Failures.', registers: [reg] });
    const seen: unknown[] = [];
    const isServerError = (e: unknown): boolean => {
      seen.push(e);
      return (e as { status?: number }).status === 503;
    };
    const f = countExceptions(failures, { exc: isServerError })((status: number) => {
      throw Object.assign(new Error(`status ${status}`), { status });
    });
    for (const status of [503, 404, 503, 500]) expect(() => f(status)).toThrow(`status ${status}`);
    expect(seen).toHaveLength(4);
    expect(await sample(reg, 'failures_total')).toBe(2);
  });

  it('labels counted errors, fixed or computed from (args, undefined, error)', async () => {
    const reg = new Registry();
    const failures = new Counter({
      name: 'failures_total',
      help: 'Failures.',
      labelNames: ['op', 'code'],
      registers: [reg],
    });
    const fixed = countExceptions(failures, { labels: { op: 'read', code: 'any' } })(() => {
      throw new Error('r');
    });
    const computed = countExceptions(failures, {
      labels: (args: unknown[], result: undefined, error: unknown) => {
        expect(result).toBeUndefined();
        return { op: String(args[0]), code: (error as { code: string }).code };
      },
    })((op: string) => {
      throw Object.assign(new Error(op), { code: 'EPIPE' });
    });
    expect(() => fixed()).toThrow('r');
    expect(() => computed('write')).toThrow('write');
    expect(() => computed('write')).toThrow('write');
    expect(await sample(reg, 'failures_total{op="read",code="any"}')).toBe(1);
    expect(await sample(reg, 'failures_total{op="write",code="EPIPE"}')).toBe(2);
  });

  it('refuses bad arguments when wrapping', () => {
    const reg = new Registry();
    const g = new Gauge({ name: 'g', help: 'G.', registers: [reg] });
    const c = new Counter({ name: 'c_total', help: 'C.', registers: [reg] });
    expect(() => countExceptions(g as never)).toThrow('countExceptions: metric must be a Counter, got Gauge "g"');
    expect(() => countExceptions(c, { exc: 'Error' as never })).toThrow(InvalidOptionsError);
    expect(() => countExceptions(c, { exc: 'Error' as never })).toThrow(
      'countExceptions: exc must be an error class or a predicate (error) => boolean, got "Error"',
    );
    expect(() => countExceptions(c, { labels: { op: 'x' } as never })).toThrow(InvalidLabelsError);
  });
});

describe('trackInprogress', () => {
  it('increments before a sync call and decrements after it, also when it throws', async () => {
    // A gauge cannot be read synchronously (get() and metrics() are async), so the order of the
    // updates around the call is what is checked here; the async test below reads the value.
    const reg = new Registry();
    const running = new Gauge({ name: 'running', help: 'Running.', registers: [reg] });
    const order: string[] = [];
    const inc = vi.spyOn(running, 'inc').mockImplementation(function (this: Gauge, ...args) {
      order.push('inc');
      return Gauge.prototype.inc.apply(this, args as never);
    });
    const dec = vi.spyOn(running, 'dec').mockImplementation(function (this: Gauge, ...args) {
      order.push('dec');
      return Gauge.prototype.dec.apply(this, args as never);
    });
    const ok = trackInprogress(running)(() => order.push('call'));
    const fails = trackInprogress(running)(() => {
      order.push('call');
      throw new Error('x');
    });
    ok();
    expect(() => fails()).toThrow('x');
    expect(order).toEqual(['inc', 'call', 'dec', 'inc', 'call', 'dec']);
    expect(await sample(reg, 'running')).toBe(0);
    inc.mockRestore();
    dec.mockRestore();
  });

  it('counts concurrent async calls until their promises settle, fulfilled or rejected', async () => {
    const reg = new Registry();
    const running = new Gauge({ name: 'running', help: 'Running.', registers: [reg] });
    const releases: Array<(ok: boolean) => void> = [];
    const f = trackInprogress(running)(
      () =>
        new Promise<string>((resolve, reject) => {
          releases.push((ok) => (ok ? resolve('ok') : reject(new Error('no'))));
        }),
    );
    const a = f();
    const b = f();
    expect(await sample(reg, 'running')).toBe(2);
    releases[0](true);
    expect(await a).toBe('ok');
    expect(await sample(reg, 'running')).toBe(1);
    releases[1](false);
    await expect(b).rejects.toThrow('no');
    expect(await sample(reg, 'running')).toBe(0);
  });

  it('uses labels computed from the arguments for both the inc and the dec', async () => {
    const reg = new Registry();
    const running = new Gauge({ name: 'running', help: 'Running.', labelNames: ['queue'], registers: [reg] });
    let release!: () => void;
    const f = trackInprogress(running, { labels: (args: unknown[]) => ({ queue: String(args[0]) }) })(
      (_queue: string) => new Promise<void>((resolve) => (release = resolve)),
    );
    const p = f('mail');
    expect(await sample(reg, 'running{queue="mail"}')).toBe(1);
    release();
    await p;
    expect(await sample(reg, 'running{queue="mail"}')).toBe(0);
  });

  it('does not run the function when its labels are invalid', () => {
    const reg = new Registry();
    const running = new Gauge({ name: 'running', help: 'Running.', labelNames: ['queue'], registers: [reg] });
    const fn = vi.fn();
    const f = trackInprogress(running, { labels: () => ({ other: 'x' }) as never })(fn);
    expect(() => f()).toThrow(InvalidLabelsError);
    expect(fn).not.toHaveBeenCalled();
  });

  it('refuses a metric that is not a Gauge', () => {
    const reg = new Registry();
    expect(() => trackInprogress(histogram(reg) as never)).toThrow(
      'trackInprogress: metric must be a Gauge, got Histogram "work_seconds"',
    );
  });
});

describe('as TypeScript standard method decorators', () => {
  it('time, countExceptions and trackInprogress decorate methods, keeping this', async () => {
    const reg = new Registry();
    const h = histogram(reg, ['method']);
    const failures = new Counter({ name: 'failures_total', help: 'Failures.', registers: [reg] });
    const running = new Gauge({ name: 'running', help: 'Running.', registers: [reg] });

    class Repo {
      constructor(readonly prefix: string) {}

      @time(h, { labels: { method: 'get' } })
      @countExceptions(failures)
      @trackInprogress(running)
      async get(id: string): Promise<string> {
        await sleep(1);
        if (id === 'bad') throw new Error(`${this.prefix}:bad`);
        return `${this.prefix}:${id}`;
      }

      @time(h, { labels: { method: 'sync' } })
      sync(): this {
        return this;
      }

      @time(h, { labels: { method: 'static' } })
      static create(prefix: string): Repo {
        return new Repo(prefix);
      }
    }

    const repo = Repo.create('r');
    expect(await repo.get('1')).toBe('r:1');
    await expect(repo.get('bad')).rejects.toThrow('r:bad');
    expect(repo.sync()).toBe(repo);
    expect(await sample(reg, 'work_seconds_count{method="get"}')).toBe(2);
    expect(await sample(reg, 'work_seconds_count{method="sync"}')).toBe(1);
    expect(await sample(reg, 'work_seconds_count{method="static"}')).toBe(1);
    expect(await sample(reg, 'failures_total')).toBe(1);
    expect(await sample(reg, 'running')).toBe(0);
  });

  it('refuses to decorate anything but a method, and legacy decorators', () => {
    const reg = new Registry();
    const wrap = time(histogram(reg));
    const getterContext = { kind: 'getter', name: 'x', static: false, private: false, addInitializer() {}, access: {} };
    expect(() => wrap(() => 1, getterContext as never)).toThrow('time: decorates methods only, not the getter "x"');
    expect(() => (wrap as unknown as (...a: unknown[]) => unknown)({}, 'method', { value: () => 1 })).toThrow(
      'time: legacy decorators (experimentalDecorators) are not supported on "method"',
    );
  });
});

describe('exemplars from the trace context', () => {
  function tracedHistogram() {
    const reg = new Registry(OPENMETRICS_CONTENT_TYPE);
    // One wide bucket: where an observation lands must not depend on the machine's load.
    return { reg, h: histogram(reg, [], true, [60]) };
  }

  it('time attaches trace_id (and span_id) of runWithTrace to the bucket it observed into', async () => {
    const { reg, h } = tracedHistogram();
    const timed = time(h)(async () => sleep(1));
    await runWithTrace({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331' }, () => timed());
    const bucket = await lineOf(reg, 'work_seconds_bucket{le="60"}');
    expect(bucket).toMatch(
      /^work_seconds_bucket\{le="60"\} 1 # \{trace_id="0af7651916cd43dd8448eb211c80319c",span_id="b7ad6b7169203331"\} 0\.\d+(e-\d+)? \d+\.\d{3}$/,
    );
  });

  it('observes without an exemplar outside a trace, and when exemplars: false', async () => {
    const { reg, h } = tracedHistogram();
    time(h)(() => 1)();
    runWithTrace({ traceId: 'abc' }, () => time(h, { exemplars: false })(() => 1)());
    expect(await lineOf(reg, 'work_seconds_bucket{le="60"}')).toBe('work_seconds_bucket{le="60"} 2');
  });

  it('exemplars appear only in OpenMetrics output', async () => {
    const { reg, h } = tracedHistogram();
    runWithTrace({ traceId: 'abc' }, () => time(h)(() => 1)());
    expect(await lineOf(reg, 'work_seconds_bucket{le="60"}')).toMatch(/ # \{trace_id="abc"\} /);
    const text = await reg.metrics({ contentType: 'text/plain; version=0.0.4; charset=utf-8' });
    expect(text).not.toContain('trace_id');
  });

  it('runWithTrace scopes the trace id to the callback and what it starts; it refuses bad ids', async () => {
    expect(currentTraceId()).toBeUndefined();
    const inner = await runWithTrace({ traceId: 'outer' }, async () => {
      await sleep(1);
      const nested = runWithTrace({ traceId: 'inner', spanId: 's1' }, () => currentTrace());
      return [currentTraceId(), nested];
    });
    expect(inner).toEqual(['outer', { traceId: 'inner', spanId: 's1' }]);
    expect(currentTraceId()).toBeUndefined();
    expect(() => runWithTrace({ traceId: '' }, () => 1)).toThrow(
      'runWithTrace: traceId must be a string of 1 to 64 characters, got ""',
    );
    expect(() => runWithTrace({ traceId: 'a', spanId: 'x'.repeat(33) }, () => 1)).toThrow(InvalidValueError);
  });

  describe('with @opentelemetry/api', () => {
    // The API package alone has no context manager; this one is the usual AsyncLocalStorage one.
    class AlsContextManager implements ContextManager {
      readonly #als = new AsyncLocalStorage<Context>();
      active(): Context {
        return this.#als.getStore() ?? ROOT_CONTEXT;
      }
      with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
        ctx: Context,
        fn: F,
        thisArg?: ThisParameterType<F>,
        ...args: A
      ) {
        return this.#als.run(ctx, () => fn.apply(thisArg, args));
      }
      bind<T>(_ctx: Context, target: T): T {
        return target;
      }
      enable(): this {
        return this;
      }
      disable(): this {
        this.#als.disable();
        return this;
      }
    }
    const manager = new AlsContextManager();
    context.setGlobalContextManager(manager);
    afterAll(() => context.disable());

    it('time takes trace_id and span_id from the active span when no runWithTrace is active', async () => {
      const { reg, h } = tracedHistogram();
      const span = trace.wrapSpanContext({
        traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
        spanId: '00f067aa0ba902b7',
        traceFlags: 1,
      });
      const timed = time(h)(async () => sleep(1));
      await context.with(trace.setSpan(context.active(), span), () => timed());
      expect(await lineOf(reg, 'work_seconds_bucket{le="60"}')).toMatch(
        / # \{trace_id="4bf92f3577b34da6a3ce929d0e0e4736",span_id="00f067aa0ba902b7"\} /,
      );
      expect(context.with(trace.setSpan(context.active(), span), () => currentTraceId())).toBe(
        '4bf92f3577b34da6a3ce929d0e0e4736',
      );
    });

    it('runWithTrace wins over the active span; an invalid (all-zero) span gives no trace', () => {
      const span = trace.wrapSpanContext({
        traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
        spanId: '00f067aa0ba902b7',
        traceFlags: 1,
      });
      const own = context.with(trace.setSpan(context.active(), span), () =>
        runWithTrace({ traceId: 'mine' }, () => currentTraceId()),
      );
      expect(own).toBe('mine');
      const invalid = trace.wrapSpanContext({ traceId: '0'.repeat(32), spanId: '0'.repeat(16), traceFlags: 0 });
      expect(context.with(trace.setSpan(context.active(), invalid), () => currentTrace())).toBeUndefined();
    });
  });
});
