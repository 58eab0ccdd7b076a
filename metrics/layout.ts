// Where a series' values sit in this thread's shard: the one TypeScript statement of the
// shared-memory layout. native/src/layout.rs is its Rust twin; test/layout.test.ts checks that
// the two agree (the core reports its side through layoutFacts() and layoutSlotsPerSeries()).
//
//  counter, gauge   [value]
//  histogram        [bucket_0 … bucket_{n-1}, +Inf, sum]        (n = buckets, non-cumulative)
//                   + [zero count, schema reductions, sequence] (native buckets: NH_HEADER)
//                   + pages of PAGE_BINS native bucket counts
//  summary          [count, sum, (window start ms, window zero count) × age buckets,
//                    (window min, window max) × age buckets] + sketch pages of PAGE_BINS

/** log2 of the slots in one chunk (16 Ki slots = 128 KiB). */
export const CHUNK_SHIFT = 14;
/** Slots in one chunk. */
export const CHUNK_SLOTS = 1 << CHUNK_SHIFT;
/** Mask of the offset part of a slot address. */
export const CHUNK_MASK = CHUNK_SLOTS - 1;
/** Bins per summary sketch page, and buckets per native histogram page (a page is one contiguous run of slots). */
export const PAGE_BINS = 64;
/** Slots a native histogram adds after its classic ones: [zero count, schema reductions, sequence]. */
export const NH_HEADER = 3;
/** Offsets in the native header. */
export const NH_ZERO = 0;
export const NH_REDUCTIONS = 1;
export const NH_SEQ = 2;

/** Slots one series occupies in a shard. */
export function slotsPerSeries(
  type: 'counter' | 'gauge' | 'histogram' | 'summary',
  buckets = 0,
  ageBuckets = 5,
  native = false,
): number {
  switch (type) {
    case 'counter':
    case 'gauge':
      return 1;
    case 'histogram':
      return buckets + 2 + (native ? NH_HEADER : 0);
    case 'summary':
      return 2 + 4 * ageBuckets;
  }
}
