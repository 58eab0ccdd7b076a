// Native (sparse, exponential) histogram buckets of a Histogram, counted in shard slots like
// everything else (native/src/native_histogram.rs reads and merges them). An observation v with
// |v| above the zero threshold goes to bucket k of the series' schema s, the bucket
// (2^((k-1)·2^-s), 2^(k·2^-s)] of |v| — client_golang's frexp-based index, so the buckets are
// Prometheus's and merge exactly across threads and processes.
//
// Slots of one series: the classic [buckets…, +Inf, sum] (the count is their total), then
//   [zero count, schema reductions, sequence]            (NH_HEADER slots)
// plus pages of 64 bucket counts (positive and negative apart), allocated and registered with
// the core the first time the series sees a value of that magnitude — the only napi call, and
// the only allocation, of an observation. The schema is the family's minus the reductions, so
// fresh zeroed slots hold the initial schema. When a new bucket takes the series past
// `nativeHistogramMaxBucketNumber`, the series is reset (if `nativeHistogramMinResetDuration`
// has passed since the last reset) or its schema is reduced: every two buckets become one. The
// sequence slot is odd while pages are rewritten, so a concurrent reader retries.
import { InvalidMetricError, show } from '../errors';
import { NH_REDUCTIONS, NH_SEQ, NH_ZERO, PAGE_BINS } from './layout';
import { native } from './native';
import { CHUNK_MASK, CHUNK_SHIFT, type Shard } from './shard';

/** Buckets per page. */
export const NH_PAGE = PAGE_BINS;
export { NH_HEADER, NH_REDUCTIONS, NH_SEQ, NH_ZERO } from './layout';
/** client_golang's DefNativeHistogramZeroThreshold, 2^-128. */
export const DEFAULT_ZERO_THRESHOLD = 2 ** -128;
/** Prometheus's schema range. */
const MIN_SCHEMA = -4;
const MAX_SCHEMA = 8;

/** Native histogram options (client_golang's and client_js #856's names). */
export interface NativeHistogramConfiguration {
  /**
   * Largest ratio between the bounds of a bucket: the schema is the largest s with
   * 2^(2^-s) ≤ factor (1.1 → schema 3, 8 buckets per power of two). Default 1.1.
   */
  nativeHistogramBucketFactor?: number;
  /** Observations with |v| ≤ this count in the zero bucket. Default 2^-128; 0 keeps only exact zeros. */
  nativeHistogramZeroThreshold?: number;
  /** Populated buckets per series above which the schema is reduced; 0 (default): no limit. */
  nativeHistogramMaxBucketNumber?: number;
  /** Milliseconds: reaching the bucket limit resets the series instead, at most this often; 0 (default): never. */
  nativeHistogramMinResetDuration?: number;
}

/** Validated settings. */
export interface NativeSettings {
  schema: number;
  zeroThreshold: number;
  maxBuckets: number;
  minResetMs: number;
}

/** client_golang's pickSchema: the largest schema s in -4..8 with 2^(2^-s) ≤ factor. */
export function pickSchema(factor: number): number {
  const floor = Math.floor(Math.log2(Math.log2(factor)));
  if (floor <= -MAX_SCHEMA) return MAX_SCHEMA;
  if (floor >= -MIN_SCHEMA) return MIN_SCHEMA;
  return 0 - floor; // not -floor: no -0
}

/**
 * The native settings of a histogram configuration, or undefined when it has none: native
 * buckets are on when a `nativeHistogram*` option is given or `buckets` is `[]` (native only).
 */
