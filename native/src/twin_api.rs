//! The napi surface of the ioredis twin (`backend/ioredis.ts`): the core's protocol writer
//! (protocol §7, `backend/writer.rs`) and error throttle as objects, so the twin is ioredis
//! I/O over the same code the Rust flusher runs. The snapshot of this process's values is taken
//! here, inside the core, and never crosses to JS; what crosses are the ready argv of the apply
//! calls and, back, Redis's replies.

use std::time::{Duration, Instant};

use napi::bindgen_prelude::*;
use napi::JsValue;
use napi_derive::napi;

use crate::backend::conn::{self, ApplyArgs, Keys};
use crate::backend::flusher::random_hex;
use crate::backend::selfmetrics::Stats;
use crate::backend::throttle::Throttle;
use crate::backend::writer::{Batch, Next, Refusal, Status as ApplyStatus, Writer};
use crate::backend::{field, snapshot, APPLY_LUA, READ_LUA};
use crate::{clock, store};

/// A Lua script of the protocol and its SHA1 (what EVALSHA names).
#[napi(object)]
pub struct LuaScript {
  /// The script, verbatim.
  pub source: String,
  /// Its SHA1, hex.
  pub sha: String,
}

/// The protocol's two scripts.
#[napi(object)]
pub struct ProtocolScripts {
  /// `apply.lua` (§7).
  pub apply: LuaScript,
  /// `read.lua` (§8).
  pub read: LuaScript,
}

/// The apply and read scripts the core embeds, with their SHA1s.
#[napi]
pub fn protocol_scripts() -> ProtocolScripts {
  ProtocolScripts {
    apply: LuaScript {
      source: APPLY_LUA.to_owned(),
      sha: conn::apply_sha().to_owned(),
    },
    read: LuaScript {
      source: READ_LUA.to_owned(),
      sha: conn::read_sha().to_owned(),
    },
  }
}

/// What a `ProtocolWriter` needs to know about this process.
#[napi(object)]
pub struct ProtocolWriterOptions {
  /// Namespace (checked by JS).
  pub prefix: String,
  /// Value of the `process` label of `perProcess` gauges.
  pub process_label: String,
  /// Host name for the process info.
  pub host: String,
  /// The writing library, for the process info (`promsd-ioredis 0.1.0`).
  pub lib: String,
  /// Heartbeat TTL, ms.
  pub live_ms: u32,
  /// Retention of the per-process `last_applied` records, ms.
  pub retain_ms: u32,
}

/// What to do after the replies of a batch.
#[napi(object)]
pub struct ApplyOutcome {
  /// `done` until the next interval; `again`: flush again at once, resending (after `epoch` or
  /// `lost`); `more`: flush again at once, nothing was lost (a refusal cut the batch short, or
  /// families accepted now have series to send).
  pub next: String,
  /// Index of the first reply that was not the apply script's (`[status, epoch, time]`); the
  /// replies from there on were not recorded.
  pub unexpected: Option<u32>,
  /// Messages of families the aggregate newly refused (protocol §5): log each once, at `error`.
  pub refused: Vec<String>,
  /// Families refused before and accepted now: log each once, at `info`.
  pub accepted: Vec<String>,
  /// How many families are refused now.
  pub refused_families: u32,
}

/// The writer of one process (protocol §7): takes this process's snapshot, turns it into apply
/// calls, and records Redis's replies. One batch at a time: `batch()`, then `onReplies()` with
/// what came back.
#[napi]
pub struct ProtocolWriter {
  writer: Writer,
  keys: Keys,
  id: String,
  info: String,
  live_ms: u64,
  retain_ms: u64,
  pending: Option<Batch>,
  stats: Stats,
}

#[napi]
impl ProtocolWriter {
  /// A writer for a new process id (32 random hex digits) under `prefix`.
  #[napi(constructor)]
  pub fn new(options: ProtocolWriterOptions) -> Self {
    ProtocolWriter {
      writer: Writer::new(),
      keys: Keys::new(&options.prefix),
      id: random_hex(),
      info: field::process_info(&options.process_label, &options.host, &options.lib),
      live_ms: options.live_ms.into(),
      retain_ms: options.retain_ms.into(),
      pending: None,
      stats: Stats::default(),
    }
  }

  /// This process's id in Redis.
  #[napi(getter)]
  pub fn process_id(&self) -> String {
    self.id.clone()
  }

