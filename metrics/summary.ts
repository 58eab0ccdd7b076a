// Summaries keep a mergeable sketch instead of prom-client's t-digest: log-spaced bins with 1 %
// relative accuracy (DDSketch), counted in shard slots like everything else. Bins from several
// threads or processes add up, so quantiles of the aggregate are right — prom-client's cluster
// mode averages per-worker quantiles instead. Slots of one series:
//   [count, sum, (window start ms, zero count) × ageBuckets, (min, max) × ageBuckets]
// plus pages of 64 bins, allocated the first time a window sees a value of that magnitude.
import { InvalidMetricError, InvalidValueError, show } from '../errors';
import type { LabelValues } from './labels';
import { Metric, type CollectFunction, type MetricConfiguration } from './metric';
import { native } from './native';
import { CHUNK_MASK, CHUNK_SHIFT, PAGE_BINS } from './layout';

/** 1 / ln(γ), γ = (1 + 1 %) / (1 − 1 %) (native/src/sketch.rs ALPHA). */
const INV_LN_GAMMA = 1 / Math.log(1.01 / 0.99);
/** Sketch indexes are clamped here; ±40000 covers 1e-347 … 1e347. */
const MAX_INDEX = 40000;
/** Bins per octave: ln 2 / ln γ. */
const BINS_PER_OCTAVE = Math.LN2 * INV_LN_GAMMA;
/**
 * log_γ of a double from its bits: exponent field × BINS_PER_OCTAVE + BIN_TABLE[top 12 mantissa
 * bits] (log_γ of the cell's midpoint, less 1023 octaves). Within 0.0062 bins of the true log_γ.
 */
const BIN_TABLE = Float64Array.from(
  { length: 4096 },
  (_, c) => Math.log2(1 + (c + 0.5) / 4096) * BINS_PER_OCTAVE - 1023 * BINS_PER_OCTAVE,
);
/** Scratch for reading a double's bits (the high word is [1] on little-endian machines). */
const BITS_F = new Float64Array(1);
const BITS_U = new Uint32Array(BITS_F.buffer);
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

/**
 * The sketch bin of `v > 0`: ceil(ln v / ln γ) clamped to ±MAX_INDEX — what Math.log gives, from
 * the double's bits and a table; Math.log is called only within 0.01 of a bin edge and for
 * subnormals and Infinity, so every value gets the bin the exact formula gives. Internal
 * (exported for its test).
 */
export function binOf(v: number): number {
  BITS_F[0] = v;
  const hi = BITS_U[HI];
  const e = hi >>> 20;
  const x = e * BINS_PER_OCTAVE + BIN_TABLE[(hi >>> 8) & 4095];
  const bin = Math.ceil(x);
  const d = bin - x;
  if (d >= 0.01 && d <= 0.99 && e !== 0 && e !== 2047) return bin;
  const exact = Math.ceil(Math.log(v) * INV_LN_GAMMA);
  return exact <= MAX_INDEX ? Math.max(exact, -MAX_INDEX) : MAX_INDEX;
}

/** log2(PAGE_BINS): a bin's page number is `bin >> PAGE_SHIFT`. */
const PAGE_SHIFT = Math.log2(PAGE_BINS);

/** prom-client's default percentiles. */
export const DEFAULT_PERCENTILES: readonly number[] = Object.freeze([0.01, 0.05, 0.5, 0.9, 0.95, 0.99, 0.999]);

/** Summary options (prom-client's `SummaryConfiguration`). */
export interface SummaryConfiguration<T extends string> extends MetricConfiguration<T> {
  /** Quantiles to report, each in [0, 1]. */
  percentiles?: readonly number[];
  /** Sliding window for quantiles; without it quantiles cover all observations. */
  maxAgeSeconds?: number;
  /** Sub-windows of the sliding window (default 5). */
  ageBuckets?: number;
  /**
   * prom-client's t-digest compression interval. Accepted and checked; it has no effect: the
   * sketch's bins never need compressing (its size depends on the values' range, not count).
   */
  compressCount?: number;
  /**
   * Drop a series from the exposition once its window holds no observation (prom-client's
   * option; needs `maxAgeSeconds`). The series comes back with its next observation.
   */
  pruneAgedBuckets?: boolean;
  collect?: CollectFunction<Summary<T>>;
}