export function nativeSettingsOf(
  what: string,
  config: NativeHistogramConfiguration & { buckets?: unknown },
): NativeSettings | undefined {
  const { nativeHistogramBucketFactor: f, nativeHistogramZeroThreshold: z } = config;
  const { nativeHistogramMaxBucketNumber: m, nativeHistogramMinResetDuration: r } = config;
  const nativeOnly = Array.isArray(config.buckets) && config.buckets.length === 0;
  if (f === undefined && z === undefined && m === undefined && r === undefined && !nativeOnly) return undefined;
  if (f !== undefined && !(typeof f === 'number' && f > 1 && Number.isFinite(f))) {
    throw new InvalidMetricError(`${what}: nativeHistogramBucketFactor must be a number above 1, got ${show(f)}`);
  }
  if (z !== undefined && !(typeof z === 'number' && z >= 0 && Number.isFinite(z))) {
    throw new InvalidMetricError(`${what}: nativeHistogramZeroThreshold must be a finite number ≥ 0, got ${show(z)}`);
  }
  if (m !== undefined && !(Number.isInteger(m) && (m as number) >= 0 && (m as number) <= 2 ** 31)) {
    throw new InvalidMetricError(`${what}: nativeHistogramMaxBucketNumber must be an integer ≥ 0, got ${show(m)}`);
  }
  if (r !== undefined && !(typeof r === 'number' && r >= 0 && Number.isFinite(r))) {
    throw new InvalidMetricError(
      `${what}: nativeHistogramMinResetDuration must be a number of milliseconds ≥ 0, got ${show(r)}`,
    );
  }
  return {
    schema: pickSchema(f ?? 1.1),
    zeroThreshold: z ?? DEFAULT_ZERO_THRESHOLD,
    maxBuckets: m ?? 0,
    minResetMs: r ?? 0,
  };
}

// client_golang's nativeHistogramBounds[schema] (schema 1..8): the frac (in [0.5, 1)) of
// each bucket's upper bound within a power of two.
const BOUNDS: Float64Array[] = (() => {
  const all: Float64Array[] = [Float64Array.of(0.5)];
  for (let i = 1; i <= MAX_SCHEMA; i++) {
    const n = 1 << i;
    const prev = all[i - 1];
    const factor = 2 ** (2 ** -i);
    const b = new Float64Array(n);
    b[0] = 0.5;
    for (let j = 0; j < n - 1; j++) b[j + 1] = (j + 1) % 2 === 0 ? prev[(j >> 1) + 1] : b[j] * factor;
    all.push(b);
  }
  return all;
})();

// Within a power of two, the top 10 bits of the mantissa give the bucket up to one boundary:
// boundaries are at least 2^(1/256) − 1 ≈ 0.27 % apart, a 10-bit slot is under 0.1 % wide. So
// START[schema][slot] is the smallest i with BOUNDS[schema][i] ≥ the slot's low edge, and one
// comparison with that bound finishes the index: no logarithm on the hot path.
const SLOT_BITS = 10;
const START: Uint16Array[] = BOUNDS.map((b) => {
  const t = new Uint16Array(1 << SLOT_BITS);
  for (let m = 0; m < t.length; m++) {
    const low = 0.5 + m / (2 << SLOT_BITS);
    let i = 0;
    while (i < b.length && b[i] < low) i++;
    t[m] = i;
  }
  return t;
});

// frexp through the bits of one scratch double: exact, and no allocation.
const F64 = new Float64Array(1);
const U32 = new Uint32Array(F64.buffer);
const TWO_64 = 2 ** 64;

/**
 * Passes a double to the hot path without an argument: a double argument of a call V8 does not
 * inline is boxed (a heap allocation per observation), a typed-array slot is not.
 */
export const NH_ARG = new Float64Array(1);

/** The bucket index of `v > 0` (or +Infinity) at `schema` (client_golang's computation). */
export function bucketIndex(v: number, schema: number): number {
  F64[0] = v;
  return scratchIndex(schema);
}

/**
 * The mantissa bits of each schema's bounds (all in [0.5, 1), exponent -1): the high 20 and the
 * low 32. A value's fraction is compared with a bound through its own bits, so the hot path
 * never writes half of the scratch double and reads it back whole (a load that spans two stores
 * cannot be forwarded from them and waits for both to reach the cache).
 */
const BOUND_HI: Uint32Array[] = BOUNDS.map((b) => Uint32Array.from(b, (x) => halfOf(x, 1) & 0x000fffff));
const BOUND_LO: Uint32Array[] = BOUNDS.map((b) => Uint32Array.from(b, (x) => halfOf(x, 0)));

/** The high (1) or low (0) 32 bits of a double. */
function halfOf(x: number, half: 0 | 1): number {
  F64[0] = x;
  return U32[half];
}

