//! The napi surface of the ioredis twin (`backend/ioredis.ts`): this process's values of the
//! global registry, merged across its threads, in the shape the Redis protocol sends them — the
//! same snapshot the Rust flusher takes, so both writers send identical field bytes and metadata.
//! Read-only: the twin does all Redis I/O, batching and diffing in TypeScript.

use std::time::{SystemTime, UNIX_EPOCH};

use napi_derive::napi;

use crate::backend::snapshot;
use crate::store;

/// This process's values as the protocol sends them, flattened (one allocation per string).
#[napi(object)]
pub struct ProtocolSnapshot {
  /// `[name, metadata JSON, …]` per metric name (§5).
  pub metas: Vec<String>,
  /// `[name, labels, …]` per series; `labels` is the field's `<labels>` (§4).
  pub series: Vec<String>,
  /// Per series: the count used to detect a reset (it only grows unless the series restarted).
  pub counts: Vec<f64>,
  /// Per series: `[number of counter-like parts, number of gauge-like parts]`, flattened.
  pub shape: Vec<u32>,
  /// The parts, per series its counter-like parts, then its gauge-like parts.
  pub parts: Vec<String>,
  /// The value of each part (not cumulative across resets).
  pub values: Vec<f64>,
}

/// Copies this process's values of the global registry (merged across its threads) in the
/// shape of the Redis protocol (docs/REDIS-PROTOCOL.md §4).
#[napi]
pub fn backend_snapshot() -> ProtocolSnapshot {
  let now = SystemTime::now()
    .duration_since(UNIX_EPOCH)
    .map_or(0.0, |d| d.as_secs_f64() * 1000.0);
  let snap = {
    let s = store::store();
    snapshot::collect(&s, now)
  };
  let mut out = ProtocolSnapshot {
    metas: Vec::with_capacity(snap.metas.len() * 2),
    series: Vec::with_capacity(snap.series.len() * 2),
    counts: Vec::with_capacity(snap.series.len()),
    shape: Vec::with_capacity(snap.series.len() * 2),
    parts: Vec::new(),
    values: Vec::new(),
  };
  for (name, json) in snap.metas {
    out.metas.push(name);
    out.metas.push(json);
  }
  for s in snap.series {
    out.series.push(s.name);
    out.series.push(s.labels);
    out.counts.push(s.count);
    out.shape.push(s.counters.len() as u32);
    out.shape.push(s.gauges.len() as u32);
    for (part, v) in s.counters.into_iter().chain(s.gauges) {
      out.parts.push(part);
      out.values.push(v);
    }
  }
  out
}