/** A child bound to one label set. */
export interface SummaryChild {
  observe(value: number): void;
  startTimer(): () => number;
}

/**
 * One window's pages of one series, as native histograms keep theirs: a dense run of page
 * addresses from page number `lo` (page number = bin >> PAGE_SHIFT), −1 where no page is allocated yet, so
 * an observation finds its page with one array read instead of a Map lookup.
 */
interface SketchWindow {
  lo: number;
  addrs: number[];
}

interface SketchState {
  /** Per window; summaries refuse negative observations, so there are only positive pages. */
  windows: SketchWindow[];
}

function newState(ageBuckets: number): SketchState {
  return { windows: Array.from({ length: ageBuckets }, () => ({ lo: 0, addrs: [] })) };
}

/** Every allocated page address of a state. */
function* pagesOf(st: SketchState): Generator<number> {
  for (const win of st.windows) for (const page of win.addrs) if (page >= 0) yield page;
}

function checkPercentiles(what: string, p: unknown): number[] {
  if (!Array.isArray(p) || p.length === 0)
    throw new InvalidMetricError(`${what}: percentiles must be a non-empty array, got ${show(p)}`);
  for (const q of p) {
    if (typeof q !== 'number' || !(q >= 0 && q <= 1))
      throw new InvalidMetricError(`${what}: percentile ${show(q)} is not a number in [0, 1]`);
  }
  return [...p];
}

/** Observations summarised by quantiles over a sliding window, plus sum and count. */
export class Summary<T extends string = string> extends Metric<T> {
  readonly type = 'summary' as const;
  /** Reported quantiles. */
  readonly percentiles: readonly number[];
  readonly #windowMs: number;
  readonly #ageBuckets: number;
  readonly #prune: boolean;
  #states: (SketchState | undefined)[] = [];
  /**
   * The unlabelled series' window when the sketch is all-time (one window that never rotates),
   * set by its first observation, cleared when the series is dropped: `observe(v)` then writes
   * through `c0`/`o0` and this window without the series lookup.
   */
  #win0: SketchWindow | undefined = undefined;

  constructor(config: SummaryConfiguration<T>) {
    const what = `Summary "${String(config?.name)}"`;
    const percentiles = checkPercentiles(what, config?.percentiles ?? DEFAULT_PERCENTILES);
    const maxAge = config?.maxAgeSeconds;
    if (maxAge !== undefined && !(typeof maxAge === 'number' && maxAge > 0)) {
      throw new InvalidMetricError(`${what}: maxAgeSeconds must be a positive number, got ${show(maxAge)}`);
    }
    const ageBuckets = maxAge === undefined ? 1 : (config?.ageBuckets ?? 5);
    if (!Number.isInteger(ageBuckets) || ageBuckets < 1 || ageBuckets > 120) {
      throw new InvalidMetricError(
        `${what}: ageBuckets must be an integer from 1 to 120, got ${show(config?.ageBuckets)}`,
      );
    }
    const compress = config?.compressCount;
    if (compress !== undefined && !(typeof compress === 'number' && compress > 0)) {
      throw new InvalidMetricError(`${what}: compressCount must be a positive number, got ${show(compress)}`);
    }
    const prune = config?.pruneAgedBuckets;
    if (prune !== undefined && typeof prune !== 'boolean') {
      throw new InvalidMetricError(`${what}: pruneAgedBuckets must be a boolean, got ${show(prune)}`);
    }
    super('Summary', config, {
      type: 'summary',
      reserved: ['quantile'],
      quantiles: percentiles,
      maxAgeSeconds: maxAge ?? Infinity,
      ageBuckets,
    });
    this.percentiles = Object.freeze(percentiles);
    this.#windowMs = maxAge === undefined ? Infinity : (maxAge * 1000) / ageBuckets;
    this.#ageBuckets = ageBuckets;
    this.#prune = prune === true && maxAge !== undefined;
    if (this.labelNames.length === 0) this.index0 = this.indexOf({});
  }

