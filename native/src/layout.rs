//! Where a series' values sit in a shard: the one Rust statement of the shared-memory layout.
//! `metrics/layout.ts` is its TypeScript twin; `test/layout.test.ts` checks the two agree
//! through `layoutFacts()` and `layoutSlotsPerSeries()`.
//!
//! ```text
//!  counter, gauge   [value]
//!  histogram        [bucket_0 … bucket_{n-1}, +Inf, sum]           (n = buckets, non-cumulative)
//!  summary          [count, sum, (window start ms, window zero count) × age buckets] + sketch pages
//! ```

use crate::store::Kind;

/// Bins per summary sketch page (a page is one contiguous run of slots in a chunk).
pub const PAGE_BINS: usize = 64;

/// Slots one series occupies, given its kind, its bucket count (histograms, without `+Inf`) and
/// its age buckets (summaries).
pub fn slots_per_series(kind: Kind, buckets: usize, age_buckets: usize) -> usize {
  match kind {
    Kind::Counter | Kind::Gauge => 1,
    Kind::Histogram => buckets + 2,
    Kind::Summary => 2 + 2 * age_buckets,
  }
}
