//! The embedded aggregator: one host, no server to install. The serving process's core listens
//! on a Unix socket and answers the same two scripts as Redis (protocol §7–§8) from an in-memory
//! model, so every process flushes to it with the ordinary flusher (`redis+unix://` URL) and the
//! exactly-once, liveness and expiry rules are those of the Redis backend:
//!
//! ```text
//!  worker ─ flusher ─ EVALSHA apply ─┐
//!  worker ─ flusher ─ EVALSHA apply ─┼─► unix socket ─► Model (model.rs) ◄─ EVALSHA read ─ scrape
//!  primary ─ flusher ────────────────┘
//! ```
//!
//! Unlike client_python's multiprocess directory nothing grows with churn (a dead process's
//! entries expire), a dead worker's gauges stop counting after its heartbeat TTL, and process
//! identity is a random id, so pid reuse is harmless. If the serving process restarts, its new
//! model has a new epoch and live workers resend everything.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::model::Model;

fn read_line(r: &mut impl BufRead) -> std::io::Result<Option<String>> {
  let mut line = String::new();
  if r.read_line(&mut line)? == 0 {
    return Ok(None);
  }
  Ok(Some(line.trim_end_matches(['\r', '\n']).to_owned()))
}

fn bad(msg: &str) -> std::io::Error {
  std::io::Error::new(std::io::ErrorKind::InvalidData, msg.to_owned())
}

/// Reads one command (an array of bulk strings); `None` at end of stream.
fn read_command(r: &mut impl BufRead) -> std::io::Result<Option<Vec<String>>> {
  let Some(head) = read_line(r)? else {
    return Ok(None);
  };
  let n: usize = head
    .strip_prefix('*')
    .and_then(|s| s.parse().ok())
    .ok_or_else(|| bad("expected an array"))?;
  let mut args = Vec::with_capacity(n);
  for _ in 0..n {
    let len: usize = read_line(r)?
      .and_then(|l| l.strip_prefix('$').and_then(|s| s.parse().ok()))
      .ok_or_else(|| bad("expected a bulk string"))?;
    let mut buf = vec![0u8; len + 2];
    r.read_exact(&mut buf)?;
    buf.truncate(len);
    args.push(String::from_utf8(buf).map_err(|_| bad("not UTF-8"))?);
  }
  Ok(Some(args))
}

fn serve(stream: UnixStream, model: Arc<Mutex<Model>>) {
  let Ok(mut w) = stream.try_clone() else {
    return;
  };
  let mut r = BufReader::new(stream);
  let mut out = Vec::new();
  while let Ok(Some(args)) = read_command(&mut r) {
    out.clear();
    model
      .lock()
      .unwrap_or_else(|e| e.into_inner())
      .command(&args)
      .write(&mut out);
    if w.write_all(&out).is_err() {
      return;
    }
  }
}

/// A running aggregator.
pub struct Aggregator {
  path: String,
  stop: Arc<AtomicBool>,
  thread: Option<JoinHandle<()>>,
}

impl Aggregator {
  /// Listens on `path` (a stale socket file there is replaced).
  pub fn start(path: &str) -> std::io::Result<Aggregator> {
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path)?;
    let stop = Arc::new(AtomicBool::new(false));
    let model = Arc::new(Mutex::new(Model::default()));
    let flag = stop.clone();
    let thread = std::thread::Builder::new()
      .name("promsd-aggregator".into())
      .spawn(move || {
        for conn in listener.incoming() {
          if flag.load(Ordering::Acquire) {
            return;
          }
          if let Ok(c) = conn {
            let m = model.clone();
            let _ = std::thread::Builder::new()
              .name("promsd-aggregator-conn".into())
              .spawn(move || serve(c, m));
          }
        }
      })?;
    Ok(Aggregator {
      path: path.to_owned(),
      stop,
      thread: Some(thread),
    })
  }

  /// Stops listening and removes the socket file. Safe to call twice.
  pub fn stop(&mut self) {
    if let Some(t) = self.thread.take() {
      self.stop.store(true, Ordering::Release);
      let _ = UnixStream::connect(&self.path); // wakes accept()
      let _ = t.join();
      let _ = std::fs::remove_file(&self.path);
    }
  }
}

impl Drop for Aggregator {
  fn drop(&mut self) {
    self.stop();
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
  }

  #[test]
  fn resp_commands_parse() {
    let mut r = BufReader::new(&b"*2\r\n$4\r\nPING\r\n$3\r\na\nb\r\n"[..]);
    assert_eq!(read_command(&mut r).unwrap(), Some(s(&["PING", "a\nb"])));
    assert_eq!(read_command(&mut r).unwrap(), None);
  }
}
