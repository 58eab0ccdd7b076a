//! The embedded aggregator: one host, no server to install, no primary needed. Every process of
//! a namespace runs a [`Holder`]; the first to take the lock file in the private runtime
//! directory holds the aggregator: it binds the Unix socket and answers the same two scripts as
//! Redis (protocol §7–§8) from an in-memory model (`model.rs`), so every process — the holder
//! included — flushes to it with the ordinary flusher (`redis+unix://` URL) and the exactly-once,
//! liveness and expiry rules are those of the Redis backend:
//!
//! ```text
//!  process ─ flusher ─ EVALSHA apply ─┐                      ┌─ <ns>.lock  flock: who holds
//!  process ─ flusher ─ EVALSHA apply ─┼─► <ns>.sock ─► Model ┤
//!  holder ── flusher ─────────────────┘   (one poll loop)    └─ <ns>.snap  after each own flush
//! ```
//!
//! The others poll the lock (and the holder's heartbeat in it: a holder stuck for longer than
//! the TTL is deposed, see [`depose`]); when the holder dies the kernel releases it and the
//! first to take it loads the snapshot under a new epoch (see `model/persist.rs`: live processes resend and are
//! exact, no total decreases) and binds the socket again, replacing the dead holder's file.
//!
//! Everything that arrives on the socket is untrusted: the reader refuses counts and lengths
//! above fixed limits before allocating (closing that connection), one thread serves every
//! connection with `poll(2)`, and connections beyond [`MAX_CONNS`] are refused.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::model::Model;

/// Items of one command: an apply of [`super::writer::MAX_ITEMS`] items has ~12k.
pub const MAX_ARGS: usize = 1 << 17;
/// Bytes of one bulk string (a metric's metadata JSON, a field, a script).
pub const MAX_BULK: usize = 8 << 20;
/// Bytes of one command, all of it.
pub const MAX_COMMAND: usize = 64 << 20;
/// Open connections (one per process of the namespace, plus reader-only renders).
pub const MAX_CONNS: usize = 512;
/// Replies a client has not read yet, past which its further commands wait.
const MAX_PENDING_OUT: usize = 16 << 20;
/// A header line (`*123\r\n`, `$456\r\n`).
const MAX_HEADER: usize = 24;

/// What [`parse`] found at the start of a buffer.
#[derive(Debug, PartialEq)]
enum Parse {
  /// A command and the bytes it took.
  Done(Vec<String>, usize),
  /// Incomplete: nothing to do before the buffer holds this many bytes.
  More(usize),
  /// Not a command within the limits: close the connection.
  Bad(String),
}

/// The line starting at `at`, and where the next one starts.
fn line(buf: &[u8], at: usize) -> Result<Option<(&[u8], usize)>, String> {
  let window = &buf[at..buf.len().min(at + MAX_HEADER)];
  match window.windows(2).position(|w| w == b"\r\n") {
    Some(i) => Ok(Some((&window[..i], at + i + 2))),
    None if window.len() >= MAX_HEADER => Err("a header line longer than 24 bytes".into()),
    None => Ok(None),
  }
}

fn number(l: &[u8], tag: u8, limit: usize, what: &str) -> Result<usize, String> {
  let digits = l
    .strip_prefix(&[tag])
    .filter(|d| !d.is_empty() && d.len() <= 19 && d.iter().all(u8::is_ascii_digit))
    .ok_or_else(|| {
      format!(
        "expected {what} ({:?}), got {:?}",
        tag as char,
        String::from_utf8_lossy(l)
      )
    })?;
  let n: u64 = std::str::from_utf8(digits)
    .ok()
    .and_then(|s| s.parse().ok())
    .unwrap_or(u64::MAX);
  if n > limit as u64 {
    return Err(format!("{what} of {n} (the limit is {limit})"));
  }
  Ok(n as usize)
}

