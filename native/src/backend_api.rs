//! The napi surface of the Redis backend (one per process) and of the reader-only render used by
//! a sidecar. Every call that talks to Redis returns a Promise resolved from the libuv pool; the
//! flusher thread holds no reference on the event loop, and the logger is a weak threadsafe
//! function, so a process that is done exits on its own.

use std::sync::mpsc::{self, Sender};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::Duration;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;

use crate::backend::conn::{self, Conn, Keys, Target};
use crate::backend::flusher::{self, Cmd, Config, Level, RenderOpts};

fn err(msg: String) -> Error {
  Error::new(Status::GenericFailure, msg)
}

/// Options of the Redis backend, validated by JS first.
#[napi(object)]
pub struct RedisBackendOptions {
  /// One URL, or the seed nodes of a cluster.
  pub urls: Vec<String>,
  /// Redis Cluster.
  pub cluster: bool,
  /// Namespace (`[A-Za-z0-9_.:-]{1,64}`).
  pub prefix: String,
  /// Flush interval, ms.
  pub flush_interval_ms: u32,
  /// Heartbeat TTL, ms.
  pub live_ms: u32,
  /// Retention of the per-process `last_applied` records, ms.
  pub retain_ms: u32,
  /// Connect and command timeout, ms.
  pub timeout_ms: u32,
  /// Error-throttle window, ms.
  pub log_throttle_ms: u32,
  /// Value of the `process` label of `perProcess` gauges.
  pub process_label: String,
  /// Host name for the process info.
  pub host: String,
  /// PEM of the CA for `rediss://` (default: the system's roots).
  pub tls_ca: Option<String>,
  /// Append the backend's own metrics (`promsd_backend_*`) to rendered scrapes.
  pub self_metrics: Option<bool>,
}

/// Options of a reader-only render (the sidecar).
#[napi(object)]
pub struct RedisReadOptions {
  /// One URL, or the seed nodes of a cluster.
  pub urls: Vec<String>,
  /// Redis Cluster.
  pub cluster: bool,
  /// Namespace.
  pub prefix: String,
  /// Connect and command timeout, ms.
  pub timeout_ms: u32,
  /// OpenMetrics instead of text 0.0.4.
  pub open_metrics: bool,
  /// Default labels as `[name, value, …]`.
  pub default_labels: Vec<String>,
  /// PEM of the CA for `rediss://` (default: the system's roots).
  pub tls_ca: Option<String>,
  /// Read protocol: 2 (default) or 1 (the v1 read script; the wide-read bench compares them).
  pub protocol: Option<u32>,
}

struct Handle {
  tx: Sender<Cmd>,
  thread: Option<JoinHandle<()>>,
  shared: flusher::Shared,
}

static BACKEND: Mutex<Option<Handle>> = Mutex::new(None);

/// The open core backend's state, which a scrape renders through on its own thread (see
/// [`crate::route_api`]).
pub(crate) fn shared() -> Result<flusher::Shared> {
  BACKEND
    .lock()
    .unwrap_or_else(|e| e.into_inner())
    .as_ref()
    .map(|h| h.shared.clone())
    .ok_or_else(|| err("promsd: no backend is loaded".into()))
}

/// The open core backend's command channel (see [`crate::route_api`]).
pub(crate) fn sender() -> Result<Sender<Cmd>> {
  BACKEND
    .lock()
    .unwrap_or_else(|e| e.into_inner())
    .as_ref()
    .map(|h| h.tx.clone())
    .ok_or_else(|| err("promsd: no backend is loaded".into()))
}

pub(crate) fn check_prefix(p: &str) -> Result<()> {
  let ok = !p.is_empty()
    && p.len() <= 64
    && p
      .bytes()
      .all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b));
  if ok {
    Ok(())
  } else {
    Err(Error::new(
      Status::InvalidArg,
      format!("prefix {p:?} must match [A-Za-z0-9_.:-]{{1,64}}"),
    ))
  }
}

