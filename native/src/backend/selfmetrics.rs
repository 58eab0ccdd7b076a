//! The backend's own metrics (opt-in, `selfMetrics`): how this process's flushes to the
//! aggregate go. Kept by the flusher thread and appended to the scrapes it renders, so they are
//! this process's view (a dead Redis shows as `promsd_backend_up 0`, not as a missing series).

use crate::store::{Aggregator, FamilyDef, Kind};

use super::conn::Cause;
use super::render::Family;

/// Upper bounds of the flush-duration histogram, seconds (a flush is ~1 ms on loopback; the
/// connect timeout bounds it above).
pub const FLUSH_BUCKETS: [f64; 9] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 1.0, 10.0];

/// What the flusher counts.
#[derive(Debug, Default, Clone)]
pub struct Stats {
  /// Observations per bucket of [`FLUSH_BUCKETS`] (not cumulative), then above the last.
  pub flush_buckets: [u64; FLUSH_BUCKETS.len() + 1],
  /// Seconds spent flushing.
  pub flush_seconds: f64,
  /// Failed flushes per [`Cause::ALL`] index.
  pub errors: [u64; Cause::ALL.len()],
  /// The last flush succeeded.
  pub up: bool,
  /// Series this process sends.
  pub series: usize,
  /// Families the aggregate refuses.
  pub refused: usize,
}

impl Stats {
  /// Records one flush of `seconds`, failed with `cause` or not.
  pub fn flushed(&mut self, seconds: f64, cause: Option<Cause>) {
    let i = FLUSH_BUCKETS
      .iter()
      .position(|b| seconds <= *b)
      .unwrap_or(FLUSH_BUCKETS.len());
    self.flush_buckets[i] += 1;
    self.flush_seconds += seconds;
    self.up = cause.is_none();
    if let Some(c) = cause {
      self.errors[Cause::ALL.iter().position(|x| *x == c).unwrap_or(0)] += 1;
    }
  }

  /// The families, in name order.
  pub fn families(&self) -> Vec<Family> {
    let def = |name: &str, help: &str, kind: Kind, labels: &[&str], buckets: &[f64]| FamilyDef {
      name: name.into(),
      help: help.into(),
      kind,
      label_names: labels.iter().map(|s| (*s).to_owned()).collect(),
      buckets: buckets.to_vec(),
      quantiles: vec![],
      max_age_ms: f64::INFINITY,
      age_buckets: 1,
      aggregator: Aggregator::Sum,
      native: None,
    };
    let one = |d: FamilyDef, v: f64| Family {
      def: d,
      labels: vec![String::new()],
      values: vec![v],
      native: vec![],
    };
    let mut flush = Family {
      def: def(
        "promsd_backend_flush_duration_seconds",
        "Time one flush of this process to the aggregate took, failed ones included.",
        Kind::Histogram,
        &[],
        &FLUSH_BUCKETS,
      ),
      labels: vec![String::new()],
      values: self.flush_buckets.iter().map(|n| *n as f64).collect(),
      native: vec![],
    };
    flush.values.push(self.flush_seconds);
    vec![
      flush,
      Family {
        def: def(
          "promsd_backend_flush_errors_total",
          "Flushes of this process to the aggregate that failed, by cause.",
          Kind::Counter,
          &["cause"],
          &[],
        ),
        labels: Cause::ALL.iter().map(|c| c.as_str().to_owned()).collect(),
        values: self.errors.iter().map(|n| *n as f64).collect(),
        native: vec![],
      },
      one(
        def(
          "promsd_backend_refused_families",
          "Metric families of this process the aggregate refuses: their definition differs from one a live process holds.",
          Kind::Gauge,
          &[],
          &[],
        ),
        self.refused as f64,
      ),
      one(
        def(
          "promsd_backend_series",
          "Series this process sends to the aggregate.",
          Kind::Gauge,
          &[],
          &[],
        ),
        self.series as f64,
      ),
      one(
        def(
          "promsd_backend_up",
          "1 when the last flush of this process to the aggregate succeeded, else 0.",
          Kind::Gauge,
          &[],
          &[],
        ),
        if self.up { 1.0 } else { 0.0 },
      ),
    ]
  }
}