/// Reads one command (an array of bulk strings) from the start of `buf`. Counts and lengths
/// are checked before anything is allocated for them.
fn parse(buf: &[u8]) -> Parse {
  let more = |b: &[u8]| Parse::More(b.len() + 1);
  let head = match line(buf, 0) {
    Ok(Some(h)) => h,
    Ok(None) => return more(buf),
    Err(e) => return Parse::Bad(e),
  };
  let n = match number(head.0, b'*', MAX_ARGS, "an array") {
    Ok(n) => n,
    Err(e) => return Parse::Bad(e),
  };
  let mut at = head.1;
  let mut args = Vec::with_capacity(n.min(64));
  for _ in 0..n {
    let (h, next) = match line(buf, at) {
      Ok(Some(h)) => h,
      Ok(None) => return more(buf),
      Err(e) => return Parse::Bad(e),
    };
    let len = match number(h, b'$', MAX_BULK, "a bulk string") {
      Ok(n) => n,
      Err(e) => return Parse::Bad(e),
    };
    let end = next + len + 2;
    if buf.len() < end {
      return Parse::More(end);
    }
    if &buf[next + len..end] != b"\r\n" {
      return Parse::Bad("a bulk string longer than its length".into());
    }
    match std::str::from_utf8(&buf[next..next + len]) {
      Ok(s) => args.push(s.to_owned()),
      Err(_) => return Parse::Bad("a bulk string that is not UTF-8".into()),
    }
    at = end;
  }
  Parse::Done(args, at)
}

struct Client {
  s: UnixStream,
  inb: Vec<u8>,
  /// `inb` holds no command before it reaches this length.
  need: usize,
  out: Vec<u8>,
  sent: usize,
  eof: bool,
}

impl Client {
  fn pending(&self) -> usize {
    self.out.len() - self.sent
  }

  /// Writes what the socket takes now; false when the peer is gone.
  fn send(&mut self) -> bool {
    while self.sent < self.out.len() {
      match self.s.write(&self.out[self.sent..]) {
        Ok(0) => return false,
        Ok(k) => self.sent += k,
        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
        Err(e) if e.kind() == ErrorKind::Interrupted => {}
        Err(_) => return false,
      }
    }
    if self.sent == self.out.len() {
      self.out.clear();
      self.sent = 0;
    }
    true
  }
}

/// Where a namespace's aggregator lives.
#[derive(Debug, Clone)]
pub struct Paths {
  /// The Unix socket.
  pub socket: PathBuf,
  /// The lock file (flock): its holder holds the aggregator.
  pub lock: PathBuf,
  /// The model's snapshot.
  pub snapshot: PathBuf,
}

/// How a [`Holder`] behaves.
#[derive(Debug, Clone)]
pub struct HolderConfig {
  /// The files.
  pub paths: Paths,
  /// How often a process that does not hold tries the lock.
  pub poll: Duration,
  /// The liveness TTL: a snapshot older than this is not loaded at start, and a holder whose
  /// heartbeat is older than this is deposed ([`depose`]).
  pub max_age_ms: f64,
  /// Never hold: only flush to the holder.
  pub never: bool,
}

struct Server {
  listener: UnixListener,
  model: Arc<RwLock<Model>>,
  cfg: HolderConfig,
  /// This process's id in the protocol, once known: a snapshot follows each of its applies.
  own: Arc<OnceLock<String>>,
  clients: Vec<Client>,
  /// Set by this process's applies (over the socket or through [`LocalConn`]).
  own_applied: Arc<AtomicBool>,
  saved: Instant,
  /// The lock file, locked; its heartbeat is rewritten every [`BEAT_EVERY`].
  lock: File,
  beaten: Instant,
  /// Another process took the aggregator from this one, stuck too long ([`depose`]).
  deposed: bool,
}

/// How often a holder rewrites its heartbeat in the lock file.
const BEAT_EVERY: Duration = Duration::from_millis(100);

/// `CLOCK_MONOTONIC` in ms: one clock for every process of the host, unmoved by steps of the
/// wall clock.
fn mono_ms() -> f64 {
  let mut ts = libc::timespec {
    tv_sec: 0,
    tv_nsec: 0,
  };
  // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
  unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
  ts.tv_sec as f64 * 1000.0 + ts.tv_nsec as f64 / 1e6
}

/// Writes the holder's heartbeat (the monotonic clock, ms) over the start of its lock file.
fn beat(lock: &File) {
  use std::os::unix::fs::FileExt;
  let _ = lock.write_at(format!("{:<23}\n", mono_ms() as u64).as_bytes(), 0);
}

/// Whether the lock file at `path` holds a heartbeat older than `max_age_ms`. A file with none
/// (a holder that has not written it yet, or an older version's) is never stale.
fn stale(path: &std::path::Path, max_age_ms: f64) -> bool {
  std::fs::read_to_string(path)
    .ok()
    .and_then(|s| s.trim().parse::<f64>().ok())
    .is_some_and(|b| mono_ms() - b > max_age_ms)
}

