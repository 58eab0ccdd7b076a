//! Wall-clock time in the unit the core works in (Unix milliseconds, fractional).

use std::time::{SystemTime, UNIX_EPOCH};

/// Unix time in milliseconds, with sub-millisecond precision; 0 before 1970.
pub fn now_ms() -> f64 {
  SystemTime::now()
    .duration_since(UNIX_EPOCH)
    .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}
