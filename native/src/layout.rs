//! Where a series' values sit in a shard: the one Rust statement of the shared-memory layout.
//! `metrics/layout.ts` is its TypeScript twin; `test/layout.test.ts` checks the two agree
//! through `layoutFacts()` and `layoutSlotsPerSeries()`.
//!
//! ```text
//!  counter, gauge   [value]
//!  histogram        [bucket_0 … bucket_{n-1}, +Inf, sum]           (n = buckets, non-cumulative)
//!                   + [zero count, schema reductions, sequence]    (native buckets: NH_HEADER)
//!                   + pages of PAGE_BINS native bucket counts
//!  summary          [count, sum, (window start ms, window zero count) × age buckets,
//!                    (window min, window max) × age buckets] + sketch pages of PAGE_BINS
//! ```

use crate::store::Kind;

/// Bins per summary sketch page, and buckets per native histogram page (a page is one
/// contiguous run of slots in a chunk).
pub const PAGE_BINS: usize = 64;

/// Slots a native histogram adds after its classic ones (`[buckets…, +Inf, sum]`):
/// `[zero count, schema reductions, sequence]` (must match `metrics/native-histogram.ts`).
/// The schema is the family's minus the reductions, so fresh zeroed slots hold the initial
/// schema; the sequence is odd while the writer rewrites its pages (schema reduction, reset).
pub const NH_HEADER: usize = 3;
/// Offset of the zero bucket count in the native header.
pub const NH_ZERO: usize = 0;
/// Offset of the schema reductions in the native header.
pub const NH_REDUCTIONS: usize = 1;
/// Offset of the sequence (odd while rewriting) in the native header.
pub const NH_SEQ: usize = 2;

/// Slots one series occupies, given its kind, its bucket count (histograms, without `+Inf`),
/// its age buckets (summaries) and whether it has native buckets (histograms).
pub fn slots_per_series(kind: Kind, buckets: usize, age_buckets: usize, native: bool) -> usize {
  match kind {
    Kind::Counter | Kind::Gauge => 1,
    Kind::Histogram => buckets + 2 + if native { NH_HEADER } else { 0 },
    Kind::Summary => 2 + 4 * age_buckets,
  }
}
