//! The flusher thread: flushes every interval and on request, and stops on `close`. The JS
//! thread only ever sends it a command and, for a Promise, waits on a libuv pool thread for the
//! reply. Scrapes and direct renders (`backend.render()`) do not queue on it: they flush and
//! render through its state ([`Shared`], which holds the connection) on their own pool thread.
//!
//! Shutdown order (safe to run twice): `close` flushes (bounded by the caller's timeout),
//! removes the process's heartbeat and gauges, replies, and the thread returns; dropping the
//! command sender has the same effect minus the reply.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::encoder::{EncodeOptions, Format};
use crate::store;

use super::conn::{self, ApplyArgs, Cause, Conn, Failure, Keys, Target};
use super::render;
use super::selfmetrics::Stats;
use super::snapshot;
use super::throttle::Throttle;
use super::writer::{Next, RefusalNews, Status, Writer};

/// Log levels of the user's logger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
  /// debug
  Debug,
  /// info
  Info,
  /// warn
  Warn,
  /// error
  Error,
}

impl Level {
  /// The logger method's name.
  pub fn as_str(self) -> &'static str {
    match self {
      Level::Debug => "debug",
      Level::Info => "info",
      Level::Warn => "warn",
      Level::Error => "error",
    }
  }
}

/// Where log lines go.
pub type LogFn = Box<dyn Fn(Level, String) + Send>;

/// Flusher configuration.
pub struct Config {
  /// Where flushes go: a Redis node or cluster, or the embedded aggregator's socket.
  pub target: Target,
  /// Namespace.
  pub prefix: String,
  /// Process id (32 hex).
  pub id: String,
  /// Process info JSON (§6).
  pub info: String,
  /// Flush interval.
  pub interval: Duration,
  /// Heartbeat TTL.
  pub live_ms: u64,
  /// Bookkeeping retention.
  pub retain_ms: u64,
  /// Error-throttle window.
  pub throttle: Duration,
  /// Append the backend's own metrics (`promsd_backend_*`) to rendered scrapes.
  pub self_metrics: bool,
}

/// Rendering options.
pub struct RenderOpts {
  /// OpenMetrics.
  pub open_metrics: bool,
  /// Default labels.
  pub default_labels: Vec<(String, String)>,
  /// The protobuf format instead of text (overrides `open_metrics`).
  pub protobuf: bool,
}

/// Commands from JS.
pub enum Cmd {
  /// Flush now.
  Flush(Sender<Result<(), String>>),
  /// Flush, say goodbye, stop.
  Close(Sender<Result<(), String>>),
  /// Tests: say so on the first sender, then keep the thread busy until the second's sender
  /// is dropped or sends, at most the duration (a scrape must not wait for it).
  Hold(Sender<()>, Receiver<()>, Duration),
}

/// Random hex of 16 bytes (process ids, epoch candidates).
pub fn random_hex() -> String {
  use std::io::Read;
  let mut b = [0u8; 16];
  let ok = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b));
  if ok.is_err() {
    use std::hash::{BuildHasher, Hasher};
    for chunk in b.chunks_mut(8) {
      let mut h = std::collections::hash_map::RandomState::new().build_hasher();
      h.write_u128(
        SystemTime::now()
          .duration_since(UNIX_EPOCH)
          .map_or(0, |d| d.as_nanos()),
      );
      h.write_u32(std::process::id());
      chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
  }
  b.iter().map(|x| format!("{x:02x}")).collect()
}

use crate::clock::now_ms;

struct Flusher {
  cfg: Config,
  keys: Keys,
  conn: Option<Conn>,
  writer: Writer,
  /// What the writer last took in of each family it can pass over (see
  /// [`snapshot::visit_changed`]).
  seen: snapshot::Seen,
  throttle: Throttle,
  log: LogFn,
  down: bool,
  ever_connected: bool,
  ever_flushed: bool,
  stats: Stats,
  /// `close` ran: nothing more is flushed (a later flush would bring back the heartbeat).
  closed: bool,
}

impl Flusher {
  /// Logs `msg` through the throttle: one storm per `cause`.
  fn error(&mut self, cause: &str, msg: String) {
    for line in self.throttle.error(cause, &msg, Instant::now()) {
      let level = if line.starts_with("suppressed ") {
        Level::Warn
      } else {
        Level::Error
      };
      (self.log)(level, line);
    }
  }

  fn where_(&self) -> String {
    redact(&self.cfg.target.urls.join(","))
  }

