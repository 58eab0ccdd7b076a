//! The reader of protocol §8 as a state machine with no I/O: it says which commands to send
//! next, takes their replies, and ends in the [`ReadData`] that [`super::render`] turns into the
//! exposition. Any transport runs it — redis-rs (`conn.rs`), ioredis (the twin, through
//! `reader_api.rs`), the embedded model's tests — so the read rules exist once.
//!
//! ```text
//!  v2:  round 1  EVALSHA live.lua 1 procs │ HGETALL meta │ HGETALL c      (pipelined)
//!       round 2  HGETALL g:<id1> │ HGETALL g:<id2> │ …                    (pipelined)
//!  v1:  round 1  EVALSHA read.lua 3 meta c procs g:                        (one script)
//! ```
//!
//! Why v2: the v1 script copies every per-process hash into one Lua table and back (16 × 10k
//! gauges: ~55 ms of Redis time, blocking Redis meanwhile); `HGETALL`s write the hashes straight
//! into the reply (~1 ms per 10k fields) and only the tiny live-ids script runs Lua.

use std::sync::OnceLock;

use super::{field, LIVE_LUA, READ_LUA};

/// One reply, as much of RESP as the reader needs.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
  /// A nil reply.
  Nil,
  /// An integer.
  Int(i64),
  /// A bulk or simple string.
  Bulk(String),
  /// An array (a map reply flattened into key, value, …).
  Array(Vec<Reply>),
  /// An error reply (`NOSCRIPT …`, `WRONGTYPE …`).
  Error(String),
}

impl Reply {
  fn into_string(self) -> String {
    match self {
      Reply::Bulk(s) => s,
      Reply::Int(i) => i.to_string(),
      _ => String::new(),
    }
  }
}

/// What the aggregate is rendered from (protocol §8): the hashes as strings, the totals' values
/// as numbers (parsed once, here; the holder of the one-host aggregator fills them from its
/// model's numbers, with no string in between).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ReadData {
  /// Server time, ms.
  pub now_ms: f64,
  /// Metric name → metadata JSON.
  pub meta: Vec<(String, String)>,
  /// Totals: field → value (a value that is not a number is left out, as the render skips it).
  pub totals: Vec<(String, f64)>,
  /// Live processes: (id, their `g:` hash).
  pub procs: Vec<(String, Vec<(String, String)>)>,
}

/// Which read protocol to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
  /// One `EVALSHA read.lua` (kept to read beside v1 readers and to measure against).
  V1,
  /// The live-ids script, then pipelined `HGETALL`s.
  V2,
}

enum Stage {
  /// Round 1 (both versions); `eval` after a `NOSCRIPT`.
  First {
    eval: bool,
  },
  /// v2 round 2: the live processes' hashes.
  Hashes {
    ids: Vec<String>,
  },
  Done,
}

/// A read failed: a reply was an error or not of the expected shape.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadError(pub String);

impl std::fmt::Display for ReadError {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.write_str(&self.0)
  }
}

/// The reader of one prefix, for one read.
pub struct Reader {
  base: String,
  version: Version,
  stage: Stage,
  data: ReadData,
}

/// SHA1s of the live-ids and the v1 read script, as `EVALSHA` wants them.
fn shas() -> &'static (String, String) {
  static S: OnceLock<(String, String)> = OnceLock::new();
  S.get_or_init(|| {
    (
      redis::Script::new(LIVE_LUA).get_hash().to_owned(),
      redis::Script::new(READ_LUA).get_hash().to_owned(),
    )
  })
}

/// The SHA1 of the live-ids script (`live.lua`).
pub fn live_sha() -> &'static str {
  &shas().0
}

/// The SHA1 of the v1 read script (`read.lua`).
pub fn read_sha() -> &'static str {
  &shas().1
}

/// A flat `HGETALL` reply (or a RESP3 map, flattened by the transport) as pairs, moving the strings.
fn pairs(r: Reply, what: &str) -> Result<Vec<(String, String)>, ReadError> {
  match r {
    Reply::Array(items) => {
      let mut out = Vec::with_capacity(items.len() / 2);
      let mut it = items.into_iter();
      while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k.into_string(), v.into_string()));
      }
      Ok(out)
    }
    Reply::Nil => Ok(Vec::new()),
    Reply::Error(e) => Err(ReadError(format!("{what}: {e}"))),
    other => Err(ReadError(format!("{what}: unexpected reply {other:?}"))),
  }
}

