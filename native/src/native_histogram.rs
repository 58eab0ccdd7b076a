//! Native (sparse, exponential) histograms: reading a series' buckets out of its shard and
//! merging series of several threads or processes.
//!
//! JS counts an observation `v` with `|v|` above the zero threshold in bucket `k` of the
//! series' current schema `s`, the bucket `(2^((k-1)·2^-s), 2^(k·2^-s)]` of `|v|` (client_golang's
//! frexp-based index), positive and negative values apart. Buckets live in pages of
//! [`PAGE_BINS`] slots registered like summary sketch pages (`window` 0, `base` the index of the
//! page's first bucket). Slots of one series: the classic `[buckets…, +Inf, sum]`, then
//! [`NH_HEADER`] slots `[zero count, schema reductions, sequence]`.
//!
//! Buckets of schema `s` merge exactly into schema `s − 1`: bucket `k` becomes `ceil(k / 2)`.
//! Series of different schemas therefore merge at the smallest one, with no loss beyond that
//! schema's resolution.

use std::collections::BTreeMap;

use crate::store::{
  FamilyDef, Page, Series, Store, NH_HEADER, NH_REDUCTIONS, NH_SEQ, NH_ZERO, PAGE_BINS,
};

/// Smallest schema Prometheus accepts.
pub const MIN_SCHEMA: i32 = -4;
/// Largest schema Prometheus accepts.
pub const MAX_SCHEMA: i32 = 8;

/// The native buckets of one (merged) series.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NativeSeries {
  /// Schema of the bucket indexes below.
  pub schema: i32,
  /// Observations in the zero bucket.
  pub zero_count: f64,
  /// Positive buckets by index (non-zero counts only).
  pub positive: BTreeMap<i32, f64>,
  /// Negative buckets by index of `|v|` (non-zero counts only).
  pub negative: BTreeMap<i32, f64>,
}

/// Bucket `k` of schema `s` is bucket `ceil(k / 2)` of schema `s − 1`.
fn halve(buckets: &BTreeMap<i32, f64>, times: i32) -> BTreeMap<i32, f64> {
  let mut out = BTreeMap::new();
  for (&k, &c) in buckets {
    let mut k = k;
    for _ in 0..times {
      k = k.div_euclid(2) + k.rem_euclid(2);
    }
    *out.entry(k).or_default() += c;
  }
  out
}

impl NativeSeries {
  /// The same observations at `schema` (≤ the current one).
  pub fn reduce_to(&mut self, schema: i32) {
    let times = self.schema - schema;
    if times > 0 {
      self.positive = halve(&self.positive, times);
      self.negative = halve(&self.negative, times);
      self.schema = schema;
    }
  }

  /// Adds `other` into `self`, both at the smaller of their schemas.
  pub fn add(&mut self, mut other: NativeSeries) {
    if other.schema < self.schema {
      self.reduce_to(other.schema);
    } else {
      other.reduce_to(self.schema);
    }
    self.zero_count += other.zero_count;
    for (k, c) in other.positive {
      *self.positive.entry(k).or_default() += c;
    }
    for (k, c) in other.negative {
      *self.negative.entry(k).or_default() += c;
    }
  }
}

/// Reads the native buckets of series `s` of a family with settings `def` and bucket `pages`.
/// The header's sequence guards against reading in the middle of a rewrite by the writer (a
/// schema reduction or a reset): the read is retried, a bounded number of times.
pub fn read(store: &Store, def: &FamilyDef, s: &Series, pages: &[Page]) -> NativeSeries {
  let Some(nd) = def.native else {
    return NativeSeries::default();
  };
  let header = s.offset as usize + def.buckets.len() + 2;
  let slot = |i: usize| store.slot(s.chunk, header + i);
  debug_assert_eq!(def.slots_per_series(), def.buckets.len() + 2 + NH_HEADER);
  let mut out = NativeSeries::default();
  for _ in 0..64 {
    let seq = slot(NH_SEQ);
    if seq % 2.0 != 0.0 {
      std::thread::yield_now();
      continue;
    }
    out = NativeSeries {
      schema: nd.schema - slot(NH_REDUCTIONS) as i32,
      zero_count: slot(NH_ZERO),
      ..Default::default()
    };
    for p in pages {
      let side = if p.negative {
        &mut out.negative
      } else {
        &mut out.positive
      };
      for i in 0..PAGE_BINS {
        let c = store.slot(p.chunk, p.offset as usize + i);
        if c != 0.0 {
          *side.entry(p.base + i as i32).or_default() += c;
        }
      }
    }
    if slot(NH_SEQ) == seq {
      break;
    }
  }
  out
}