  fn connect(&mut self) -> Result<(), Failure> {
    if self.conn.is_some() {
      return Ok(());
    }
    match Conn::open(&self.cfg.target) {
      Ok(c) => {
        self.conn = Some(c);
        // Recovery is logged once a flush succeeds again (flush()), not per connect: a storm of
        // connect-then-fail is then its error line and a summary, nothing else.
        if !self.ever_connected && !self.down {
          (self.log)(
            Level::Info,
            format!(
              "promsd: connected to Redis at {} (prefix \"{}\")",
              self.where_(),
              self.cfg.prefix
            ),
          );
        }
        self.ever_connected = true;
        Ok(())
      }
      Err(f) => {
        self.down = true;
        let msg = format!("promsd: cannot connect to Redis at {}: {f}", self.where_());
        self.error(f.cause.as_str(), msg.clone());
        Err(Failure {
          cause: f.cause,
          message: msg,
        })
      }
    }
  }

  fn flush(&mut self) -> Result<(), String> {
    let t0 = Instant::now();
    let r = self.flush_once();
    self.stats.flushed(
      t0.elapsed().as_secs_f64(),
      r.as_ref().err().map(|f| f.cause),
    );
    self.stats.refused = self.writer.refused().len();
    match r {
      Ok(()) => {
        let first = !self.ever_flushed;
        self.ever_flushed = true;
        if self.down {
          // Recovered: the storms are over.
          self.down = false;
          for line in self.throttle.drain() {
            (self.log)(Level::Warn, line);
          }
          (self.log)(
            Level::Warn,
            format!(
              "promsd: {} Redis at {} (prefix \"{}\")",
              if first {
                "connected to"
              } else {
                "reconnected to"
              },
              self.where_(),
              self.cfg.prefix
            ),
          );
        }
        Ok(())
      }
      Err(f) => Err(f.message),
    }
  }

  fn flush_once(&mut self) -> Result<(), Failure> {
    self.connect()?;
    for _ in 0..3 {
      // The writer takes each series in as the store shows it (under the store's lock, as the
      // copy of a snapshot was): a series it knows costs no allocation.
      let n;
      {
        let s = store::store();
        self.writer.begin();
        // Series unchanged since the writer last took them in are passed over (their
        // positions too, so the writer's order hints stay aligned).
        let w = std::cell::RefCell::new(&mut self.writer);
        let shown = std::cell::Cell::new(0);
        let metas = snapshot::visit_changed(
          &s,
          now_ms(),
          Some(&mut self.seen),
          &mut |v| {
            shown.set(shown.get() + 1);
            w.borrow_mut().update_series(v);
          },
          &mut |k| {
            shown.set(shown.get() + k);
            w.borrow_mut().skip(k);
          },
        );
        n = shown.get();
        drop(s);
        self.writer.end(metas);
      }
      self.stats.series = n;
      let mut batch = self.writer.batch();
      let mut replies = Vec::with_capacity(batch.chunks.len());
      let mut failure = None;
      let mut news = RefusalNews::default();
      {
        let conn = self.conn.as_mut().expect("connected");
        for i in 0..batch.chunks.len() {
          let chunk = &batch.chunks[i];
          let candidate = random_hex();
          let args = ApplyArgs {
            id: &self.cfg.id,
            epoch: &batch.epoch,
            candidate: &candidate,
            seed: batch.seed,
            live_ms: self.cfg.live_ms,
            retain_ms: self.cfg.retain_ms,
            info: &self.cfg.info,
          };
          match conn::apply(conn, &self.keys, &args, chunk) {
            Ok(r) => {
              if r.status == Status::Ok {
                let n = self.writer.on_refused(chunk, &r.refused);
                news.refused.extend(n.refused);
                news.accepted.extend(n.accepted);
              }
              if !r.refused.is_empty() {
                for c in &mut batch.chunks[i..] {
                  self.writer.prune(c);
                }
              }
              replies.push((r.status, r.epoch));
            }
            Err(e) => {
              failure = Some(conn::failure(&e, &self.cfg.target));
              break;
            }
          }
        }
      }
      let next = self.writer.on_replies(&batch, &replies);
      for msg in news.refused {
        self.error(&msg.clone(), msg);
      }
      for name in &news.accepted {
        (self.log)(
          Level::Info,
          format!("promsd: metric {name:?} accepted by the aggregate: no live process holds the definition it differed from"),
        );
      }
      if let Some(f) = failure {
        // A connection that answered with an error still works: keep it (reconnecting would
        // log a "reconnected" per flush).
        if f.cause != Cause::Server && f.cause != Cause::Auth {
          self.conn = None;
        }
        self.down = true;
        let msg = format!("promsd: flush to Redis at {} failed: {f}", self.where_());
        self.error(f.cause.as_str(), msg.clone());
        return Err(Failure {
          cause: f.cause,
          message: msg,
        });
      }
      if next == Next::Done {
        if news.accepted.is_empty() {
          return Ok(());
        }
        // Send the accepted families' series in this flush rather than the next.
        continue;
      }
      (self.log)(
        Level::Warn,
        "promsd: Redis lost this process's data (restart or expiry); resending all series".into(),
      );
    }
    Ok(())
  }