/// A totals hash as pairs of field and number.
fn totals(r: Reply, what: &str) -> Result<Vec<(String, f64)>, ReadError> {
  let p = pairs(r, what)?;
  Ok(
    p.into_iter()
      .filter_map(|(k, v)| field::parse(&v).map(|v| (k, v)))
      .collect(),
  )
}

fn now_of(r: Option<Reply>) -> f64 {
  match r {
    Some(Reply::Int(i)) => i as f64,
    Some(Reply::Bulk(s)) => s.parse().unwrap_or(0.0),
    _ => 0.0,
  }
}

fn argv(parts: &[&str]) -> Vec<String> {
  parts.iter().map(|s| (*s).to_owned()).collect()
}

impl Reader {
  /// A v2 read of the keys under `base` (`promsd:{<prefix>}:`).
  pub fn new(base: &str) -> Self {
    Self::with_version(base, Version::V2)
  }

  /// A read in the given protocol version.
  pub fn with_version(base: &str, version: Version) -> Self {
    Reader {
      base: base.to_owned(),
      version,
      stage: Stage::First { eval: false },
      data: ReadData::default(),
    }
  }

  fn key(&self, suffix: &str) -> String {
    format!("{}{suffix}", self.base)
  }

  /// The commands to send next (pipelined, in order), each as its argv; empty once done.
  pub fn commands(&self) -> Vec<Vec<String>> {
    match (&self.stage, self.version) {
      (Stage::First { eval }, Version::V2) => {
        let script = if *eval {
          argv(&["EVAL", LIVE_LUA])
        } else {
          argv(&["EVALSHA", live_sha()])
        };
        let mut first = script;
        first.extend(["1".into(), self.key("procs")]);
        vec![
          first,
          vec!["HGETALL".into(), self.key("meta")],
          vec!["HGETALL".into(), self.key("c")],
        ]
      }
      (Stage::First { eval }, Version::V1) => {
        let mut cmd = if *eval {
          argv(&["EVAL", READ_LUA])
        } else {
          argv(&["EVALSHA", read_sha()])
        };
        cmd.extend([
          "3".into(),
          self.key("meta"),
          self.key("c"),
          self.key("procs"),
          self.key("g:"),
        ]);
        vec![cmd]
      }
      (Stage::Hashes { ids }, _) => ids
        .iter()
        .map(|id| vec!["HGETALL".into(), self.key(&format!("g:{id}"))])
        .collect(),
      (Stage::Done, _) => Vec::new(),
    }
  }

  /// Takes the replies to the last [`Reader::commands`], in order; `Ok(true)` once the read is
  /// complete ([`Reader::finish`]). A `NOSCRIPT` reply asks for the same round again, with `EVAL`.
  pub fn feed(&mut self, replies: Vec<Reply>) -> Result<bool, ReadError> {
    let expected = self.commands().len();
    if replies.len() != expected {
      return Err(ReadError(format!(
        "expected {expected} replies, got {}",
        replies.len()
      )));
    }
    let mut it = replies.into_iter();
    match std::mem::replace(&mut self.stage, Stage::Done) {
      Stage::First { eval } => {
        let script = it.next().expect("counted");
        if let Reply::Error(e) = &script {
          if e.starts_with("NOSCRIPT") && !eval {
            self.stage = Stage::First { eval: true };
            return Ok(false);
          }
          return Err(ReadError(format!("the read script failed: {e}")));
        }
        let Reply::Array(items) = script else {
          return Err(ReadError(format!(
            "unexpected reply of the read script: {script:?}"
          )));
        };
        let mut items = items.into_iter();
        self.data.now_ms = now_of(items.next());
        match self.version {
          Version::V1 => {
            self.data.meta = pairs(items.next().unwrap_or(Reply::Nil), "meta")?;
            self.data.totals = totals(items.next().unwrap_or(Reply::Nil), "totals")?;
            while let (Some(id), Some(h)) = (items.next(), items.next()) {
              let id = id.into_string();
              let h = pairs(h, "a process's gauges")?;
              self.data.procs.push((id, h));
            }
            Ok(true)
          }
          Version::V2 => {
            self.data.meta = pairs(it.next().expect("counted"), "HGETALL meta")?;
            self.data.totals = totals(it.next().expect("counted"), "HGETALL c")?;
            let ids: Vec<String> = items.map(Reply::into_string).collect();
            if ids.is_empty() {
              return Ok(true);
            }
            self.stage = Stage::Hashes { ids };
            Ok(false)
          }
        }
      }
      Stage::Hashes { ids } => {
        self.data.procs.reserve(ids.len());
        for (id, h) in ids.into_iter().zip(it) {
          let h = pairs(h, "HGETALL of a process's gauges")?;
          // A process whose hash expired between the two rounds has died meanwhile: it has no
          // gauges to count, as v1 would have found had it read a moment later.
          if !h.is_empty() {
            self.data.procs.push((id, h));
          }
        }
        Ok(true)
      }
      Stage::Done => Err(ReadError("the read is already complete".into())),
    }
  }