/// Starts the process's backend; returns the process id. `log(level, message)` receives the
/// core's log lines.
#[napi]
pub fn backend_open(
  env: Env,
  options: RedisBackendOptions,
  #[napi(ts_arg_type = "(level: string, message: string) => void")] log: Function<
    FnArgs<(String, String)>,
    (),
  >,
) -> Result<String> {
  check_prefix(&options.prefix)?;
  let _no_js_backend = crate::route_api::core_opening()?;
  let mut slot = BACKEND.lock().unwrap_or_else(|e| e.into_inner());
  if slot.is_some() {
    return Err(err(
      "promsd: a backend is already loaded in this process (close it first)".into(),
    ));
  }
  type Log = FnArgs<(String, String)>;
  let tsfn: ThreadsafeFunction<Log, (), Log, Status, false, true> = log
    .build_threadsafe_function()
    .callee_handled::<false>()
    .weak::<true>()
    .build()?;
  let id = flusher::random_hex();
  let info = crate::backend::field::process_info(
    &options.process_label,
    &options.host,
    concat!("promsd-rs ", env!("CARGO_PKG_VERSION")),
  );
  let cfg = Config {
    target: Target {
      urls: options.urls,
      cluster: options.cluster,
      timeout: Duration::from_millis(options.timeout_ms.max(1).into()),
      tls_ca: options.tls_ca.map(String::into_bytes),
    },
    prefix: options.prefix,
    id: id.clone(),
    info,
    interval: Duration::from_millis(options.flush_interval_ms.max(10).into()),
    live_ms: options.live_ms.max(100).into(),
    retain_ms: options.retain_ms.max(options.live_ms).into(),
    throttle: Duration::from_millis(options.log_throttle_ms.into()),
    self_metrics: options.self_metrics.unwrap_or(false),
  };
  let log = Box::new(move |level: Level, msg: String| {
    tsfn.call(
      FnArgs::from((level.as_str().to_owned(), msg)),
      ThreadsafeFunctionCallMode::NonBlocking,
    );
  });
  let (tx, thread, shared) = flusher::spawn(cfg, log).map_err(|e| err(e.to_string()))?;
  *slot = Some(Handle {
    tx,
    thread: Some(thread),
    shared,
  });
  // A process that ends without close() still sends its last increments.
  env.add_env_cleanup_hook((), |()| {
    let _ = close_now(Duration::from_secs(2));
  })?;
  Ok(id)
}

fn close_now(timeout: Duration) -> std::result::Result<(), String> {
  let Some(mut h) = BACKEND.lock().unwrap_or_else(|e| e.into_inner()).take() else {
    return Ok(());
  };
  let (tx, rx) = mpsc::channel();
  if h.tx.send(Cmd::Close(tx)).is_err() {
    return Ok(());
  }
  let r = rx
    .recv_timeout(timeout)
    .unwrap_or_else(|_| Err("promsd: close timed out; pending values were not all sent".into()));
  if r.is_ok() {
    if let Some(t) = h.thread.take() {
      let _ = t.join();
    }
  }
  r
}

/// Flushes, then reads and renders the aggregate on this (pool) thread, as a scrape of the
/// global registry does ([`crate::route_api`]): never queued on the flusher thread; the wait
/// for its state (a flush or another scrape holding it) is bounded by `timeout`.
fn render_now(opts: &RenderOpts, timeout: Duration) -> Result<Vec<u8>> {
  shared()?.render(opts, Some(timeout)).map_err(err)
}

/// A request to the flusher (a render: done on the libuv pool thread itself), waited for on
/// the libuv pool.
pub enum Request {
  /// Flush.
  Flush,
  /// Flush and render.
  Render(RenderOpts),
  /// Close.
  Close,
}

/// The task of [`backend_flush`], [`backend_render`] and [`backend_close`].
pub struct BackendTask {
  req: Option<Request>,
  timeout: Duration,
}

impl Task for BackendTask {
  type Output = String;
  type JsValue = String;

  fn compute(&mut self) -> Result<String> {
    let req = self.req.take().expect("computed once");
    match req {
      Request::Close => return close_now(self.timeout).map(|()| String::new()).map_err(err),
      Request::Render(o) => {
        let bytes = render_now(&o, self.timeout)?;
        return String::from_utf8(bytes).map_err(|e| err(format!("promsd: render: {e}")));
      }
      Request::Flush => {}
    }
    let tx = sender()?;
    let closed = || err("promsd: the backend is closed".into());
    let late = |_| err("promsd: the backend did not answer in time".into());
    let (rtx, rrx) = mpsc::channel();
    tx.send(Cmd::Flush(rtx)).map_err(|_| closed())?;
    rrx.recv_timeout(self.timeout).map_err(late)?.map_err(err)?;
    Ok(String::new())
  }

  fn resolve(&mut self, _env: Env, output: String) -> Result<String> {
    Ok(output)
  }
}

/// Flushes now; rejects when Redis could not take the values (they stay pending).
#[napi(ts_return_type = "Promise<string>")]
pub fn backend_flush(timeout_ms: u32) -> AsyncTask<BackendTask> {
  AsyncTask::new(BackendTask {
    req: Some(Request::Flush),
    timeout: Duration::from_millis(timeout_ms.into()),
  })
}

