//! Error-storm throttling: errors of one cause within a window are logged once; when the window
//! ends with repeats, one line says how many were suppressed (with the latest message). A cause
//! is what an operator fixes (`auth`, `dns`, ... or a refused family's name), not the exact
//! text, so a storm whose words vary (connect failures, then flush failures) is still one storm.

use std::collections::HashMap;
use std::time::{Duration, Instant};

struct Entry {
  since: Instant,
  suppressed: u64,
  last: String,
}

/// Per-cause windows.
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

  fn summary(n: u64, secs: f64, msg: &str) -> String {
    format!(
      "suppressed {n} similar error{} in the last {secs:.0}s: {msg}",
      if n == 1 { "" } else { "s" },
    )
  }

  /// The lines to log for an occurrence of `msg`, of cause `cause`.
  pub fn error(&mut self, cause: &str, msg: &str, now: Instant) -> Vec<String> {
    let window = self.window;
    match self.entries.get_mut(cause) {
      Some(e) if now.duration_since(e.since) < window => {
        e.suppressed += 1;
        msg.clone_into(&mut e.last);
        Vec::new()
      }
      Some(e) => {
        // A storm that goes on is one summary per window (this occurrence included); an error
        // that comes back after a quiet window is logged again.
        let n = e.suppressed;
        e.since = now;
        e.suppressed = 0;
        msg.clone_into(&mut e.last);
        if n > 0 {
          vec![Self::summary(n + 1, window.as_secs_f64(), msg)]
        } else {
          vec![msg.to_owned()]
        }
      }
      None => {
        self.entries.insert(
          cause.to_owned(),
          Entry {
            since: now,
            suppressed: 0,
            last: msg.to_owned(),
          },
        );
        vec![msg.to_owned()]
      }
    }
  }

  /// Summaries of windows that ended (call periodically).
  pub fn tick(&mut self, now: Instant) -> Vec<String> {
    let window = self.window;
    let mut out = Vec::new();
    self.entries.retain(|_, e| {
      if now.duration_since(e.since) < window {
        return true;
      }
      if e.suppressed > 0 {
        out.push(Self::summary(e.suppressed, window.as_secs_f64(), &e.last));
        e.since = now;
        e.suppressed = 0;
        return true;
      }
      false
    });
    out
  }

  /// Emits every pending summary now (recovery, close) and forgets every storm.
  pub fn drain(&mut self) -> Vec<String> {
    let mut out = Vec::new();
    for (_, e) in std::mem::take(&mut self.entries) {
      if e.suppressed > 0 {
        out.push(Self::summary(
          e.suppressed,
          e.since.elapsed().as_secs_f64(),
          &e.last,
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
    assert_eq!(t.error("refused", "down", t0).len(), 1);
    for i in 1..100 {
      assert!(t
        .error("refused", "down", t0 + Duration::from_millis(i * 50))
        .is_empty());
    }
    assert!(t.tick(t0 + Duration::from_secs(9)).is_empty());
    assert_eq!(
      t.tick(t0 + Duration::from_secs(10)),
      vec!["suppressed 99 similar errors in the last 10s: down".to_string()]
    );
    assert!(t.tick(t0 + Duration::from_secs(21)).is_empty());
    assert_eq!(
      t.error("refused", "down", t0 + Duration::from_secs(30)),
      vec!["down".to_string()]
    );
    t.error("refused", "down", t0 + Duration::from_secs(31));
    assert_eq!(
      t.error("refused", "down", t0 + Duration::from_secs(41)),
      vec!["suppressed 2 similar errors in the last 10s: down".to_string()]
    );
    assert_eq!(
      t.error("auth", "other", t0 + Duration::from_secs(30)).len(),
      1
    );
  }

  #[test]
  fn messages_of_one_cause_are_one_storm_summarised_with_the_latest() {
    let mut t = Throttle::new(Duration::from_secs(10));
    let t0 = Instant::now();
    assert_eq!(
      t.error("auth", "cannot connect: auth", t0),
      vec!["cannot connect: auth".to_string()]
    );
    assert!(t
      .error("auth", "flush failed: auth", t0 + Duration::from_secs(1))
      .is_empty());
    assert_eq!(
      t.error(
        "timeout",
        "cannot connect: timeout",
        t0 + Duration::from_secs(2)
      ),
      vec!["cannot connect: timeout".to_string()]
    );
    assert_eq!(
      t.tick(t0 + Duration::from_secs(10)),
      vec!["suppressed 1 similar error in the last 10s: flush failed: auth".to_string()]
    );
  }
}