/** bucketIndex of the value in F64[0]. */
function scratchIndex(schema: number): number {
  const inf = F64[0] === Infinity;
  if (inf) F64[0] = Number.MAX_VALUE;
  let hi = U32[1];
  let e = hi >>> 20;
  let adj = 0;
  if (e === 0) {
    // Subnormal: scale into the normal range first.
    F64[0] *= TWO_64;
    hi = U32[1];
    e = hi >>> 20;
    adj = 64;
  }
  const exp = e - 1022 - adj;
  // The fraction in [0.5, 1) has the value's mantissa: compared as (high 20 bits, low 32 bits).
  const mh = hi & 0x000fffff;
  const ml = U32[0];
  let key: number;
  if (schema > 0) {
    const n = 1 << schema;
    let i = START[schema][mh >>> (20 - SLOT_BITS)];
    if (i < n) {
      const bh = BOUND_HI[schema][i];
      if (mh > bh || (mh === bh && ml > BOUND_LO[schema][i])) i++;
    }
    key = i + (exp - 1) * n;
  } else {
    // A fraction of exactly 0.5 (a power of two) belongs to the bucket below.
    key = mh === 0 && ml === 0 ? exp - 1 : exp;
    const s = -schema;
    key = (key + ((1 << s) - 1)) >> s;
  }
  return inf ? key + 1 : key;
}

/** Page keys the per-series window covers (32 pages of each sign: 2048 buckets each side). */
const WINDOW = 64;

/** Per-series side state (JS only). */
interface SeriesState {
  /** Page key → page address; key = (index >> 6) * 2 + negative. */
  pages: Map<number, number>;
  /**
   * Page addresses of WINDOW consecutive page keys from `lo` (-1: none), so the hot path finds a
   * page with one array read; keys outside the window (values ~2^±256 apart at schema 3) use `pages`.
   */
  lo: number;
  window: Int32Array;
  /** Populated buckets. */
  buckets: number;
  /** Last reset (or creation), ms. */
  lastReset: number;
}

/** The native buckets of one Histogram family in this thread. */
export class NativeBuckets {
  readonly settings: NativeSettings;
  readonly #shard: Shard;
  readonly #chunks: Float64Array[];
  readonly #familyId: () => number;
  #states: (SeriesState | undefined)[] = [];

  constructor(settings: NativeSettings, shard: Shard, familyId: () => number) {
    this.settings = settings;
    this.#shard = shard;
    this.#chunks = shard.chunks;
    this.#familyId = familyId;
  }