/// Flushes, then reads and renders the prefix's aggregate.
#[napi(ts_return_type = "Promise<string>")]
pub fn backend_render(
  open_metrics: bool,
  default_labels: Vec<String>,
  timeout_ms: u32,
) -> AsyncTask<BackendTask> {
  AsyncTask::new(BackendTask {
    req: Some(Request::Render(RenderOpts {
      open_metrics,
      default_labels: pairs(&default_labels),
      protobuf: false,
    })),
    timeout: Duration::from_millis(timeout_ms.into()),
  })
}

/// The task of [`backend_render_protobuf`].
pub struct BackendProtobufTask {
  opts: Option<RenderOpts>,
  timeout: Duration,
}

impl Task for BackendProtobufTask {
  type Output = Vec<u8>;
  type JsValue = Buffer;

  fn compute(&mut self) -> Result<Vec<u8>> {
    let opts = self.opts.take().expect("computed once");
    render_now(&opts, self.timeout)
  }

  fn resolve(&mut self, _env: Env, output: Vec<u8>) -> Result<Buffer> {
    Ok(Buffer::from(output))
  }
}

/// Flushes, then reads the prefix's aggregate and encodes it in the protobuf format (the one
/// that carries native histograms).
#[napi(ts_return_type = "Promise<Buffer>")]
pub fn backend_render_protobuf(
  default_labels: Vec<String>,
  timeout_ms: u32,
) -> AsyncTask<BackendProtobufTask> {
  AsyncTask::new(BackendProtobufTask {
    opts: Some(RenderOpts {
      open_metrics: false,
      default_labels: pairs(&default_labels),
      protobuf: true,
    }),
    timeout: Duration::from_millis(timeout_ms.into()),
  })
}

/// Flushes what is pending (bounded by `timeout_ms`), removes this process's heartbeat and
/// gauges from Redis and stops the thread. Safe to call twice.
#[napi(ts_return_type = "Promise<string>")]
pub fn backend_close(timeout_ms: u32) -> AsyncTask<BackendTask> {
  AsyncTask::new(BackendTask {
    req: Some(Request::Close),
    timeout: Duration::from_millis(timeout_ms.into()),
  })
}

fn pairs(flat: &[String]) -> Vec<(String, String)> {
  flat
    .chunks(2)
    .map(|p| (p[0].clone(), p.get(1).cloned().unwrap_or_default()))
    .collect()
}

/// Renders a prefix's aggregate without loading a backend (the sidecar).
pub struct ReadTask {
  opts: RedisReadOptions,
}

impl Task for ReadTask {
  type Output = String;
  type JsValue = String;

  fn compute(&mut self) -> Result<String> {
    check_prefix(&self.opts.prefix)?;
    let target = Target {
      urls: self.opts.urls.clone(),
      cluster: self.opts.cluster,
      timeout: Duration::from_millis(self.opts.timeout_ms.max(1).into()),
      tls_ca: self.opts.tls_ca.clone().map(String::into_bytes),
    };
    let mut c = conn::ReadConn::open(&target).map_err(|e: conn::Failure| {
      err(format!(
        "promsd: cannot connect to Redis at {}: {e}",
        flusher::redact(&target.urls.join(","))
      ))
    })?;
    let version = if self.opts.protocol == Some(1) {
      crate::backend::reader::Version::V1
    } else {
      crate::backend::reader::Version::V2
    };
    let data = c
      .read(&Keys::new(&self.opts.prefix), version)
      .map_err(|e| {
        err(format!(
          "promsd: reading the aggregate from Redis failed: {}",
          conn::failure(&e, &target)
        ))
      })?;
    let out = flusher::render_data(
      &data,
      &RenderOpts {
        open_metrics: self.opts.open_metrics,
        default_labels: pairs(&self.opts.default_labels),
        protobuf: false,
      },
      Vec::new(),
    );
    flusher::drop_later(data);
    Ok(out)
  }

  fn resolve(&mut self, _env: Env, output: String) -> Result<String> {
    Ok(output)
  }
}

/// Reads and renders a prefix's aggregate with a connection of its own.
#[napi(ts_return_type = "Promise<string>")]
pub fn redis_render(options: RedisReadOptions) -> AsyncTask<ReadTask> {
  AsyncTask::new(ReadTask { opts: options })
}

/// What [`redis_ping`] found.
#[napi(object)]
pub struct RedisPingResult {
  /// Redis answered `PING` (authenticated, over TLS when asked).
  pub ok: bool,
  /// Why not: `dns`, `auth`, `tls`, `timeout`, `refused`, `closed`, `config`, `server`, `other`.
  pub cause: Option<String>,
  /// `PONG`, or what failed in words (password masked).
  pub message: String,
}