/// The aggregator's poll loop (one thread for every connection).
impl Server {
  fn run(&mut self, stop: &AtomicBool) {
    let mut buf = vec![0u8; 64 << 10];
    while !stop.load(Ordering::Acquire) {
      let mut fds = Vec::with_capacity(self.clients.len() + 1);
      fds.push(libc::pollfd {
        fd: self.listener.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
      });
      for c in &self.clients {
        let mut events = 0;
        if c.pending() < MAX_PENDING_OUT && !c.eof {
          events |= libc::POLLIN;
        }
        if c.pending() > 0 {
          events |= libc::POLLOUT;
        }
        fds.push(libc::pollfd {
          fd: c.s.as_raw_fd(),
          events,
          revents: 0,
        });
      }
      // Short: this process's own applies come through LocalConn, not through poll().
      let wait = 50;
      // SAFETY: `fds` is a live, correctly sized array of pollfd for the duration of the call.
      let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, wait) };
      if n < 0 {
        std::thread::sleep(Duration::from_millis(10));
        continue;
      }
      let ready: Vec<bool> = fds.iter().map(|f| f.revents != 0).collect();
      for i in (0..self.clients.len()).rev() {
        if ready[i + 1] && !self.step(i, &mut buf) {
          self.clients.swap_remove(i);
        }
      }
      if ready[0] {
        self.accept();
      }
      // Checked before a snapshot is written: a deposed holder's model is out of date.
      if self.beaten.elapsed() >= BEAT_EVERY {
        if self.is_deposed() {
          self.deposed = true;
          return;
        }
        beat(&self.lock);
        self.beaten = Instant::now();
      }
      if self.own_applied.load(Ordering::Acquire)
        && self.saved.elapsed() >= Duration::from_millis(50)
      {
        self.save();
      }
    }
  }

  /// The lock file at the path is no longer the one this holder locked: a waiter found its
  /// heartbeat stale and put a new one there ([`depose`]).
  fn is_deposed(&self) -> bool {
    match (
      std::fs::metadata(&self.cfg.paths.lock),
      self.lock.metadata(),
    ) {
      (Ok(at_path), Ok(mine)) => at_path.ino() != mine.ino(),
      (Err(e), _) => e.kind() == ErrorKind::NotFound,
      _ => false,
    }
  }

  fn accept(&mut self) {
    loop {
      match self.listener.accept() {
        Ok((mut s, _)) => {
          if self.clients.len() >= MAX_CONNS || s.set_nonblocking(true).is_err() {
            let _ = s.write(
              format!("-ERR promsd: too many connections (the limit is {MAX_CONNS})\r\n")
                .as_bytes(),
            );
            continue;
          }
          self.clients.push(Client {
            s,
            inb: Vec::new(),
            need: 1,
            out: Vec::new(),
            sent: 0,
            eof: false,
          });
        }
        Err(e) if e.kind() == ErrorKind::Interrupted => {}
        Err(_) => return,
      }
    }
  }

  /// Reads, executes and answers what client `i` sent; false to close it.
  fn step(&mut self, i: usize, buf: &mut [u8]) -> bool {
    let c = &mut self.clients[i];
    if !c.send() {
      return false;
    }
    while !c.eof && c.inb.len() <= MAX_COMMAND {
      match c.s.read(buf) {
        Ok(0) => c.eof = true,
        Ok(k) => c.inb.extend_from_slice(&buf[..k]),
        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
        Err(e) if e.kind() == ErrorKind::Interrupted => {}
        Err(_) => return false,
      }
    }
    let mut at = 0;
    while c.pending() < MAX_PENDING_OUT && c.inb.len() - at >= c.need {
      match parse(&c.inb[at..]) {
        Parse::Done(args, used) => {
          at += used;
          c.need = 1;
          let reply = self
            .model
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .command(&args);
          reply.write(&mut c.out);
          if self.own.get().is_some_and(|id| is_apply_from(&args, id)) {
            self.own_applied.store(true, Ordering::Release);
          }
        }
        Parse::More(need) => {
          c.need = need;
          break;
        }
        Parse::Bad(why) => {
          c.out
            .extend_from_slice(format!("-ERR promsd: {why}; closing\r\n").as_bytes());
          let _ = c.send();
          return false;
        }
      }
    }
    c.inb.drain(..at); // `need` counts from `at`, the new start
    if c.inb.len() > MAX_COMMAND {
      c.out.extend_from_slice(
        format!("-ERR promsd: a command longer than {MAX_COMMAND} bytes; closing\r\n").as_bytes(),
      );
      let _ = c.send();
      return false;
    }
    c.send() && !(c.eof && c.pending() == 0)
  }

  /// Writes the model to the snapshot file atomically (temporary file, then rename).
  fn save(&mut self) {
    self.own_applied.store(false, Ordering::Release);
    self.saved = Instant::now();
    let bytes = self
      .model
      .read()
      .unwrap_or_else(|e| e.into_inner())
      .save(crate::clock::now_ms());
    let mut tmp = self.cfg.paths.snapshot.clone().into_os_string();
    tmp.push(".tmp");
    let written = OpenOptions::new()
      .write(true)
      .create(true)
      .truncate(true)
      .mode(0o600)
      .open(&tmp)
      .and_then(|mut f| f.write_all(&bytes));
    if written.is_ok() {
      let _ = std::fs::rename(&tmp, &self.cfg.paths.snapshot);
    }
  }
}