  /** (Re)initialises a series whose slots are zero (creation or `zero()`). */
  init(index: number): void {
    const old = this.#states[index];
    if (old !== undefined) {
      // zero() of a live series: the core keeps reading its pages, so empty them in place.
      for (const page of old.pages.values()) this.#fill(page, 0);
      old.buckets = 0;
      old.lastReset = Date.now();
      return;
    }
    this.#states[index] = {
      pages: new Map(),
      lo: 0,
      window: new Int32Array(WINDOW).fill(-1),
      buckets: 0,
      lastReset: Date.now(),
    };
  }

  /** Frees a removed series' pages. */
  drop(index: number): void {
    const st = this.#states[index];
    if (st) for (const page of st.pages.values()) this.#shard.free(page, NH_PAGE);
    this.#states[index] = undefined;
  }

  /**
   * Counts the value in NH_ARG[0] (checked, not NaN; its classic part already recorded) in the
   * series `index` whose slots start at `o` in `c`, with `n` classic buckets; `bucket` is its
   * classic bucket.
   */
  observe(index: number, c: Float64Array, o: number, n: number, bucket: number): void {
    const h = o + n + 2;
    const zt = this.settings.zeroThreshold;
    const value = NH_ARG[0];
    let neg = 0;
    if (value < -zt) {
      F64[0] = -value;
      neg = 1;
    } else if (value > zt) {
      F64[0] = value;
    } else {
      c[h + NH_ZERO] += 1;
      return;
    }
    // `| 0`: the schema comes from a float slot; a small-integer index keeps the table loads fast.
    const key = scratchIndex((this.settings.schema - c[h + NH_REDUCTIONS]) | 0);
    const pageKey = (key >> 6) * 2 + neg;
    const st = this.#states[index] as SeriesState;
    const w = pageKey - st.lo;
    let page = w >= 0 && w < WINDOW ? st.window[w] : (st.pages.get(pageKey) ?? -1);
    if (page < 0) page = this.#addPage(index, st, pageKey);
    const pc = this.#chunks[page >>> CHUNK_SHIFT];
    const j = (page & CHUNK_MASK) + (key & (NH_PAGE - 1));
    if (pc[j]++ === 0 && ++st.buckets > this.settings.maxBuckets && this.settings.maxBuckets > 0) {
      this.#limit(index, st, c, o, n, value, bucket);
    }
  }

  #fill(page: number, v: number): void {
    this.#chunks[page >>> CHUNK_SHIFT].fill(v, page & CHUNK_MASK, (page & CHUNK_MASK) + NH_PAGE);
  }

  #addPage(index: number, st: SeriesState, pageKey: number): number {
    const neg = pageKey & 1;
    const base = ((pageKey - neg) / 2) * NH_PAGE;
    const page = this.#shard.alloc(NH_PAGE);
    native.pageAdd(this.#familyId(), index, 0, neg === 1, base, this.#shard.nativeChunk(page), page & CHUNK_MASK);
    // The window is placed around the first page (keys of both signs interleave: even, odd).
    if (st.pages.size === 0) st.lo = pageKey - (pageKey & 1) - WINDOW / 2;
    st.pages.set(pageKey, page);
    const w = pageKey - st.lo;
    if (w >= 0 && w < WINDOW) st.window[w] = page;
    return page;
  }

  /** Rare path: the series went past the bucket limit. */
  #limit(index: number, st: SeriesState, c: Float64Array, o: number, n: number, value: number, bucket: number): void {
    const { schema, maxBuckets, minResetMs } = this.settings;
    const h = o + n + 2;
    const now = Date.now();
    if (minResetMs > 0 && now - st.lastReset >= minResetMs) {
      // client_golang's maybeReset: start over, keeping the latest observation.
      c[h + NH_SEQ] += 1;
      for (const page of st.pages.values()) this.#fill(page, 0);
      c.fill(0, o, h + NH_SEQ);
      c[h + NH_SEQ] += 1;
      st.buckets = 0;
      st.lastReset = now;
      c[o + bucket] += 1;
      c[o + n + 1] += value;
      NH_ARG[0] = value;
      this.observe(index, c, o, n, bucket);
      return;
    }
    let current = schema - c[h + NH_REDUCTIONS];
    if (current <= MIN_SCHEMA) return;
    // Gather the buckets, halve the resolution until they fit (or the schema is -4).
    let bins = new Map<number, number>();
    for (const [pageKey, page] of st.pages) {
      const neg = pageKey & 1;
      const base = ((pageKey - neg) / 2) * NH_PAGE;
      const pc = this.#chunks[page >>> CHUNK_SHIFT];
      const off = page & CHUNK_MASK;
      for (let i = 0; i < NH_PAGE; i++) {
        if (pc[off + i] !== 0) bins.set((base + i) * 2 + neg, pc[off + i]);
      }
    }
    do {
      const next = new Map<number, number>();
      for (const [k2, count] of bins) {
        const neg = k2 & 1;
        const k = Math.ceil((k2 - neg) / 2 / 2);
        const nk = k * 2 + neg;
        next.set(nk, (next.get(nk) ?? 0) + count);
      }
      bins = next;
      current--;
    } while (bins.size > maxBuckets && current > MIN_SCHEMA);
    // Pages first (registering them may wait for a reader), then the rewrite inside the sequence.
    for (const k2 of bins.keys()) {
      const neg = k2 & 1;
      const pageKey = (((k2 - neg) / 2) >> 6) * 2 + neg;
      if (!st.pages.has(pageKey)) this.#addPage(index, st, pageKey);
    }
    c[h + NH_SEQ] += 1;
    for (const page of st.pages.values()) this.#fill(page, 0);
    for (const [k2, count] of bins) {
      const neg = k2 & 1;
      const key = (k2 - neg) / 2;
      const page = st.pages.get((key >> 6) * 2 + neg) as number;
      this.#chunks[page >>> CHUNK_SHIFT][(page & CHUNK_MASK) + (key & (NH_PAGE - 1))] = count;
    }
    c[h + NH_REDUCTIONS] = schema - current;
    c[h + NH_SEQ] += 1;
    st.buckets = bins.size;
  }
}

/** Upper bound of bucket `k` at `schema` (exact: a table bound times a power of two). */
export function upperBound(k: number, schema: number): number {
  if (schema <= 0) return 2 ** (k * 2 ** -schema);
  const n = 1 << schema;
  const i = ((k % n) + n) % n;
  return BOUNDS[schema][i] * 2 ** ((k - i) / n + 1);
}