/// The task of [`redis_ping`].
pub struct PingTask {
  target: Target,
}

impl Task for PingTask {
  type Output = RedisPingResult;
  type JsValue = RedisPingResult;

  fn compute(&mut self) -> Result<RedisPingResult> {
    Ok(match Conn::open(&self.target) {
      Ok(_) => RedisPingResult {
        ok: true,
        cause: None,
        message: "PONG".into(),
      },
      Err(f) => RedisPingResult {
        ok: false,
        cause: Some(f.cause.as_str().into()),
        message: f.message,
      },
    })
  }

  fn resolve(&mut self, _env: Env, output: RedisPingResult) -> Result<RedisPingResult> {
    Ok(output)
  }
}

/// Connects and PINGs once, with the backend's connection code: the cause of a failure is
/// named as the backend's log lines name it (`promsd check`, `promsd serve`).
#[napi(ts_return_type = "Promise<RedisPingResult>")]
pub fn redis_ping(
  urls: Vec<String>,
  cluster: bool,
  timeout_ms: u32,
  tls_ca: Option<String>,
) -> AsyncTask<PingTask> {
  AsyncTask::new(PingTask {
    target: Target {
      urls,
      cluster,
      timeout: Duration::from_millis(timeout_ms.max(1).into()),
      tls_ca: tls_ca.map(String::into_bytes),
    },
  })
}

#[cfg(unix)]
static AGGREGATOR: Mutex<Option<crate::backend::embedded::Holder>> = Mutex::new(None);

/// Where and how this process takes part in its host's one-host aggregation.
#[napi(object)]
pub struct AggregatorOptions {
  /// The Unix socket.
  pub socket: String,
  /// The lock file whose holder holds the aggregator.
  pub lock: String,
  /// The model's snapshot file.
  pub snapshot: String,
  /// How often a process that does not hold tries to take over, ms.
  pub poll_ms: u32,
  /// The heartbeat TTL, ms: a snapshot older than this is not loaded, and a holder whose
  /// heartbeat in the lock file is older than this is replaced.
  pub max_age_ms: u32,
  /// Never hold; only flush to the holder.
  pub never: bool,
}

/// Takes part in the one-host aggregation (see [`crate::backend::embedded`]): holds the
/// aggregator at once when no process does, else takes over when its holder is gone. Processes
/// flush to it with a `redis+unix://` URL.
#[cfg(unix)]
#[napi]
pub fn aggregator_start(env: Env, options: AggregatorOptions) -> Result<()> {
  use crate::backend::embedded::{Holder, HolderConfig, Paths};
  let mut slot = AGGREGATOR.lock().unwrap_or_else(|e| e.into_inner());
  if slot.is_some() {
    return Err(err(
      "promsd: this process already takes part in an embedded aggregation".into(),
    ));
  }
  let socket = options.socket.clone();
  let h = Holder::start(HolderConfig {
    paths: Paths {
      socket: options.socket.into(),
      lock: options.lock.into(),
      snapshot: options.snapshot.into(),
    },
    poll: Duration::from_millis(options.poll_ms.max(10).into()),
    max_age_ms: options.max_age_ms.into(),
    never: options.never,
  })
  .map_err(|e| {
    err(format!(
      "promsd: cannot hold the embedded aggregator at {socket:?}: {e}"
    ))
  })?;
  *slot = Some(h);
  // The socket and lock files go with the process.
  env.add_env_cleanup_hook((), |()| aggregator_stop())?;
  Ok(())
}

/// Names this process's id (from `backendOpen`): the holder writes its snapshot after each of
/// this process's flushes.
#[cfg(unix)]
#[napi]
pub fn aggregator_own_process(process_id: String) {
  if let Some(h) = AGGREGATOR
    .lock()
    .unwrap_or_else(|e| e.into_inner())
    .as_ref()
  {
    h.own_process(process_id);
  }
}

/// Whether this process holds its host's aggregator now.
#[cfg(unix)]
#[napi]
pub fn aggregator_holding() -> bool {
  AGGREGATOR
    .lock()
    .unwrap_or_else(|e| e.into_inner())
    .as_ref()
    .is_some_and(|h| h.holding())
}

/// Stops holding or waiting: a last snapshot is written and the socket and lock files are
/// removed. Safe to call twice.
#[cfg(unix)]
#[napi]
pub fn aggregator_stop() {
  if let Some(mut a) = AGGREGATOR.lock().unwrap_or_else(|e| e.into_inner()).take() {
    a.stop();
  }
}