/// `EVALSHA <sha> <n> <keys…> <id> …` of the apply script from process `id`.
fn is_apply_from(args: &[String], id: &str) -> bool {
  let Some(n) = args.get(2).and_then(|n| n.parse::<usize>().ok()) else {
    return false;
  };
  args.len() > 11 && n == 6 && args.get(3 + n).is_some_and(|a| a == id)
}

/// Takes the lock and binds the socket, or `None` when another process holds them (and is not
/// stuck: see [`depose`]).
fn claim(cfg: &HolderConfig, own: &Arc<OnceLock<String>>) -> std::io::Result<Option<Server>> {
  let p = &cfg.paths;
  let f = OpenOptions::new()
    .create(true)
    .truncate(false)
    .read(true)
    .write(true)
    .mode(0o600)
    .open(&p.lock)?;
  match f.try_lock() {
    Ok(()) => {}
    Err(std::fs::TryLockError::WouldBlock) => return depose(cfg, own),
    Err(std::fs::TryLockError::Error(e)) => return Err(e),
  }
  // A holder that stops removes the file while it still has it locked: the file we locked
  // must still be the one at the path, or a newcomer could lock a second one.
  match std::fs::metadata(&p.lock) {
    Ok(m) if m.ino() == f.metadata()?.ino() => {}
    _ => return Ok(None),
  }
  beat(&f);
  serve(f, cfg, own, cfg.max_age_ms).map(Some)
}

/// Takes the aggregator from a holder that is alive but stuck (stopped, or its aggregator thread
/// wedged): its lock stays held, but its heartbeat in the lock file is older than the liveness
/// TTL (`max_age_ms`), the rule by which a process of the protocol counts as dead. The lock
/// cannot be taken from it, so the path gets a new lock file: created and locked beside it,
/// given a fresh heartbeat, renamed over the old one. Waiters depose one at a time (`flock` on
/// `<lock>.depose`) and look at the heartbeat again once they may, so a second one finds the
/// first one's fresh heartbeat and gives up. The stuck holder, if it resumes, sees another file
/// at the path ([`Server::is_deposed`]), stops serving without touching the files, and its
/// flusher goes to the new holder through the socket (its epoch is then old: it resends, and
/// the model adds what the snapshot lacks; nothing is counted twice).
fn depose(cfg: &HolderConfig, own: &Arc<OnceLock<String>>) -> std::io::Result<Option<Server>> {
  let p = &cfg.paths;
  if !stale(&p.lock, cfg.max_age_ms) {
    return Ok(None);
  }
  let mut one_at_a_time = p.lock.clone().into_os_string();
  one_at_a_time.push(".depose");
  let guard = OpenOptions::new()
    .create(true)
    .truncate(false)
    .write(true)
    .mode(0o600)
    .open(&one_at_a_time)?;
  match guard.try_lock() {
    Ok(()) => {}
    Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
    Err(std::fs::TryLockError::Error(e)) => return Err(e),
  }
  if !stale(&p.lock, cfg.max_age_ms) {
    return Ok(None);
  }
  let mut fresh = p.lock.clone().into_os_string();
  fresh.push(format!(".{}", std::process::id()));
  let f = OpenOptions::new()
    .create(true)
    .truncate(true)
    .read(true)
    .write(true)
    .mode(0o600)
    .open(&fresh)?;
  if f.try_lock().is_err() {
    let _ = std::fs::remove_file(&fresh);
    return Ok(None);
  }
  beat(&f);
  if let Err(e) = std::fs::rename(&fresh, &p.lock) {
    let _ = std::fs::remove_file(&fresh);
    return Err(e);
  }
  drop(guard);
  // The stuck holder's last snapshot is as old as its heartbeat (and a flush interval more):
  // older than the TTL by now, and still the aggregate to keep.
  serve(f, cfg, own, f64::INFINITY).map(Some)
}

