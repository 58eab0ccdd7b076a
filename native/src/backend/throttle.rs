//! Error-storm throttling: the same error within a window is logged once; when the window ends
//! with repeats, one line says how many were suppressed.

use std::collections::HashMap;
use std::time::{Duration, Instant};

struct Entry {
  since: Instant,
  suppressed: u64,
}

/// Per-message windows.
pub struct Throttle {
  window: Duration,
  entries: HashMap<String, Entry>,
}

impl Throttle {
  /// A throttle with `window`.
  pub fn new(window: Duration) -> Self {
    Throttle {
      window,
      entries: HashMap::new(),
    }
  }

  fn summary(&self, n: u64, msg: &str) -> String {
    format!(
      "suppressed {n} similar error{} in the last {}s: {msg}",
      if n == 1 { "" } else { "s" },
      self.window.as_secs_f64()
    )
  }

  /// The lines to log for an occurrence of `msg`.
  pub fn error(&mut self, msg: &str, now: Instant) -> Vec<String> {
    let window = self.window;
    match self.entries.get_mut(msg) {
      Some(e) if now.duration_since(e.since) < window => {
        e.suppressed += 1;
        Vec::new()
      }
      Some(e) => {
        // A storm that goes on is one summary per window (this occurrence included); an error
        // that comes back after a quiet window is logged again.
        let n = e.suppressed;
        e.since = now;
        e.suppressed = 0;
        if n > 0 {
          vec![self.summary(n + 1, msg)]
        } else {
          vec![msg.to_owned()]
        }
      }
      None => {
        self.entries.insert(
          msg.to_owned(),
          Entry {
            since: now,
            suppressed: 0,
          },
        );
        vec![msg.to_owned()]
      }
    }
  }

  /// Summaries of windows that ended (call periodically and on recovery).
  pub fn tick(&mut self, now: Instant) -> Vec<String> {
    let mut out = Vec::new();
    let window = self.window;
    let mut ended: Vec<(String, u64)> = Vec::new();
    self.entries.retain(|msg, e| {
      if now.duration_since(e.since) < window {
        return true;
      }
      if e.suppressed > 0 {
        ended.push((msg.clone(), e.suppressed));
        e.since = now;
        e.suppressed = 0;
        return true;
      }
      false
    });
    for (msg, n) in ended {
      out.push(self.summary(n, &msg));
    }
    out
  }

  /// Emits every pending summary now (recovery, close).
  pub fn drain(&mut self) -> Vec<String> {
    let mut out = Vec::new();
    for (msg, e) in std::mem::take(&mut self.entries) {
      if e.suppressed > 0 {
        out.push(format!(
          "suppressed {} similar error{} in the last {:.0}s: {msg}",
          e.suppressed,
          if e.suppressed == 1 { "" } else { "s" },
          e.since.elapsed().as_secs_f64()
        ));
      }
    }
    out
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn a_storm_is_one_line_then_one_summary_per_window() {
    let mut t = Throttle::new(Duration::from_secs(10));
    let t0 = Instant::now();
    assert_eq!(t.error("down", t0).len(), 1);
    for i in 1..100 {
      assert!(t
        .error("down", t0 + Duration::from_millis(i * 50))
        .is_empty());
    }
    assert!(t.tick(t0 + Duration::from_secs(9)).is_empty());
    assert_eq!(
      t.tick(t0 + Duration::from_secs(10)),
      vec!["suppressed 99 similar errors in the last 10s: down".to_string()]
    );
    assert!(t.tick(t0 + Duration::from_secs(21)).is_empty());
    assert_eq!(
      t.error("down", t0 + Duration::from_secs(30)),
      vec!["down".to_string()]
    );
    t.error("down", t0 + Duration::from_secs(31));
    assert_eq!(
      t.error("down", t0 + Duration::from_secs(41)),
      vec!["suppressed 2 similar errors in the last 10s: down".to_string()]
    );
    assert_eq!(t.error("other", t0 + Duration::from_secs(30)).len(), 1);
  }
}
