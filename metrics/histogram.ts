import { InvalidMetricError, InvalidValueError, show } from '../errors';
import { compileUpdate, type LabelValues } from './labels';
import { Metric, type CollectFunction, type MetricConfiguration } from './metric';
import { NH_ARG, NativeBuckets, nativeSettingsOf, type NativeHistogramConfiguration } from './native-histogram';
import { CHUNK_MASK, CHUNK_SHIFT } from './shard';

/** prom-client's default buckets. */
export const DEFAULT_BUCKETS: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);

/** Histogram options (prom-client's `HistogramConfiguration`). */
export interface HistogramConfiguration<T extends string> extends MetricConfiguration<T>, NativeHistogramConfiguration {
  /**
   * Upper bounds, strictly increasing; `+Inf` is implicit. `[]`: native buckets only (see
   * native-histogram.ts; classic buckets given beside native options are kept for text scrapers).
   */
  buckets?: readonly number[];
  collect?: CollectFunction<Histogram<T>>;
}

/** Arguments of `observe()` on a histogram with exemplars enabled. */
export interface ObserveDataWithExemplar<T extends string> {
  value: number;
  labels?: LabelValues<T>;
  exemplarLabels?: LabelValues<string>;
}

/** A child bound to one label set. */
export interface HistogramChild {
  observe(value: number): void;
  startTimer(): () => number;
  zero(): void;
}

/** Validates buckets; a trailing `+Inf` is accepted and dropped (it is always implicit). */
export function checkBuckets(what: string, buckets: unknown): number[] {
  if (!Array.isArray(buckets) || buckets.length === 0) {
    throw new InvalidMetricError(`${what}: buckets must be a non-empty array of numbers, got ${show(buckets)}`);
  }
  const out = buckets[buckets.length - 1] === Infinity ? buckets.slice(0, -1) : [...buckets];
  out.forEach((b, i) => {
    if (typeof b !== 'number' || !Number.isFinite(b)) {
      throw new InvalidMetricError(`${what}: bucket ${show(b)} at index ${i} is not a finite number`);
    }
    if (i > 0 && !(b > out[i - 1])) {
      throw new InvalidMetricError(
        `${what}: buckets must be strictly increasing, but ${out[i - 1]} is followed by ${b}`,
      );
    }
  });
  if (out.length === 0) throw new InvalidMetricError(`${what}: buckets must contain at least one finite upper bound`);
  return out;
}

function badObservation(what: string, value: unknown, lowest?: number): never {
  if (typeof value === 'number' && value < 0) {
    throw new InvalidValueError(
      `${what}: observed value ${show(value)} is negative, but the lowest bucket bound is ${lowest}: ` +
        'without a negative bound the sum must never decrease (OpenMetrics); add a negative bucket bound to observe negative values',
    );
  }
  throw new InvalidValueError(`${what}: observed value must be a number (not NaN), got ${show(value)}`);
}

/** Observations counted in buckets, with their sum and count. */
export class Histogram<T extends string = string> extends Metric<T> {
  readonly type = 'histogram' as const;
  /** Upper bounds (without +Inf). */
  readonly upperBounds: readonly number[];
  readonly #bounds: Float64Array;
  /**
   * Smallest value `observe` accepts: 0, unless a bucket bound is negative. OpenMetrics treats
   * the sum as a counter, so negative values need a negative bound, and then the OpenMetrics
   * exposition omits `_sum` and `_count` as the spec requires. `!(v >= min)` also rejects NaN.
   */
  readonly #min: number;
  /** Native buckets, when configured. */
  readonly #native: NativeBuckets | undefined;