/// With the lock taken: binds the socket and loads the snapshot (if younger than
/// `max_age_ms`).
fn serve(
  lock: File,
  cfg: &HolderConfig,
  own: &Arc<OnceLock<String>>,
  max_age_ms: f64,
) -> std::io::Result<Server> {
  let p = &cfg.paths;
  // The lock is ours, so a socket file there is a dead (or deposed) holder's.
  let _ = std::fs::remove_file(&p.socket);
  let listener = UnixListener::bind(&p.socket)?;
  std::fs::set_permissions(&p.socket, std::fs::Permissions::from_mode(0o600))?;
  listener.set_nonblocking(true)?;
  let now = crate::clock::now_ms();
  let model = std::fs::read(&p.snapshot)
    .ok()
    .and_then(|b| Model::load(&b, now, max_age_ms, super::flusher::random_hex))
    .unwrap_or_default();
  Ok(Server {
    listener,
    model: Arc::new(RwLock::new(model)),
    cfg: cfg.clone(),
    own: own.clone(),
    clients: Vec::new(),
    own_applied: Arc::new(AtomicBool::new(false)),
    saved: Instant::now(),
    lock,
    beaten: Instant::now(),
    deposed: false,
  })
}

/// Serves until `stop`, then writes a last snapshot and removes the socket and the lock file
/// (the lock still held, so no newcomer locks the file being removed); or until deposed, then
/// leaves every file to the new holder.
fn hold(mut server: Server, stop: &AtomicBool) {
  let serving = Arc::new(AtomicBool::new(true));
  *LOCAL.lock().unwrap_or_else(|e| e.into_inner()) = Some(LocalConn {
    path: server.cfg.paths.socket.clone(),
    model: server.model.clone(),
    own: server.own.clone(),
    own_applied: server.own_applied.clone(),
    serving: serving.clone(),
  });
  server.run(stop);
  // This process's flusher goes back to the socket (and finds the next holder).
  serving.store(false, Ordering::Release);
  *LOCAL.lock().unwrap_or_else(|e| e.into_inner()) = None;
  if !server.deposed {
    server.save();
    let _ = std::fs::remove_file(&server.cfg.paths.socket);
    let _ = std::fs::remove_file(&server.cfg.paths.lock);
  }
  drop(server); // closes the clients' connections, then releases the lock
}

/// The model of the aggregator this process holds, for its own flusher.
static LOCAL: Mutex<Option<LocalConn>> = Mutex::new(None);

/// The holder's own flusher's connection: its commands run on the model in-process, with no
/// socket and no RESP replies to write and parse (the requests are still the redis crate's packed
/// commands, read with the same bounded parser). Fails once this process stops holding, so the
/// flusher reconnects through the socket to the next holder.
#[derive(Clone)]
pub struct LocalConn {
  path: PathBuf,
  model: Arc<RwLock<Model>>,
  own: Arc<OnceLock<String>>,
  own_applied: Arc<AtomicBool>,
  serving: Arc<AtomicBool>,
}

/// A [`LocalConn`] when `url` (`redis+unix://<path>`) is the socket of the aggregator this
/// process holds.
pub fn local(url: &str) -> Option<LocalConn> {
  let path = url.strip_prefix("redis+unix://")?;
  let l = LOCAL.lock().unwrap_or_else(|e| e.into_inner());
  l.as_ref()
    .filter(|l| l.path.as_os_str() == path && l.serving.load(Ordering::Acquire))
    .cloned()
}