  /**
   * prom-client's reset() zeroes the series a summary has: an unlabelled one stays, at zero, but
   * one that remove() dropped stays away until its next observation.
   */
  override reset(): void {
    const had = this.index0 >= 0;
    super.reset();
    if (had) this.index0 = this.indexOf({});
  }

  /** Runs the collect callback, then prunes aged-out series (`pruneAgedBuckets`). */
  override async runCollect(): Promise<void> {
    await super.runCollect();
    if (this.#prune) this.pruneAged(Date.now());
  }

  /** Removes the series whose windows are all older than `maxAgeSeconds` at `now`. */
  private pruneAged(now: number): void {
    const maxAgeMs = this.#windowMs * this.#ageBuckets;
    const aged = (index: number): boolean => {
      const addr = this.addrs[index];
      const c = this.chunkOf(addr);
      const o = addr & CHUNK_MASK;
      for (let w = 0; w < this.#ageBuckets; w++) {
        const start = c[o + 2 + 2 * w];
        if (start > 0 && now - start < maxAgeMs) return false;
      }
      return true;
    };
    for (const labels of this.seriesLabels()) {
      const index = labels === undefined ? this.index0 : this.seriesIndexOf(labels);
      if (index !== undefined && index >= 0 && aged(index)) {
        if (labels === undefined) this.remove();
        else this.remove(labels as LabelValues<T>);
      }
    }
  }

  protected override initSeries(index: number, addr: number): void {
    const old = this.#states[index];
    if (old !== undefined) {
      // zero() of a live series: the core keeps reading its pages, so empty them in place.
      for (const page of pagesOf(old)) this.chunkOf(page).fill(0, page & CHUNK_MASK, (page & CHUNK_MASK) + PAGE_BINS);
    } else {
      this.#states[index] = newState(this.#ageBuckets);
    }
    // All-time sketches have one window that never rotates.
    if (this.#windowMs === Infinity) {
      const c = this.chunkOf(addr);
      const o = addr & CHUNK_MASK;
      c[o + 2] = 1;
      c[o + 2 + 2 * this.#ageBuckets] = Infinity;
      c[o + 3 + 2 * this.#ageBuckets] = -Infinity;
    }
  }

  protected override dropSeries(index: number): void {
    const st = this.#states[index];
    if (st) for (const page of pagesOf(st)) this.shard.free(page, PAGE_BINS);
    if (st !== undefined && st.windows[0] === this.#win0) this.#win0 = undefined;
    this.#states[index] = undefined;
  }

  /** Records `value` in the series of `labels`. */
  observe(labels: LabelValues<T> | number, value?: number): void {
    const c = this.c0;
    const win = this.#win0;
    // observe(v > 0) on the unlabelled all-time series: count, sum, range, bin; nothing to look up.
    if (typeof labels === 'number' && labels > 0 && value === undefined && c.length > 0 && win !== undefined) {
      const o = this.o0;
      c[o] += 1;
      c[o + 1] += labels;
      if (labels < c[o + 4]) c[o + 4] = labels;
      if (labels > c[o + 5]) c[o + 5] = labels;
      const bin = binOf(labels);
      let page = win.addrs[(bin >> PAGE_SHIFT) - win.lo];
      if (!(page >= 0)) page = this.#addPage(this.index0, win, 0, bin >> PAGE_SHIFT);
      this.chunks[page >>> CHUNK_SHIFT][(page & CHUNK_MASK) + (bin & (PAGE_BINS - 1))] += 1;
      return;
    }
    if (typeof labels === 'object') this.#observe(labels, value);
    else this.#observe(undefined, labels);
  }

  #observe(labels: object | undefined, value: unknown): void {
    // Checked before the lookup so that a refused update creates no series.
    // One comparison rejects NaN and negatives. OpenMetrics: a summary's sum is a counter and its
    // quantiles must not be negative, so a negative observation has no valid exposition.
    if (typeof value !== 'number' || !(value >= 0)) {
      if (typeof value === 'number' && value < 0) {
        throw new InvalidValueError(
          `${this.what}: observed value ${show(value)} is negative; a summary's sum and quantiles must not be negative (OpenMetrics): use a histogram with a negative bucket bound`,
        );
      }
      throw new InvalidValueError(`${this.what}: observed value must be a number (not NaN), got ${show(value)}`);
    }
    // One lookup gives the index; the address comes from it (read after: creation may grow `addrs`).
    const index = this.seriesIndexAt(labels);
    const addr = this.addrs[index];
    const c = this.chunks[addr >>> CHUNK_SHIFT];
    const o = addr & CHUNK_MASK;
    c[o] += 1;
    c[o + 1] += value;
    let w = 0;
    const st = this.#states[index] as SketchState;
    if (index === this.index0 && this.#windowMs === Infinity) this.#win0 = st.windows[0];
    if (this.#windowMs !== Infinity) {
      const tick = Math.floor(Date.now() / this.#windowMs);
      w = tick % this.#ageBuckets;
      const start = tick * this.#windowMs;
      if (c[o + 2 + 2 * w] !== start) {
        for (const page of st.windows[w].addrs)
          if (page >= 0) this.chunkOf(page).fill(0, page & CHUNK_MASK, (page & CHUNK_MASK) + PAGE_BINS);
        c[o + 3 + 2 * w] = 0;
        c[o + 2 + 2 * this.#ageBuckets + 2 * w] = Infinity;
        c[o + 3 + 2 * this.#ageBuckets + 2 * w] = -Infinity;
        c[o + 2 + 2 * w] = start;
      }
    }
    // The window's range keeps reported quantiles inside what was observed (exact for one value).
    const r = o + 2 + 2 * this.#ageBuckets + 2 * w;
    if (value < c[r]) c[r] = value;
    if (value > c[r + 1]) c[r + 1] = value;
    if (value === 0) {
      c[o + 3 + 2 * w] += 1;
      return;
    }
    // value > 0 here (negatives are refused above), so only positive bins.
    const bin = binOf(value);
    const win = st.windows[w];
    let page = win.addrs[(bin >> PAGE_SHIFT) - win.lo];
    if (!(page >= 0)) page = this.#addPage(index, win, w, bin >> PAGE_SHIFT);
    this.chunks[page >>> CHUNK_SHIFT][(page & CHUNK_MASK) + (bin & (PAGE_BINS - 1))] += 1;
  }

  /** Series index for an update's labels (already created by `addrOf`). */
  private seriesIndexAt(labels: object | undefined): number {
    return labels === undefined && this.index0 >= 0 ? this.index0 : this.seriesIndex(labels);
  }

  /** Allocates page `pageNo` of window `w` and makes room for it in the window's run. */
  #addPage(index: number, win: SketchWindow, w: number, pageNo: number): number {
    const page = this.shard.alloc(PAGE_BINS);
    native.pageAdd(this.familyId, index, w, false, pageNo * PAGE_BINS, this.shard.nativeChunk(page), page & CHUNK_MASK);
    if (win.addrs.length === 0) win.lo = pageNo;
    else if (pageNo < win.lo) {
      win.addrs = [...new Array<number>(win.lo - pageNo).fill(-1), ...win.addrs];
      win.lo = pageNo;
    }
    const i = pageNo - win.lo;
    while (win.addrs.length <= i) win.addrs.push(-1);
    win.addrs[i] = page;
    return page;
  }

  /** Starts a timer; the returned function observes the elapsed seconds and returns them. */
  startTimer(labels?: LabelValues<T>): (endLabels?: LabelValues<T>) => number {
    return this.timer(labels);
  }

  protected override timed(labels: object | undefined, seconds: number): void {
    this.#observe(labels, seconds);
  }

  /** A child bound to one label set. */
  labels(...values: (string | number)[] | [LabelValues<T>]): SummaryChild {
    const labels = this.childLabels(values) as LabelValues<T>;
    this.seriesIndex(labels);
    return {
      observe: (value: number) => this.observe(labels, value),
      startTimer: () => this.startTimer(labels),
    };
  }
}

// prom-client's namespaced types (type-only: nothing is emitted).
export declare namespace Summary {
  /** A child bound to one label set. */
  interface Internal<_T extends string = string> extends SummaryChild {}
  /** The percentile part of the configuration. */
  interface Config {
    percentiles?: number[];
  }
}
