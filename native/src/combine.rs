//! How the `min` and `max` aggregators combine two gauge values, across threads (`merge.rs`) and
//! processes (`backend/render.rs`): as prom-client's `Math.min`/`Math.max` do, a NaN wins
//! (`f64::min`/`max` would drop it, and a fold over one NaN would give ±Inf).

/// The larger of `a` and `b`, NaN when either is.
pub fn max(a: f64, b: f64) -> f64 {
  if a.is_nan() || b.is_nan() {
    f64::NAN
  } else {
    a.max(b)
  }
}

/// The smaller of `a` and `b`, NaN when either is.
pub fn min(a: f64, b: f64) -> f64 {
  if a.is_nan() || b.is_nan() {
    f64::NAN
  } else {
    a.min(b)
  }
}

#[cfg(test)]
mod tests {
  #[test]
  fn a_nan_wins_as_in_prom_client() {
    assert!(super::max(f64::NEG_INFINITY, f64::NAN).is_nan());
    assert!(super::min(1.0, f64::NAN).is_nan());
    assert_eq!(super::max(1.0, 2.0), 2.0);
    assert_eq!(super::min(1.0, 2.0), 1.0);
    let one_nan = [f64::NAN].into_iter();
    assert!(one_nan.fold(f64::NEG_INFINITY, super::max).is_nan());
  }
}