  /// The process info JSON written to this process's gauges hash (§6).
  #[napi(getter)]
  pub fn info(&self) -> String {
    self.info.clone()
  }

  /// The epoch of the last `ok` reply (`''` before).
  #[napi(getter)]
  pub fn epoch(&self) -> String {
    self.writer.epoch().to_owned()
  }

  /// Takes this process's snapshot of the global registry (merged across its threads) in.
  #[napi]
  pub fn update(&mut self) {
    let snap = {
      let s = store::store();
      snapshot::collect(&s, clock::now_ms())
    };
    self.stats.series = snap.series.len();
    self.writer.update(snap);
  }

  /// The apply calls to send now, one per chunk, each the argv of `EVALSHA`: the apply
  /// script's SHA1, `6`, the six keys, then the arguments. Replaces any earlier batch whose
  /// replies were not given.
  #[napi]
  pub fn batch(&mut self) -> Vec<Vec<String>> {
    let batch = self.writer.batch();
    let keys = conn::apply_keys(&self.keys, &self.id);
    let calls = batch
      .chunks
      .iter()
      .map(|chunk| {
        let candidate = random_hex();
        let args = ApplyArgs {
          id: &self.id,
          epoch: &batch.epoch,
          candidate: &candidate,
          seed: batch.seed,
          live_ms: self.live_ms,
          retain_ms: self.retain_ms,
          info: &self.info,
        };
        let argv = conn::apply_argv(&args, chunk);
        let mut call = Vec::with_capacity(8 + argv.len());
        call.push(conn::apply_sha().to_owned());
        call.push("6".to_owned());
        call.extend(keys.iter().cloned());
        call.extend(argv);
        call
      })
      .collect();
    self.pending = Some(batch);
    calls
  }

  /// Records the replies of the last batch's calls, in order (a prefix of them when a call
  /// failed: the calls without a reply are sent again by a later batch). Send the calls one at a
  /// time and stop after a reply that refuses families (its fourth element is a non-empty array):
  /// the later calls were built before the refusal was known and still carry those families'
  /// items; the outcome is then `more`, and the next batch holds them back.
  #[napi(ts_args_type = "replies: unknown[]")]
  pub fn on_replies(&mut self, replies: Vec<Unknown>) -> Result<ApplyOutcome> {
    let Some(mut batch) = self.pending.take() else {
      return Err(Error::new(
        Status::InvalidArg,
        "promsd: onReplies() without a batch()".to_owned(),
      ));
    };
    let mut parsed = Vec::with_capacity(replies.len());
    let mut unexpected = None;
    let mut refused = Vec::new();
    let mut accepted = Vec::new();
    let mut cut = false;
    for (i, r) in replies.iter().enumerate() {
      let Some((status, epoch, refusals)) = apply_reply(r)? else {
        unexpected = Some(i as u32);
        break;
      };
      if status == ApplyStatus::Ok && i < batch.chunks.len() {
        let news = self.writer.on_refused(&batch.chunks[i], &refusals);
        refused.extend(news.refused);
        accepted.extend(news.accepted);
        if !refusals.is_empty() {
          // The script skipped the refused families' items: they must not be acknowledged.
          self.writer.prune(&mut batch.chunks[i]);
          cut = i + 1 < batch.chunks.len();
        }
      }
      parsed.push((status, epoch));
      if cut {
        break;
      }
    }
    let next = match self.writer.on_replies(&batch, &parsed) {
      Next::Again => "again",
      // Nothing was lost: the rest of the batch, or the series of families accepted now, go
      // out at once.
      Next::Done if cut || !accepted.is_empty() => "more",
      Next::Done => "done",
    };
    self.stats.refused = self.writer.refused().len();
    Ok(ApplyOutcome {
      next: next.to_owned(),
      unexpected,
      refused,
      accepted,
      refused_families: self.writer.refused().len() as u32,
    })
  }

  /// Records one flush for the backend's own metrics (`selfMetrics`): its duration, and the
  /// cause it failed with (a name `nameRedisFailure` gives), if it failed.
  #[napi]
  pub fn record_flush(&mut self, seconds: f64, cause: Option<String>) {
    let cause = cause.map(|c| {
      conn::Cause::ALL
        .into_iter()
        .find(|x| x.as_str() == c)
        .unwrap_or(conn::Cause::Other)
    });
    self.stats.flushed(seconds, cause);
  }

  /// The counts the backend's own metrics are rendered from.
  pub(crate) fn stats(&self) -> &Stats {
    &self.stats
  }