  /// The part of a scrape that needs the flusher's state: a flush (so this process's latest
  /// values are in the aggregate), then the aggregate's source — the model itself when this
  /// process holds it (read after the flusher's lock is released), else a read over the
  /// connection — and the self-metrics to append.
  fn prepare(&mut self) -> Result<(Source, Vec<render::Family>), String> {
    if self.closed {
      return Err("promsd: the backend is closed".into());
    }
    let flushed = self.flush();
    let read = match self.connect() {
      Ok(()) => {
        let keys = &self.keys;
        let conn = self.conn.as_mut().expect("connected");
        match &*conn {
          conn::Conn::Local(l) => Ok(Source::Local(l.as_ref().clone(), keys.base.clone())),
          _ => conn::read(conn, keys).map(Source::Data).map_err(|e| {
            let f = conn::failure(&e, &self.cfg.target);
            if f.cause != Cause::Server {
              self.conn = None;
            }
            format!("promsd: reading the aggregate from Redis failed: {f}")
          }),
        }
      }
      Err(f) => Err(f.message),
    };
    let extra = if self.cfg.self_metrics {
      self.stats.families()
    } else {
      Vec::new()
    };
    match read {
      Ok(src) => Ok((src, extra)),
      // With self-metrics on, a scrape during an outage still says so (promsd_backend_up 0).
      Err(_) if self.cfg.self_metrics && flushed.is_err() => {
        Ok((Source::Data(conn::ReadData::default()), extra))
      }
      Err(e) => Err(e),
    }
  }

  /// The holder's model failed a scrape (this process no longer holds it): the next flush
  /// reconnects through the socket, to the next holder.
  fn lost_local(&mut self) {
    if matches!(self.conn, Some(conn::Conn::Local(_))) {
      self.conn = None;
    }
  }

  fn close(&mut self) -> Result<(), String> {
    if self.closed {
      return Ok(());
    }
    self.closed = true;
    let r = self.flush();
    if let Some(conn) = self.conn.as_mut() {
      let _ = conn::goodbye(conn, &self.keys, &self.cfg.id);
    }
    for line in self.throttle.drain() {
      (self.log)(Level::Warn, line);
    }
    r
  }
}

/// Where a scrape's aggregate comes from: a read's data, or (the holder) its model, aggregated
/// and encoded in place by the scrape's own thread.
enum Source {
  Data(conn::ReadData),
  Local(super::embedded::LocalConn, String),
}

/// The flusher's state, shared by its thread (the interval's flushes, `flush`, `close`) and
/// the scrapes, which run on libuv pool threads: a scrape takes the state only for its flush
/// (the holder's: O(changed series), in-process) and, away from the holder, the read; it
/// aggregates, encodes and gzips with the state released, so scrapes do not queue on the
/// flusher thread nor on each other's renders.
///
/// ```text
///  flusher thread ── every interval ─┐
///  pool: scrape ─ lock: flush ───────┴─► Mutex<Flusher> ─ release ─► read the model (RwLock,
///  pool: scrape ─ lock: flush ─────────►        …                     shared) ─► encode ─► gzip
/// ```
#[derive(Clone)]
pub struct Shared(Arc<Mutex<Flusher>>);