fn to_value(r: super::model::Resp) -> redis::RedisResult<redis::Value> {
  use super::model::Resp;
  use redis::Value;
  Ok(match r {
    Resp::Bulk(s) => Value::BulkString(s.into_bytes()),
    Resp::Int(i) => Value::Int(i),
    Resp::Array(items) => Value::Array(items.into_iter().map(to_value).collect::<Result<_, _>>()?),
    Resp::Simple("OK") => Value::Okay,
    Resp::Simple(s) => Value::SimpleString(s.to_owned()),
    e @ Resp::Error(_) => {
      let mut out = Vec::new();
      e.write(&mut out);
      redis::parse_redis_value(&out)?
    }
  })
}

impl LocalConn {
  /// A v2 read of `base` straight from the model ([`Model::read_data`]); fails once this
  /// process no longer holds the aggregator, as [`LocalConn`]'s commands do.
  pub fn read_data(&self, base: &str) -> std::io::Result<super::reader::ReadData> {
    Ok(self.model()?.read_data(base))
  }

  /// The aggregate of `base` rendered from the model in the requested format, `extra` appended:
  /// a scrape of the holder, run on the scrape's own thread. The write lock is taken only to
  /// drop what expired (and, after a new or changed definition, to aggregate the totals again);
  /// the encoding runs under the read lock, beside other scrapes ([`Model::render`]).
  pub fn render(
    &self,
    base: &str,
    opts: &super::flusher::RenderOpts,
    extra: Vec<super::render::Family>,
  ) -> std::io::Result<Vec<u8>> {
    for _ in 0..3 {
      self.model()?.prepare(base);
      let model = self.model.read().unwrap_or_else(|e| e.into_inner());
      if let Some(out) = model.render(base, opts, &extra) {
        return Ok(out);
      }
    }
    // Definitions keep changing between the two locks: aggregate under the write lock.
    let fams = self.model()?.aggregate(base);
    Ok(super::flusher::encode_families(fams, opts, extra))
  }

  /// The model (for writing), while this process holds the aggregator.
  fn model(&self) -> std::io::Result<std::sync::RwLockWriteGuard<'_, Model>> {
    if !self.serving.load(Ordering::Acquire) {
      return Err(std::io::Error::new(
        ErrorKind::NotConnected,
        "no longer the holder",
      ));
    }
    Ok(self.model.write().unwrap_or_else(|e| e.into_inner()))
  }

  fn run(&mut self, mut cmds: &[u8]) -> redis::RedisResult<Vec<redis::Value>> {
    if !self.serving.load(Ordering::Acquire) {
      return Err(std::io::Error::new(ErrorKind::NotConnected, "no longer the holder").into());
    }
    let mut out = Vec::new();
    while !cmds.is_empty() {
      let Parse::Done(args, used) = parse(cmds) else {
        return Err(std::io::Error::new(ErrorKind::InvalidData, "a bad packed command").into());
      };
      cmds = &cmds[used..];
      let reply = self
        .model
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .command(&args);
      if self.own.get().is_some_and(|id| is_apply_from(&args, id)) {
        self.own_applied.store(true, Ordering::Release);
      }
      out.push(to_value(reply)?);
    }
    Ok(out)
  }
}

impl redis::ConnectionLike for LocalConn {
  fn req_packed_command(&mut self, cmd: &[u8]) -> redis::RedisResult<redis::Value> {
    Ok(self.run(cmd)?.pop().unwrap_or(redis::Value::Nil))
  }

  fn req_packed_commands(
    &mut self,
    cmd: &[u8],
    offset: usize,
    count: usize,
  ) -> redis::RedisResult<Vec<redis::Value>> {
    Ok(
      self
        .run(cmd)?
        .into_iter()
        .skip(offset)
        .take(count)
        .collect(),
    )
  }

  fn get_db(&self) -> i64 {
    0
  }

  fn check_connection(&mut self) -> bool {
    self.serving.load(Ordering::Acquire)
  }

  fn is_open(&self) -> bool {
    self.serving.load(Ordering::Acquire)
  }
}

/// This process's part in the one-host aggregation: holds the aggregator, or waits to.
pub struct Holder {
  cfg: HolderConfig,
  own: Arc<OnceLock<String>>,
  stop: Arc<AtomicBool>,
  holding: Arc<AtomicBool>,
  thread: Option<JoinHandle<()>>,
}