  /// The commands of `close()` (name, then arguments): this process's heartbeat and gauges go.
  #[napi]
  pub fn goodbye(&self) -> Vec<Vec<String>> {
    conn::goodbye_commands(&self.keys, &self.id).into()
  }
}

/// `[status, epoch, time, refused]` as ioredis returns an apply reply (`refused`: `[name, key,
/// stored JSON, …]`, protocol §5), or `None` for anything else.
fn apply_reply(r: &Unknown) -> Result<Option<(ApplyStatus, String, Vec<Refusal>)>> {
  if !r.is_array()? {
    return Ok(None);
  }
  // SAFETY: `r` is an array, checked above.
  let a: Array = unsafe { r.cast()? };
  let text = |v: Option<Unknown>| -> Result<Option<String>> {
    match v {
      Some(v) if v.get_type()? != ValueType::Undefined => {
        Ok(Some(v.coerce_to_string()?.into_utf8()?.into_owned()?))
      }
      _ => Ok(None),
    }
  };
  let Some(status) = text(a.get::<Unknown>(0)?)?
    .as_deref()
    .and_then(conn::apply_status)
  else {
    return Ok(None);
  };
  let mut refused = Vec::new();
  if let Some(list) = a.get::<Unknown>(3)? {
    if list.is_array()? {
      // SAFETY: checked above.
      let list: Array = unsafe { list.cast()? };
      let mut i = 0;
      while i + 2 < list.len() {
        refused.push(Refusal {
          name: text(list.get::<Unknown>(i)?)?.unwrap_or_default(),
          key: text(list.get::<Unknown>(i + 1)?)?.unwrap_or_default(),
          stored: text(list.get::<Unknown>(i + 2)?)?.unwrap_or_default(),
        });
        i += 3;
      }
    }
  }
  Ok(Some((
    status,
    text(a.get::<Unknown>(1)?)?.unwrap_or_default(),
    refused,
  )))
}

/// Error-storm throttling, the rule the Rust flusher logs by (`backend/throttle.rs`): the
/// same message within a window is logged once; when the window ends with repeats, one line says
/// how many were suppressed.
#[napi]
pub struct ErrorThrottle {
  inner: Throttle,
}

#[napi]
impl ErrorThrottle {
  /// A throttle with a window of `window_ms`.
  #[napi(constructor)]
  pub fn new(window_ms: u32) -> Self {
    ErrorThrottle {
      inner: Throttle::new(Duration::from_millis(window_ms.into())),
    }
  }

  /// The lines to log (at `error`, summaries starting `suppressed ` at `warn`) for an
  /// occurrence of `message` now; occurrences of one `cause` (default: the message itself) are
  /// one storm.
  #[napi]
  pub fn error(&mut self, message: String, cause: Option<String>) -> Vec<String> {
    let cause = cause.as_deref().unwrap_or(&message);
    self.inner.error(cause, &message, Instant::now())
  }

  /// Summaries of windows that ended (call periodically); log at `warn`.
  #[napi]
  pub fn tick(&mut self) -> Vec<String> {
    self.inner.tick(Instant::now())
  }

  /// Every pending summary now (recovery, close); log at `warn`.
  #[napi]
  pub fn drain(&mut self) -> Vec<String> {
    self.inner.drain()
  }
}

/// A failure of the ioredis twin, named by the rule the Rust backends use.
#[napi(object)]
pub struct NamedFailure {
  /// `dns`, `auth`, `tls`, `timeout`, `refused`, `closed`, `config`, `server` or `other`.
  pub cause: String,
  /// `<cause>: <what it means> (<detail>)`, as the Rust backends log it.
  pub message: String,
}

/// Names the cause of an ioredis error from its `code` (Node's or Redis's) and message, by the
/// one rule (`conn::classify_text`); `tls` when the target is `rediss://`, `timeoutMs` for the
/// detail of a timeout.
#[napi]
pub fn name_redis_failure(
  code: Option<String>,
  message: String,
  tls: bool,
  timeout_ms: u32,
) -> NamedFailure {
  let cause = conn::classify_text(code.as_deref(), &message, tls);
  let detail = match cause {
    conn::Cause::Timeout => format!("{timeout_ms} ms"),
    _ => message,
  };
  NamedFailure {
    cause: cause.as_str().to_owned(),
    message: conn::describe(cause, &detail),
  }
}