/// Spans and deltas of a bucket map in the protobuf layout (client_golang's `makeBuckets`:
/// gaps of up to two empty buckets stay inside a span).
pub fn spans(buckets: &BTreeMap<i32, f64>) -> (Vec<(i32, u32)>, Vec<i64>) {
  let mut spans: Vec<(i32, u32)> = Vec::new();
  let mut deltas = Vec::new();
  let mut prev = 0i64;
  let mut next = 0i32;
  for (n, (&k, &c)) in buckets.iter().enumerate() {
    let gap = k - next;
    if n == 0 || gap > 2 {
      spans.push((gap, 0));
    } else {
      for _ in 0..gap {
        spans.last_mut().expect("a span").1 += 1;
        deltas.push(-prev);
        prev = 0;
      }
    }
    let count = c as i64;
    spans.last_mut().expect("a span").1 += 1;
    deltas.push(count - prev);
    prev = count;
    next = k + 1;
  }
  (spans, deltas)
}

/// The bucket index of `v > 0` at `schema` (client_golang's frexp-based computation).
pub fn bucket_index(v: f64, schema: i32) -> i32 {
  let (v, inf) = if v.is_infinite() {
    (f64::MAX, true)
  } else {
    (v, false)
  };
  let (frac, exp) = frexp(v);
  let mut key = if schema > 0 {
    let n = 1i32 << schema;
    let bounds = bounds(schema);
    let i = bounds.partition_point(|&b| b < frac) as i32;
    i + (exp - 1) * n
  } else {
    let mut key = exp;
    if frac == 0.5 {
      key -= 1;
    }
    let offset = (1 << -schema) - 1;
    (key + offset) >> -schema
  };
  if inf {
    key += 1;
  }
  key
}

fn frexp(v: f64) -> (f64, i32) {
  if v == 0.0 || !v.is_finite() {
    return (v, 0);
  }
  let bits = v.to_bits();
  let e = ((bits >> 52) & 0x7ff) as i32;
  if e == 0 {
    let (f, x) = frexp(v * f64::powi(2.0, 64));
    return (f, x - 64);
  }
  let frac = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
  (frac, e - 1022)
}

/// client_golang's `nativeHistogramBounds[schema]` (schema 1..=8).
pub fn bounds(schema: i32) -> Vec<f64> {
  let mut prev = vec![0.5];
  for i in 1..=schema {
    let n = 1usize << i;
    let factor = 2f64.powf(2f64.powi(-i));
    let mut b = vec![0.5];
    for j in 0..n - 1 {
      let bound = if (j + 1) % 2 == 0 {
        prev[j / 2 + 1]
      } else {
        b[j] * factor
      };
      b.push(bound);
    }
    prev = b;
  }
  prev
}

/// Upper bound of bucket `k` at `schema`.
pub fn upper_bound(k: i32, schema: i32) -> f64 {
  2f64.powf(k as f64 * 2f64.powi(-schema))
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn indexes_follow_client_golang() {
    // Bucket k of schema s is (2^((k-1)/2^s), 2^(k/2^s)].
    assert_eq!(bucket_index(1.0, 0), 0);
    assert_eq!(bucket_index(1.5, 0), 1);
    assert_eq!(bucket_index(2.0, 0), 1);
    assert_eq!(bucket_index(2.0001, 0), 2);
    assert_eq!(bucket_index(0.5, 0), -1);
    assert_eq!(bucket_index(1.0, 3), 0);
    assert_eq!(bucket_index(2.0, 3), 8);
    assert_eq!(bucket_index(1.09, 3), 1);
    assert_eq!(bucket_index(3.0, -1), 1);
    assert_eq!(bucket_index(4.0, -1), 1);
    assert_eq!(bucket_index(5.0, -1), 2);
    // Subnormals, and infinity one past the bucket of f64::MAX.
    assert_eq!(bucket_index(5e-324, 0), -1074);
    assert_eq!(
      bucket_index(f64::INFINITY, 0),
      bucket_index(f64::MAX, 0) + 1
    );
    for s in MIN_SCHEMA..=MAX_SCHEMA {
      for v in [1e-300, 0.001, 0.3, 1.0, 7.5, 1e9, 3e-310] {
        let k = bucket_index(v, s);
        let (lo, hi) = (upper_bound(k - 1, s), upper_bound(k, s));
        assert!(
          v > lo * (1.0 - 1e-12) && v <= hi * (1.0 + 1e-12),
          "{v} in {k}@{s}"
        );
      }
    }
  }

  #[test]
  fn reducing_the_schema_equals_indexing_at_the_smaller_schema() {
    for v in [0.001, 0.3, 1.0, 1.5, 2.0, 7.5, 1e9, 0.75] {
      for s in (MIN_SCHEMA + 1)..=MAX_SCHEMA {
        let mut one = NativeSeries {
          schema: s,
          ..Default::default()
        };
        one.positive.insert(bucket_index(v, s), 1.0);
        one.reduce_to(s - 1);
        let k = bucket_index(v, s - 1);
        assert_eq!(
          one.positive.keys().copied().collect::<Vec<_>>(),
          vec![k],
          "{v}@{s}"
        );
      }
    }
  }

  #[test]
  fn spans_keep_small_gaps_inside() {
    let b: BTreeMap<i32, f64> = [(-2, 1.0), (-1, 3.0), (1, 2.0), (5, 1.0)].into();
    let (s, d) = spans(&b);
    assert_eq!(s, vec![(-2, 4), (3, 1)]);
    assert_eq!(d, vec![1, 2, -3, 2, -1]);
  }
}