impl Holder {
  /// Claims the aggregator now if no process holds it (an error here is the caller's: the
  /// directory is not writable, the socket cannot be bound), else keeps trying every
  /// `cfg.poll` on a thread of its own.
  pub fn start(cfg: HolderConfig) -> std::io::Result<Holder> {
    let own = Arc::new(OnceLock::new());
    let first = if cfg.never { None } else { claim(&cfg, &own)? };
    let stop = Arc::new(AtomicBool::new(false));
    let holding = Arc::new(AtomicBool::new(first.is_some()));
    let (flag, held, c, o) = (stop.clone(), holding.clone(), cfg.clone(), own.clone());
    let thread = std::thread::Builder::new()
      .name("promsd-aggregator".into())
      .stack_size(256 << 10)
      .spawn(move || {
        let mut claimed = first;
        if c.never {
          return;
        }
        loop {
          while claimed.is_none() {
            let until = Instant::now() + c.poll;
            while Instant::now() < until {
              if flag.load(Ordering::Acquire) {
                return;
              }
              std::thread::sleep(Duration::from_millis(20).min(c.poll));
            }
            claimed = claim(&c, &o).ok().flatten();
          }
          if let Some(server) = claimed.take() {
            held.store(true, Ordering::Release);
            hold(server, &flag);
            held.store(false, Ordering::Release);
          }
          // Stopped, or deposed: then wait to hold again, like any other process.
          if flag.load(Ordering::Acquire) {
            return;
          }
        }
      })?;
    Ok(Holder {
      cfg,
      own,
      stop,
      holding,
      thread: Some(thread),
    })
  }

  /// Names this process's id in the protocol (known once its flusher started), after whose
  /// applies the holder writes its snapshot. Only the first call counts.
  pub fn own_process(&self, id: String) {
    let _ = self.own.set(id);
  }

  /// Whether this process holds the aggregator now.
  pub fn holding(&self) -> bool {
    self.holding.load(Ordering::Acquire)
  }

  /// Stops serving (last snapshot written, socket and lock file removed) or waiting. Safe to
  /// call twice.
  pub fn stop(&mut self) {
    if let Some(t) = self.thread.take() {
      self.stop.store(true, Ordering::Release);
      if self.holding() {
        let _ = UnixStream::connect(&self.cfg.paths.socket); // wakes poll()
      }
      let _ = t.join();
    }
  }
}

impl Drop for Holder {
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
  fn commands_parse_and_an_incomplete_one_says_how_much_it_needs() {
    let b = b"*2\r\n$4\r\nPING\r\n$3\r\na\nb\r\n";
    assert_eq!(parse(b), Parse::Done(s(&["PING", "a\nb"]), b.len()));
    assert_eq!(parse(&b[..10]), Parse::More(14));
    assert_eq!(parse(b"*2\r"), Parse::More(4));
  }

  fn paths(dir: &std::path::Path) -> HolderConfig {
    HolderConfig {
      paths: Paths {
        socket: dir.join("t.sock"),
        lock: dir.join("t.lock"),
        snapshot: dir.join("t.snap"),
      },
      poll: Duration::from_millis(20),
      max_age_ms: 60_000.0,
      never: false,
    }
  }

