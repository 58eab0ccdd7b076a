//! Summary quantiles from a DDSketch-style log-bucketed histogram.
//!
//! JS maps an observation `v > 0` to bin `ceil(ln(v) / ln(γ))` with γ = (1+α)/(1−α), α = 1 %
//! relative accuracy; negative values use the same bins of `−v`, zero has a counter of its own.
//! Bins are plain counts, so sketches from any number of threads (and, later, processes) merge
//! by addition and the merged quantiles keep the 1 % guarantee — unlike averaging per-worker
//! quantiles, which is what prom-client's cluster mode does.

use std::collections::BTreeMap;

use crate::store::{FamilyDef, Page, Store, PAGE_BINS};

/// Relative accuracy of every reported quantile.
pub const ALPHA: f64 = 0.01;

/// Offset that orders negative bins before zero and positive bins after it.
pub const SIDE: i64 = 1 << 20;

fn gamma() -> f64 {
  (1.0 + ALPHA) / (1.0 - ALPHA)
}

/// The value a bin stands for (the one with the smallest worst-case relative error).
pub fn bin_value(index: i32) -> f64 {
  let g = gamma();
  2.0 * g.powi(index) / (g + 1.0)
}

/// Adds the bins of the series' live windows into `bins`, keyed in value order.
/// `raw` is the series' slots: `[count, sum, (window start ms, zero count) × age buckets]`.
pub fn collect_bins(
  store: &Store,
  def: &FamilyDef,
  pages: &[Page],
  raw: &[f64],
  now_ms: f64,
  bins: &mut BTreeMap<i64, f64>,
) {
  let live = |w: u32| {
    let start = raw[2 + 2 * w as usize];
    start > 0.0 && now_ms - start < def.max_age_ms
  };
  for w in 0..def.age_buckets {
    if live(w) {
      let zero = raw[3 + 2 * w as usize];
      if zero != 0.0 {
        *bins.entry(0).or_default() += zero;
      }
    }
  }
  for p in pages.iter().filter(|p| live(p.window)) {
    for i in 0..PAGE_BINS {
      let c = store.slot(p.chunk, p.offset as usize + i);
      if c != 0.0 {
        let idx = (p.base + i as i32) as i64;
        let key = if p.negative { -SIDE - idx } else { SIDE + idx };
        *bins.entry(key).or_default() += c;
      }
    }
  }
}

/// The smallest and largest value observed in the series' live windows (`(+∞, −∞)` when none).
/// `raw` ends with `(min, max) × age buckets` after the window slots (see [`collect_bins`]).
pub fn window_range(def: &FamilyDef, raw: &[f64], now_ms: f64) -> (f64, f64) {
  let a = def.age_buckets as usize;
  let mut range = (f64::INFINITY, f64::NEG_INFINITY);
  if raw.len() < 2 + 4 * a {
    return range;
  }
  for w in 0..a {
    let start = raw[2 + 2 * w];
    if start > 0.0 && now_ms - start < def.max_age_ms {
      range.0 = range.0.min(raw[2 + 2 * a + 2 * w]);
      range.1 = range.1.max(raw[3 + 2 * a + 2 * w]);
    }
  }
  range
}

/// [`quantile`] kept inside the observed range: exact when the window saw one distinct value,
/// never below the smallest or above the largest observation (a bin's representative value
/// can lie up to 1 % outside it).
pub fn quantile_in(bins: &BTreeMap<i64, f64>, q: f64, range: (f64, f64)) -> f64 {
  let v = quantile(bins, q);
  if v.is_nan() || range.0 > range.1 {
    return v;
  }
  v.clamp(range.0, range.1)
}

/// The `q` quantile of merged bins; NaN when there were no observations in the window.
pub fn quantile(bins: &BTreeMap<i64, f64>, q: f64) -> f64 {
  let total: f64 = bins.values().sum();
  if total <= 0.0 {
    return f64::NAN;
  }
  let rank = q * (total - 1.0);
  let mut cum = 0.0;
  for (&key, &c) in bins {
    cum += c;
    if cum > rank {
      return key_value(key);
    }
  }
  bins.keys().next_back().map_or(f64::NAN, |&k| key_value(k))
}

fn key_value(key: i64) -> f64 {
  if key == 0 {
    0.0
  } else if key > 0 {
    bin_value((key - SIDE) as i32)
  } else {
    -bin_value((-key - SIDE) as i32)
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn index(v: f64) -> i32 {
    (v.ln() / gamma().ln()).ceil() as i32
  }

  #[test]
  fn quantiles_are_within_one_percent() {
    let mut bins = BTreeMap::new();
    for v in 1..=1000 {
      *bins.entry(SIDE + index(v as f64) as i64).or_insert(0.0) += 1.0;
    }
    for (q, want) in [(0.5, 500.5), (0.9, 900.1), (0.99, 990.01)] {
      let got = quantile(&bins, q);
      assert!(
        (got - want).abs() / want <= ALPHA + 1e-3,
        "q={q} got={got} want={want}"
      );
    }
  }

  #[test]
  fn negatives_sort_before_zero_and_positives() {
    let mut bins = BTreeMap::new();
    bins.insert(-SIDE - index(5.0) as i64, 1.0);
    bins.insert(0, 1.0);
    bins.insert(SIDE + index(5.0) as i64, 1.0);
    assert!((quantile(&bins, 0.0) + 5.0).abs() < 0.05);
    assert_eq!(quantile(&bins, 0.5), 0.0);
    assert!((quantile(&bins, 1.0) - 5.0).abs() < 0.05);
  }

  #[test]
  fn quantiles_stay_inside_the_observed_range() {
    let mut bins = BTreeMap::new();
    *bins.entry(SIDE + index(100.0) as i64).or_insert(0.0) += 1.0;
    assert_eq!(quantile_in(&bins, 0.5, (100.0, 100.0)), 100.0);
    *bins.entry(SIDE + index(3.0) as i64).or_insert(0.0) += 1.0;
    for q in [0.5, 0.9, 0.99] {
      assert_eq!(quantile_in(&bins, q, (3.0, 100.0)), 3.0);
    }
    assert_eq!(quantile_in(&bins, 1.0, (3.0, 100.0)), 100.0);
  }

  #[test]
  fn empty_sketch_gives_nan() {
    assert!(quantile(&BTreeMap::new(), 0.5).is_nan());
  }
}