impl Shared {
  fn lock(&self) -> std::sync::MutexGuard<'_, Flusher> {
    self.0.lock().unwrap_or_else(|e| e.into_inner())
  }

  /// The state, waited for at most `within` (a flush or another scrape holds it meanwhile;
  /// each of those is bounded by the connection's timeouts).
  fn lock_within(
    &self,
    within: Option<Duration>,
  ) -> Result<std::sync::MutexGuard<'_, Flusher>, String> {
    let Some(within) = within else {
      return Ok(self.lock());
    };
    let deadline = Instant::now() + within;
    let mut pause = Duration::from_micros(50);
    loop {
      match self.0.try_lock() {
        Ok(g) => return Ok(g),
        Err(std::sync::TryLockError::Poisoned(e)) => return Ok(e.into_inner()),
        Err(std::sync::TryLockError::WouldBlock) => {}
      }
      let now = Instant::now();
      if now >= deadline {
        return Err(format!(
          "promsd: the backend did not answer in time: a flush or another scrape held its connection for {} ms",
          within.as_millis()
        ));
      }
      std::thread::sleep(pause.min(deadline - now));
      pause = (pause * 2).min(Duration::from_millis(2));
    }
  }

  /// Flushes, then reads and renders the aggregate, on the calling thread (a scrape's pool
  /// thread: never the flusher thread's queue). `within` bounds the wait for the state.
  pub fn render(&self, opts: &RenderOpts, within: Option<Duration>) -> Result<Vec<u8>, String> {
    for _ in 0..2 {
      let (src, extra) = self.lock_within(within)?.prepare()?;
      match src {
        Source::Data(data) => {
          let out = render_bytes(&data, opts, extra);
          drop_later(data);
          return Ok(out);
        }
        Source::Local(l, base) => match l.render(&base, opts, extra) {
          Ok(out) => return Ok(out),
          // No longer the holder: once more, through the socket to the next one.
          Err(_) => self.lock().lost_local(),
        },
      }
    }
    Err("promsd: reading the aggregate failed: the aggregator moved to another process".into())
  }
}

/// Frees a read's strings on a thread of their own: a wide read holds ~10⁶ of them (~4 ms of
/// `free`), which the scrape need not wait for.
pub fn drop_later(data: conn::ReadData) {
  if data.procs.len() < 4 {
    return;
  }
  let _ = std::thread::Builder::new()
    .name("promsd-drop".into())
    .spawn(move || drop(data));
}

/// Renders a read in the requested format (text, OpenMetrics or protobuf).
pub fn render_bytes(
  data: &conn::ReadData,
  opts: &RenderOpts,
  extra: Vec<render::Family>,
) -> Vec<u8> {
  if !opts.protobuf {
    return render_data(data, opts, extra).into_bytes();
  }
  encode_families(render::aggregate(data), opts, extra)
}

/// Encodes aggregated families (and `extra`) in the requested format.
pub fn encode_families(
  mut fams: Vec<render::Family>,
  opts: &RenderOpts,
  extra: Vec<render::Family>,
) -> Vec<u8> {
  fams.extend(extra);
  encode_refs(&fams.iter().collect::<Vec<_>>(), opts)
}

/// Encodes families, wherever they are held, in the requested format.
pub fn encode_refs(fams: &[&render::Family], opts: &RenderOpts) -> Vec<u8> {
  let merged: Vec<_> = fams.iter().map(|f| render::merged_one(f)).collect();
  encode_merged(&merged, opts)
}

/// Encodes families as the encoders take them, in the requested format.
pub fn encode_merged(fams: &[crate::merge::MergedFamily], opts: &RenderOpts) -> Vec<u8> {
  let mut eo = EncodeOptions {
    format: Format::Text,
    default_labels: &opts.default_labels,
  };
  if opts.protobuf {
    let mut out = Vec::new();
    crate::protobuf::encode(fams, &eo, &mut out);
    return out;
  }
  if opts.open_metrics {
    eo.format = Format::OpenMetrics;
  }
  let mut out = String::with_capacity(fams.iter().map(|f| f.labels.len() * 48 + 64).sum());
  crate::encoder::encode(fams, &eo, &mut out);
  out.into_bytes()
}

/// Renders a read as text.
pub fn render_data(data: &conn::ReadData, opts: &RenderOpts, extra: Vec<render::Family>) -> String {
  let mut fams = render::aggregate(data);
  fams.extend(extra);
  text(&fams.iter().collect::<Vec<_>>(), opts)
}

fn text(fams: &[&render::Family], opts: &RenderOpts) -> String {
  let mut out = String::with_capacity(fams.iter().map(|f| f.labels.len() * 48 + 64).sum());
  let eo = EncodeOptions {
    format: if opts.open_metrics {
      Format::OpenMetrics
    } else {
      Format::Text
    },
    default_labels: &opts.default_labels,
  };
  render::encode(fams.iter().copied(), &eo, &mut out);
  out
}