  /// The data read, once [`Reader::feed`] said the read is complete.
  pub fn finish(self) -> ReadData {
    self.data
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn bulk(s: &str) -> Reply {
    Reply::Bulk(s.into())
  }

  fn flat(kv: &[(&str, &str)]) -> Reply {
    Reply::Array(kv.iter().flat_map(|(k, v)| [bulk(k), bulk(v)]).collect())
  }

  #[test]
  fn a_v2_read_asks_for_the_live_ids_then_each_live_process_hash() {
    let mut r = Reader::new("promsd:{t}:");
    let first = r.commands();
    assert_eq!(first.len(), 3);
    assert_eq!(first[0][0], "EVALSHA");
    assert_eq!(first[0][2..], ["1", "promsd:{t}:procs"]);
    assert_eq!(first[1], ["HGETALL", "promsd:{t}:meta"]);
    assert_eq!(first[2], ["HGETALL", "promsd:{t}:c"]);
    let done = r
      .feed(vec![
        Reply::Array(vec![Reply::Int(7), bulk("aa"), bulk("bb")]),
        flat(&[("g", "{}")]),
        flat(&[("c||", "3")]),
      ])
      .unwrap();
    assert!(!done);
    assert_eq!(
      r.commands(),
      [
        ["HGETALL", "promsd:{t}:g:aa"],
        ["HGETALL", "promsd:{t}:g:bb"]
      ]
    );
    assert!(r
      .feed(vec![flat(&[("g||", "1")]), Reply::Array(vec![])])
      .unwrap());
    assert!(r.commands().is_empty());
    let d = r.finish();
    assert_eq!(d.now_ms, 7.0);
    assert_eq!(d.meta, [("g".to_owned(), "{}".to_owned())]);
    assert_eq!(d.totals, [("c||".to_owned(), 3.0)]);
    // bb's hash expired between the rounds: it is left out.
    assert_eq!(
      d.procs,
      [("aa".to_owned(), vec![("g||".to_owned(), "1".to_owned())])]
    );
  }

  #[test]
  fn a_noscript_reply_repeats_the_round_with_eval_and_other_errors_fail_naming_the_cause() {
    let mut r = Reader::new("promsd:{t}:");
    let noscript = Reply::Error("NOSCRIPT No matching script.".into());
    assert!(!r
      .feed(vec![
        noscript.clone(),
        Reply::Array(vec![]),
        Reply::Array(vec![])
      ])
      .unwrap());
    let again = r.commands();
    assert_eq!(again[0][..2], ["EVAL".to_owned(), LIVE_LUA.to_owned()]);
    let e = r
      .feed(vec![noscript, Reply::Array(vec![]), Reply::Array(vec![])])
      .unwrap_err();
    assert_eq!(e.0, "the read script failed: NOSCRIPT No matching script.");
    let mut r = Reader::new("promsd:{t}:");
    let e = r
      .feed(vec![
        Reply::Array(vec![Reply::Int(1)]),
        Reply::Error("WRONGTYPE Operation against a key holding the wrong kind of value".into()),
        Reply::Array(vec![]),
      ])
      .unwrap_err();
    assert_eq!(
      e.0,
      "HGETALL meta: WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    let mut r = Reader::new("promsd:{t}:");
    assert_eq!(r.feed(vec![]).unwrap_err().0, "expected 3 replies, got 0");
  }

  #[test]
  fn a_v1_read_is_one_script_call() {
    let mut r = Reader::with_version("promsd:{t}:", Version::V1);
    let c = r.commands();
    assert_eq!(c.len(), 1);
    assert_eq!(
      c[0][2..],
      [
        "3",
        "promsd:{t}:meta",
        "promsd:{t}:c",
        "promsd:{t}:procs",
        "promsd:{t}:g:"
      ]
    );
    assert!(r
      .feed(vec![Reply::Array(vec![
        Reply::Int(5),
        flat(&[("g", "{}")]),
        flat(&[]),
        bulk("aa"),
        flat(&[("g||", "2 5")]),
      ])])
      .unwrap());
    let d = r.finish();
    assert_eq!(d.now_ms, 5.0);
    assert_eq!(d.procs.len(), 1);
  }
}
