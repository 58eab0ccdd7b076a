import { InvalidMetricError, InvalidValueError, show } from '../errors';
import { compileUpdate, type LabelValues } from './labels';
import { Metric, type CollectFunction, type MetricConfiguration } from './metric';
import { CHUNK_MASK, CHUNK_SHIFT } from './shard';

/** Counter options (prom-client's `CounterConfiguration`). */
export interface CounterConfiguration<T extends string> extends MetricConfiguration<T> {
  collect?: CollectFunction<Counter<T>>;
}

/** Arguments of `inc()` on a counter with exemplars enabled. */
export interface IncreaseDataWithExemplar<T extends string> {
  value?: number;
  labels?: LabelValues<T>;
  exemplarLabels?: LabelValues<string>;
}

/** A child bound to one label set (`counter.labels(...)`). */
export interface CounterChild {
  /** Adds `value` (default 1). */
  inc(value?: number): void;
}

function badIncrement(what: string, value: unknown): never {
  throw new InvalidValueError(
    `${what}: increment must be a non-negative number, got ${show(value)}${typeof value === 'number' && value < 0 ? ' (counters cannot decrease)' : ''}`,
  );
}

/** A monotonically increasing value. */
export class Counter<T extends string = string> extends Metric<T> {
  readonly type = 'counter' as const;

  constructor(config: CounterConfiguration<T>) {
    if (config?.name === '_total') {
      // OpenMetrics names a counter family without its `_total`: this one would have no name.
      throw new InvalidMetricError(
        'Counter "_total": the name is only the suffix "_total", so its OpenMetrics family name would be empty',
      );
    }
    super('Counter', config, { type: 'counter', reserved: [] });
    if (this.labelNames.length === 0) this.index0 = this.indexOf({});
  }

  /**
   * Adds `value` (default 1) to the series of `labels`. NaN and negative values throw.
   *
   * Only the two hot shapes are handled here, so that this method stays small enough for V8 to
   * inline into its callers beside their other work: `inc()` on the unlabelled series (the cached
   * chunk and offset) and `inc(labels, n)` on an existing series (the compiled walk). Everything
   * else (exemplars, validation errors, series creation) is `#incSlow`.
   */
  inc(labels?: LabelValues<T> | number | IncreaseDataWithExemplar<T>, value?: number): void {
    if (labels === undefined) {
      if (value === undefined) {
        const o = this.o0;
        // `o0` is -1 while there is no unlabelled series.
        if (o >= 0) {
          this.c0[o] += 1;
          return;
        }
      }
    } else if (typeof labels === 'object' && !this.enableExemplars) {
      const v = value === undefined ? 1 : value;
      // One comparison rejects NaN and negatives; the typeof keeps strings out of the f64 slot.
      if (typeof v === 'number' && v >= 0) {
        const i = this.lookup(this.tree, labels);
        if (i !== undefined) {
          const addr = this.addrs[i];
          this.chunks[addr >>> CHUNK_SHIFT][addr & CHUNK_MASK] += v;
          return;
        }
      }
    }
    this.#incSlow(labels, value);
  }

  /** `inc` for every call its fast paths leave: exemplars, checks that throw, new series. */
  #incSlow(labels: LabelValues<T> | number | IncreaseDataWithExemplar<T> | undefined, value: number | undefined): void {
    if (this.enableExemplars && typeof labels === 'object') {
      const { labels: l, value: v = 1, exemplarLabels } = labels as IncreaseDataWithExemplar<T>;
      // Exemplar labels are checked before the update so that a refused call changes nothing.
      const flat = exemplarLabels === undefined ? undefined : this.exemplarLabelsOf(exemplarLabels);
      this.#add(l, v);
      if (flat !== undefined) this.setExemplar(l, 0, flat, v);
      return;
    }
    if (typeof labels === 'object') this.#add(labels, value);
    else this.#add(undefined, labels); // as prom-client: `inc(undefined, 5)` adds 1
  }

  #add(labels: object | undefined, value: unknown): void {
    if (value === undefined) value = 1;
    // One comparison rejects NaN and negatives; the typeof keeps strings out of the f64 slot.
    // Checked before the lookup so that a refused update creates no series.
    else if (typeof value !== 'number' || !(value >= 0)) badIncrement(this.what, value);
    const addr = labels === undefined && this.index0 >= 0 ? this.addrs[this.index0] : this.addrOf(labels);
    this.chunks[addr >>> CHUNK_SHIFT][addr & CHUNK_MASK] += value as number;
  }

  /** A child bound to one label set; its `inc` skips the label lookup. */
  labels(...values: (string | number)[] | [LabelValues<T>]): CounterChild {
    const labels = this.childLabels(values);
    let { addr, generation } = this.resolveChild(labels);
    let chunk = this.chunkOf(addr);
    let off = addr & CHUNK_MASK;
    return {
      inc: (value = 1) => {
        if (typeof value !== 'number' || !(value >= 0)) badIncrement(this.what, value);
        if (generation !== this.currentGeneration()) {
          ({ addr, generation } = this.resolveChild(labels));
          chunk = this.chunkOf(addr);
          off = addr & CHUNK_MASK;
        }
        chunk[off] += value;
      },
    };
  }

  /**
   * Installs this counter's own `inc`, the label walk inline (`compileUpdate`), for the labelled
   * fast path; every other call goes to `Counter.prototype.inc`. prom-client also makes `inc` an
   * own property of each counter (its `incWithoutExemplar`). Left alone: a counter with
   * exemplars (its `inc` takes an options object), a subclass that overrides `inc`, and an
   * `inc` already replaced on the instance (a test's spy), so none of them is silently bypassed.
   */
  protected override compileHotPaths(names: readonly string[]): void {
    if (this.enableExemplars || Object.hasOwn(this, 'inc')) return;
    if ((Object.getPrototypeOf(this) as Counter<T>).inc !== Counter.prototype.inc) return;
    this.inc = compileUpdate(
      'inc',
      names,
      // As in `inc`: one comparison rejects NaN and negatives, the typeof keeps strings out.
      (miss) => `const d = value === undefined ? 1 : value; if (typeof d !== 'number' || !(d >= 0)) ${miss}`,
      `const addr = this.addrs[s]; this.chunks[addr >>> ${CHUNK_SHIFT}][addr & ${CHUNK_MASK}] += d;`,
      Counter.prototype.inc,
      Counter.#slowInc,
    );
  }

  /** The compiled `inc`'s way out: `#incSlow`, which does not walk the tree a second time. */
  static readonly #slowInc = function (this: Counter<string>, labels: never, value: never): void {
    this.#incSlow(labels, value);
  };

  protected override afterReset(): void {
    if (this.labelNames.length === 0) this.index0 = this.indexOf({});
  }
}

// prom-client's namespaced types (type-only: nothing is emitted).
export declare namespace Counter {
  /** A child bound to one label set. */
  type Internal = CounterChild;
}