/// A URL with its password replaced by `***`, the user kept (`redis://user:***@host:port`): the
/// rule of `redactUrl` in config/rules.ts, checked against the same vectors
/// (test/fixtures/redact-vectors.json). The password is what lies between the first `:` of the
/// userinfo and the last `@` of the authority; a URL without one is returned as it is.
pub fn redact(url: &str) -> String {
  let Some(s) = url.find("://").map(|i| i + 3) else {
    return url.to_owned();
  };
  let rest = &url[s..];
  let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
  let Some(at) = rest[..auth_end].rfind('@') else {
    return url.to_owned();
  };
  match rest[..at].find(':') {
    Some(colon) => format!("{}{}:***{}", &url[..s], &rest[..colon], &rest[at..]),
    None => url.to_owned(),
  }
}

fn run(shared: Shared, rx: Receiver<Cmd>) {
  let interval = shared.lock().cfg.interval;
  let mut next = Instant::now() + interval;
  loop {
    let wait = next.saturating_duration_since(Instant::now());
    match rx.recv_timeout(wait) {
      Ok(Cmd::Flush(reply)) => {
        let _ = reply.send(shared.lock().flush());
      }
      Ok(Cmd::Hold(held, release, max)) => {
        let _ = held.send(());
        let _ = release.recv_timeout(max);
      }
      Ok(Cmd::Close(reply)) => {
        let _ = reply.send(shared.lock().close());
        return;
      }
      Err(RecvTimeoutError::Timeout) => {
        let mut f = shared.lock();
        let _ = f.flush();
        for line in f.throttle.tick(Instant::now()) {
          (f.log)(Level::Warn, line);
        }
        drop(f);
        next = Instant::now() + interval;
      }
      Err(RecvTimeoutError::Disconnected) => {
        let _ = shared.lock().close();
        return;
      }
    }
  }
}

/// Starts the thread; scrapes render through the [`Shared`] state on their own threads.
pub fn spawn(cfg: Config, log: LogFn) -> std::io::Result<(Sender<Cmd>, JoinHandle<()>, Shared)> {
  let (tx, rx) = mpsc::channel();
  let f = Flusher {
    keys: Keys::new(&cfg.prefix),
    throttle: Throttle::new(cfg.throttle),
    cfg,
    conn: None,
    writer: Writer::new(),
    seen: snapshot::Seen::default(),
    log,
    down: false,
    ever_connected: false,
    ever_flushed: false,
    stats: Stats::default(),
    closed: false,
  };
  let shared = Shared(Arc::new(Mutex::new(f)));
  let thread_state = shared.clone();
  let h = std::thread::Builder::new()
    .name("promsd-flusher".into())
    .spawn(move || run(thread_state, rx))?;
  Ok((tx, h, shared))
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn passwords_are_hidden_as_config_rules_ts_hides_them() {
    let vectors: Vec<(String, String)> =
      serde_json::from_str(include_str!("../../../test/fixtures/redact-vectors.json")).unwrap();
    assert!(vectors.len() >= 8);
    for (url, want) in vectors {
      assert_eq!(redact(&url), want, "{url}");
    }
    assert_eq!(random_hex().len(), 32);
  }

  #[test]
  fn a_render_waits_for_the_state_at_most_its_timeout_and_says_why() {
    let cfg = Config {
      target: Target {
        urls: vec!["redis://127.0.0.1:1".into()],
        cluster: false,
        timeout: Duration::from_millis(200),
        tls_ca: None,
      },
      prefix: "t".into(),
      id: random_hex(),
      info: "{}".into(),
      interval: Duration::from_secs(600),
      live_ms: 1000,
      retain_ms: 1000,
      throttle: Duration::from_secs(1),
      self_metrics: false,
    };
    let (tx, thread, shared) = spawn(cfg, Box::new(|_, _| {})).unwrap();
    let opts = RenderOpts {
      open_metrics: false,
      default_labels: Vec::new(),
      protobuf: false,
    };
    let held = shared.lock();
    let start = Instant::now();
    let r = std::thread::scope(|s| {
      s.spawn(|| shared.render(&opts, Some(Duration::from_millis(80))))
        .join()
        .unwrap()
    });
    let waited = start.elapsed();
    drop(held);
    assert_eq!(
      r,
      Err(
        "promsd: the backend did not answer in time: a flush or another scrape held its connection for 80 ms"
          .into()
      )
    );
    assert!(waited >= Duration::from_millis(80), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    drop(tx);
    thread.join().unwrap();
  }
}