  constructor(config: HistogramConfiguration<T>) {
    const what = `Histogram "${String(config?.name)}"`;
    const native = typeof config === 'object' && config !== null ? nativeSettingsOf(what, config) : undefined;
    const nativeOnly = native !== undefined && Array.isArray(config.buckets) && config.buckets.length === 0;
    const buckets = nativeOnly ? [] : checkBuckets(what, config?.buckets ?? DEFAULT_BUCKETS);
    super('Histogram', config, { type: 'histogram', reserved: ['le'], buckets, native });
    this.upperBounds = Object.freeze(buckets);
    this.#bounds = Float64Array.from(buckets);
    // Native-only histograms hold negative values in their native buckets (their OpenMetrics text
    // then omits _sum and _count, as with a negative bound).
    this.#min = buckets[0] < 0 || nativeOnly ? -Infinity : 0;
    this.#native = native === undefined ? undefined : new NativeBuckets(native, this.shard, () => this.familyId);
    if (this.labelNames.length === 0) this.index0 = this.indexOf({});
  }

  protected override initSeries(index: number): void {
    // Called from the base constructor too (before #native is set), when the series has no pages yet.
    this.#native?.init(index);
  }

  protected override dropSeries(index: number): void {
    this.#native?.drop(index);
  }

  /** Counts a checked value in the classic and native buckets of series `index`. */
  #recordNative(index: number, value: number): number {
    const addr = this.addrs[index];
    const i = this.#record(addr, value);
    NH_ARG[0] = value;
    (this.#native as NativeBuckets).observe(
      index,
      this.chunks[addr >>> CHUNK_SHIFT],
      addr & CHUNK_MASK,
      this.#bounds.length,
      i,
    );
    return i;
  }

  /** Records `value` in the series of `labels`. */
  observe(labels: LabelValues<T> | number | ObserveDataWithExemplar<T>, value?: number): void {
    const c = this.c0;
    // observe(v) on the unlabelled series: the cached chunk and offset, one bucket scan, then
    // the native buckets when there are (`#recordNative`'s work, without the calls between).
    if (typeof labels === 'number' && c.length > 0 && labels >= this.#min) {
      const b = this.#bounds;
      const n = b.length;
      let i = 0;
      while (i < n && labels > b[i]) i++;
      const o = this.o0;
      c[o + i] += 1;
      c[o + n + 1] += labels;
      const nb = this.#native;
      if (nb !== undefined) {
        NH_ARG[0] = labels;
        nb.observe(this.index0, c, o, n, i);
      }
      return;
    }
    this.#observeSlow(labels, value);
  }

  /**
   * `observe` for every call its fast path leaves (labels, exemplars, native buckets, refused
   * values): kept out of `observe` so that the fast path stays small enough for V8 to inline
   * into callers that do more (a timer's two clock reads).
   */
  #observeSlow(labels: LabelValues<T> | number | ObserveDataWithExemplar<T>, value: number | undefined): void {
    if (this.enableExemplars && typeof labels === 'object' && 'value' in labels) {
      const { labels: l, value: v, exemplarLabels } = labels as ObserveDataWithExemplar<T>;
      // Exemplar labels are checked before the update so that a refused call changes nothing.
      const flat = exemplarLabels === undefined ? undefined : this.exemplarLabelsOf(exemplarLabels);
      const bucket = this.#observe(l, v);
      if (flat !== undefined) this.setExemplar(l, bucket, flat, v);
      return;
    }
    if (typeof labels === 'object') this.#observe(labels, value);
    else this.#observe(undefined, labels);
  }

  #observe(labels: object | undefined, value: unknown): number {
    // Checked before the lookup so that a refused update creates no series.
    if (typeof value !== 'number' || !(value >= this.#min)) badObservation(this.what, value, this.#bounds[0]);
    if (this.#native !== undefined) {
      return this.#recordNative(
        labels === undefined && this.index0 >= 0 ? this.index0 : this.seriesIndex(labels),
        value,
      );
    }
    return this.#record(
      labels === undefined && this.index0 >= 0 ? this.addrs[this.index0] : this.addrOf(labels),
      value,
    );
  }

  /** Counts a checked value in the series at `addr`; returns its bucket. */
  #record(addr: number, value: number): number {
    const b = this.#bounds;
    const n = b.length;
    // Linear scan: for the usual ≤ 20 buckets it beats a binary search (branch-predictable).
    let i = 0;
    while (i < n && value > b[i]) i++;
    const c = this.chunks[addr >>> CHUNK_SHIFT];
    const o = addr & CHUNK_MASK;
    c[o + i] += 1;
    c[o + n + 1] += value;
    return i;
  }

  /**
   * Installs this histogram's own `observe`, the label walk inline (`compileUpdate`), for
   * `observe(labels, value)` on an existing series of a classic histogram; every other call goes
   * to `Histogram.prototype.observe` (no label object) or `#observeSlow`. Left alone, as for
   * `Counter.inc`: exemplars, native buckets, a subclass override, an instance spy.
   */
  protected override compileHotPaths(names: readonly string[]): void {
    if (this.enableExemplars || this.#native !== undefined || Object.hasOwn(this, 'observe')) return;
    if ((Object.getPrototypeOf(this) as Histogram<T>).observe !== Histogram.prototype.observe) return;
    this.observe = compileUpdate(
      'observe',
      names,
      (miss) => `if (typeof value !== 'number' || !(value >= min)) ${miss}`,
      'record.call(this, this.addrs[s], value);',
      Histogram.prototype.observe,
      Histogram.#slowObserve,
      { min: this.#min, record: Histogram.#recordAt },
    );
  }

  /** The compiled `observe`'s way out: `#observeSlow`, which does not walk the tree again. */
  static readonly #slowObserve = function (this: Histogram<string>, labels: never, value: never): void {
    this.#observeSlow(labels, value);
  };

  /** `#record` for the compiled `observe`. */
  static readonly #recordAt = function (this: Histogram<string>, addr: number, value: number): void {
    this.#record(addr, value);
  };

  /** Starts a timer; the returned function observes the elapsed seconds and returns them. */
  startTimer(
    labels?: LabelValues<T>,
    exemplarLabels?: LabelValues<string>,
  ): (endLabels?: LabelValues<T>, endExemplarLabels?: LabelValues<string>) => number {
    return this.timer(labels, exemplarLabels);
  }

  protected override timed(labels: object | undefined, seconds: number, startEx?: object, endEx?: object): void {
    if (labels === undefined && !this.enableExemplars) this.observe(seconds);
    else this.#timedSlow(labels as LabelValues<T> | undefined, seconds, startEx, endEx);
  }

  #timedSlow(labels: LabelValues<T> | undefined, seconds: number, startEx?: object, endEx?: object): void {
    // As prom-client: the start's and the end's exemplar labels, merged.
    if (this.enableExemplars) this.observe({ labels, value: seconds, exemplarLabels: { ...startEx, ...endEx } });
    else this.observe(labels as LabelValues<T>, seconds);
  }

  /** A child bound to one label set. */
  labels(...values: (string | number)[] | [LabelValues<T>]): HistogramChild {
    const labels = this.childLabels(values) as LabelValues<T>;
    let { addr, generation } = this.resolveChild(labels);
    let index = this.#native === undefined ? -1 : this.seriesIndex(labels);
    return {
      observe: (value: number) => {
        if (typeof value !== 'number' || !(value >= this.#min)) badObservation(this.what, value, this.#bounds[0]);
        if (generation !== this.currentGeneration()) {
          ({ addr, generation } = this.resolveChild(labels));
          if (index >= 0) index = this.seriesIndex(labels);
        }
        if (index >= 0) this.#recordNative(index, value);
        else this.#record(addr, value);
      },
      startTimer: () => this.startTimer(labels),
      zero: () => this.zero(labels),
    };
  }
}

// prom-client's namespaced types (type-only: nothing is emitted).
export declare namespace Histogram {
  /** A child bound to one label set. */
  interface Internal<_T extends string = string> extends HistogramChild {}
  /** The bucket part of the configuration. */
  interface Config {
    buckets?: number[];
  }
}