  fn ask(path: &std::path::Path, cmd: &[u8]) -> String {
    let mut s = UnixStream::connect(path).expect("connects");
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s.write_all(cmd).unwrap();
    let mut buf = [0u8; 256];
    let n = s.read(&mut buf).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).into_owned()
  }

  #[test]
  fn one_of_two_holders_holds_and_the_other_takes_over_when_it_stops() {
    let dir = std::env::temp_dir().join(format!("promsd-holder-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = paths(&dir);
    let mut a = Holder::start(cfg.clone()).unwrap();
    let mut b = Holder::start(cfg.clone()).unwrap();
    assert!(a.holding() && !b.holding());
    assert_eq!(ask(&cfg.paths.socket, b"*1\r\n$4\r\nPING\r\n"), "+PONG\r\n");
    assert_eq!(
      ask(&cfg.paths.socket, b"*10000000000\r\n"),
      "-ERR promsd: an array of 10000000000 (the limit is 131072); closing\r\n"
    );
    a.stop();
    let t0 = Instant::now();
    while !b.holding() {
      assert!(t0.elapsed() < Duration::from_secs(5), "no takeover");
      std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(ask(&cfg.paths.socket, b"*1\r\n$4\r\nPING\r\n"), "+PONG\r\n");
    assert!(
      cfg.paths.snapshot.exists(),
      "the first holder left its snapshot"
    );
    b.stop();
    assert!(!cfg.paths.socket.exists() && !cfg.paths.lock.exists());
    let _ = std::fs::remove_dir_all(&dir);
  }

  #[test]
  fn a_holder_whose_heartbeat_is_older_than_the_ttl_is_deposed_and_a_fresh_one_is_not() {
    let dir = std::env::temp_dir().join(format!("promsd-depose-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = paths(&dir);
    // A stuck holder: the lock held, its heartbeat as it was 61 s ago (the TTL is 60 s).
    let stuck = OpenOptions::new()
      .create(true)
      .truncate(false)
      .read(true)
      .write(true)
      .open(&cfg.paths.lock)
      .unwrap();
    stuck.try_lock().unwrap();
    let old = format!("{:<23}\n", (mono_ms() - 61_000.0) as u64);
    std::os::unix::fs::FileExt::write_at(&stuck, old.as_bytes(), 0).unwrap();
    let mut a = Holder::start(cfg.clone()).unwrap();
    assert!(a.holding(), "the stale holder is deposed at start");
    let at_path = std::fs::metadata(&cfg.paths.lock).unwrap().ino();
    assert_ne!(at_path, stuck.metadata().unwrap().ino());
    assert_eq!(ask(&cfg.paths.socket, b"*1\r\n$4\r\nPING\r\n"), "+PONG\r\n");
    // The new holder beats: a third process neither holds nor deposes it.
    std::thread::sleep(Duration::from_millis(150));
    let mut b = Holder::start(cfg.clone()).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert!(a.holding() && !b.holding());
    assert_eq!(std::fs::metadata(&cfg.paths.lock).unwrap().ino(), at_path);
    b.stop();
    a.stop();
    assert!(!cfg.paths.socket.exists() && !cfg.paths.lock.exists());
    drop(stuck);
    let _ = std::fs::remove_dir_all(&dir);
  }

  #[test]
  fn a_deposed_holder_stops_serving_leaves_the_files_to_the_new_one_and_waits_to_hold_again() {
    let dir = std::env::temp_dir().join(format!("promsd-deposed-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = paths(&dir);
    let mut a = Holder::start(cfg.clone()).unwrap();
    assert!(a.holding());
    // What a deposer does, by hand: a new locked lock file renamed over a's.
    let fresh = dir.join("t.lock.new");
    let f = OpenOptions::new()
      .create(true)
      .truncate(true)
      .read(true)
      .write(true)
      .open(&fresh)
      .unwrap();
    f.try_lock().unwrap();
    beat(&f);
    std::fs::rename(&fresh, &cfg.paths.lock).unwrap();
    let t0 = Instant::now();
    while a.holding() {
      assert!(t0.elapsed() < Duration::from_secs(5), "a did not step down");
      std::thread::sleep(Duration::from_millis(5));
    }
    assert!(cfg.paths.lock.exists(), "the new holder's lock file stays");
    // The new "holder" goes away (its lock released, its file removed): a takes over again.
    std::fs::remove_file(&cfg.paths.lock).unwrap();
    drop(f);
    let t0 = Instant::now();
    while !a.holding() {
      assert!(
        t0.elapsed() < Duration::from_secs(5),
        "a did not hold again"
      );
      std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(ask(&cfg.paths.socket, b"*1\r\n$4\r\nPING\r\n"), "+PONG\r\n");
    a.stop();
    let _ = std::fs::remove_dir_all(&dir);
  }

  #[test]
  fn counts_and_lengths_above_the_limits_are_refused_before_allocating() {
    let bad = |b: &[u8]| matches!(parse(b), Parse::Bad(_));
    assert_eq!(
      parse(b"*10000000000\r\n"),
      Parse::Bad("an array of 10000000000 (the limit is 131072)".into())
    );
    assert!(bad(b"*1\r\n$100000000000\r\n"));
    assert!(bad(b"*1\r\n$99999999999999999999999\r\n"));
    assert!(bad(b"*-1\r\n"));
    assert!(bad(b"PING\r\n"));
    assert!(bad(b"*1\r\n$2\r\nabc\r\n"));
    assert!(bad(b"*1\r\n$2\r\n\xff\xfe\r\n"));
    assert!(bad(&[b'*'; 40]));
  }
}
