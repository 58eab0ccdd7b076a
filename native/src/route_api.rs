//! Where a registry's exposition comes from, decided once per scrape for every thread of the
//! process: the global registry (0) renders the cross-process aggregate through the backend
//! that is open in this process, whichever thread loaded it and whichever thread asks; every
//! other registry, and the global one when no backend is open, is this process's own store.
//!
//! ```text
//!  any JS thread ─ routeRender ─┬─ core backend open (flusher) ─► pool: flush + read + render ─┐
//!                               ├─ JS backend registered ───────► route thread ─ tsfn ─► owner  │
//!                               │    (IoredisBackend: its I/O     owner's loop: backend.render │
//!                               │     is on the thread that        → routeReply(id, bytes) ─────┤
//!                               │     loaded it)                                                │
//!                               └─ neither, or registry ≠ 0 ────► pool: encode the store ───────┤
//!       ◄── { body, format, aggregate, fallback } ── gzip ◄─ (a failed read, when asked: ───────┘
//!                                                              the store, and the cause)
//! ```
//!
//! No JS thread keeps its own idea of where the aggregate is: the core backend's slot is
//! `backend_api`'s, and a JS backend is registered here by `loadBackend` and removed by its
//! `close()` (or when its thread ends). A JS backend is called on its own thread through a
//! weak threadsafe function and answers through [`route_reply`]; the asking side waits on a
//! thread of its own (never a libuv pool thread: the owner's render may itself need the pool),
//! at most the registration's timeout.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::time::Duration;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;

use crate::api::{self, EncodeRequest};
use crate::backend::flusher::{Cmd, RenderOpts, Shared};

fn err(msg: String) -> Error {
  Error::new(Status::GenericFailure, msg)
}

/// An exposition format.
#[napi(string_enum = "lowercase")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpositionFormat {
  /// Prometheus text 0.0.4.
  Text,
  /// OpenMetrics 1.0.
  OpenMetrics,
  /// Delimited protobuf `MetricFamily` messages (the only one carrying native histograms).
  Protobuf,
}

impl ExpositionFormat {
  fn as_str(self) -> &'static str {
    match self {
      Self::Text => "text",
      Self::OpenMetrics => "openmetrics",
      Self::Protobuf => "protobuf",
    }
  }
}

/// One scrape of a registry, from any thread.
#[napi(object)]
pub struct RouteRequest {
  /// The registry (0: the global one, which aggregates when a backend is open).
  pub registry: u32,
  /// The format asked for. A JS backend that renders text only answers a protobuf request in
  /// OpenMetrics (the scraper's next choice); the result says which format it is.
  pub format: ExpositionFormat,
  /// Default labels as `[name, value, …]`.
  pub default_labels: Vec<String>,
  /// The caller's clock (`Date.now()`), for summary windows of the local view.
  pub now_ms: Option<f64>,
  /// gzip the result (from 1 KiB; smaller results come back plain).
  pub gzip: Option<bool>,
  /// When the aggregate cannot be read, answer with this process's own series and say why in
  /// `fallback` instead of rejecting (what servers do).
  pub fallback: Option<bool>,
  /// Answer in `text` (a JS string; V8 keeps a large ASCII one as an external string instead of
  /// copying it) rather than in `body`: what `metrics()` returns. Not with `gzip` or protobuf.
  pub as_text: Option<bool>,
}

/// What a scrape got.
#[napi(object, object_from_js = false)]
pub struct RouteResult {
  /// The exposition, gzipped when asked and worth it (tell by the magic bytes).
  pub body: Buffer,
  /// The format of `body`.
  pub format: ExpositionFormat,
  /// True when `body` is the cross-process aggregate.
  pub aggregate: bool,
  /// Why the aggregate could not be read, when `body` is this process's own series instead.
  pub fallback: Option<String>,
  /// The exposition as a string, when asked (`asText`); `body` is then empty.
  #[napi(ts_type = "string")]
  pub text: Option<api::Exposition>,
}

/// A registered JS backend.
pub(crate) struct JsRoute {
  render: ThreadsafeFunction<Args, (), Args, Status, false, true>,
  protobuf: bool,
  timeout: Duration,
  name: String,
  token: u32,
}

type Args = FnArgs<(u32, String, Vec<String>)>;

static JS: Mutex<Option<Arc<JsRoute>>> = Mutex::new(None);
/// Scrapes waiting for a JS backend's answer, by request id.
static PENDING: LazyLock<Mutex<HashMap<u32, Sender<Reply>>>> =
  LazyLock::new(|| Mutex::new(HashMap::new()));
static NEXT_ID: AtomicU32 = AtomicU32::new(1);
static NEXT_TOKEN: AtomicU32 = AtomicU32::new(1);

type Reply = std::result::Result<Vec<u8>, String>;

fn js_route() -> Option<Arc<JsRoute>> {
  JS.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Hook of `backend_open`: refuses a core backend while a JS backend is registered (one backend
/// per process). The guard it returns keeps registrations out until the core backend is in its
/// slot (locks are always taken JS slot first, then the core's, as in [`route_register`]).
pub(crate) fn core_opening() -> Result<MutexGuard<'static, Option<Arc<JsRoute>>>> {
  let slot = JS.lock().unwrap_or_else(|e| e.into_inner());
  if let Some(js) = slot.as_ref() {
    return Err(err(format!(
      "promsd: a backend ({}) is already loaded in this process (close it first)",
      js.name
    )));
  }
  Ok(slot)
}

/// Registers the JS backend that aggregates the global registry; returns the token that
/// [`route_unregister`] takes. `render(id, format, defaultLabels)` is called on this thread for
/// every scrape of the global registry from any thread, and must answer with [`route_reply`].
/// `protobuf` says whether it renders the protobuf format (else it is asked for OpenMetrics);
/// a scrape waits at most `timeoutMs` for it.
#[napi]
pub fn route_register(
  env: Env,
  name: String,
  protobuf: bool,
  timeout_ms: u32,
  #[napi(ts_arg_type = "(id: number, format: ExpositionFormat, defaultLabels: string[]) => void")]
  render: Function<Args, ()>,
) -> Result<u32> {
  let mut slot = JS.lock().unwrap_or_else(|e| e.into_inner());
  if let Some(js) = slot.as_ref() {
    return Err(err(format!(
      "promsd: a backend ({}) is already loaded in this process (close it first)",
      js.name
    )));
  }
  if crate::backend_api::sender().is_ok() {
    return Err(err(
      "promsd: a backend is already loaded in this process (close it first)".into(),
    ));
  }
  let render = render
    .build_threadsafe_function()
    .callee_handled::<false>()
    .weak::<true>()
    .build()?;
  let token = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
  *slot = Some(Arc::new(JsRoute {
    render,
    protobuf,
    timeout: Duration::from_millis(timeout_ms.max(1).into()),
    name,
    token,
  }));
  drop(slot);
  // The thread that holds the backend ends: nobody can answer for it any more.
  env.add_env_cleanup_hook(token, unregister)?;
  Ok(token)
}

/// Removes the JS backend registered with `token` (a later registration is left alone); the
/// scrapes still waiting for it fail at once. Safe to call twice.
#[napi]
pub fn route_unregister(token: u32) {
  unregister(token);
}

fn unregister(token: u32) {
  let mut slot = JS.lock().unwrap_or_else(|e| e.into_inner());
  if slot.as_ref().is_some_and(|js| js.token == token) {
    *slot = None;
    drop(slot);
    let waiting: Vec<_> = PENDING
      .lock()
      .unwrap_or_else(|e| e.into_inner())
      .drain()
      .collect();
    for (_, tx) in waiting {
      let _ = tx.send(Err(
        "promsd: the backend was closed during the scrape".into(),
      ));
    }
  }
}

/// A JS backend's answer to request `id`: the exposition, or why it failed. An answer that
/// comes after the scrape gave up is dropped.
#[napi]
pub fn route_reply(id: u32, body: Option<Buffer>, error: Option<String>) {
  let tx = PENDING
    .lock()
    .unwrap_or_else(|e| e.into_inner())
    .remove(&id);
  if let Some(tx) = tx {
    let reply = match (body, error) {
      (Some(b), _) => Ok(b.to_vec()),
      (None, e) => Err(e.unwrap_or_else(|| "promsd: the backend rendered nothing".into())),
    };
    let _ = tx.send(reply);
  }
}

/// False while a JS backend that renders text only aggregates the global registry: its
/// protobuf requests are answered in OpenMetrics.
#[napi]
pub fn route_encodes_protobuf(registry: u32) -> bool {
  registry != 0 || crate::backend_api::sender().is_ok() || js_route().is_none_or(|js| js.protobuf)
}

/// What one scrape does, decided by [`route_render`].
struct Plan {
  registry: u32,
  format: ExpositionFormat,
  default_labels: Vec<String>,
  now_ms: Option<f64>,
  gzip: bool,
  fallback: bool,
  text: bool,
}

struct Rendered {
  body: Vec<u8>,
  format: ExpositionFormat,
  aggregate: bool,
  fallback: Option<String>,
  text: Option<api::Exposition>,
}

impl Rendered {
  /// Moves a text answer from `body` to `text` when asked (off the JS thread: the ASCII check).
  fn with_text(mut self, asked: bool) -> Self {
    if asked && !self.body.is_empty() && self.format != ExpositionFormat::Protobuf {
      let body = std::mem::take(&mut self.body);
      let text = String::from_utf8(body)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
      self.text = Some(api::Exposition::new(text));
    }
    self
  }

  fn into_js(self) -> RouteResult {
    RouteResult {
      body: Buffer::from(self.body),
      format: self.format,
      aggregate: self.aggregate,
      fallback: self.fallback,
      text: self.text,
    }
  }
}

impl Plan {
  fn local(&self, format: ExpositionFormat) -> Reply {
    let req = EncodeRequest {
      registry: self.registry,
      open_metrics: format == ExpositionFormat::OpenMetrics,
      default_labels: self.default_labels.clone(),
      only: None,
      protobuf: Some(format == ExpositionFormat::Protobuf),
      now_ms: self.now_ms,
      gzip: None,
    };
    if format == ExpositionFormat::Protobuf {
      api::encode_protobuf_now(&req)
    } else {
      api::encode_now(&req).map(String::into_bytes)
    }
  }

  /// The core backend's aggregate, rendered on this (pool) thread: the flusher's state is
  /// taken only for the flush before it (and a read away from the holder), never queued for
  /// on the flusher thread.
  fn core(&self, core: &Shared) -> Reply {
    let opts = RenderOpts {
      open_metrics: self.format == ExpositionFormat::OpenMetrics,
      default_labels: pairs(&self.default_labels),
      protobuf: self.format == ExpositionFormat::Protobuf,
    };
    core.render(&opts, None)
  }

  fn js(&self, js: &JsRoute, format: ExpositionFormat) -> Reply {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let (tx, rx) = mpsc::channel();
    PENDING
      .lock()
      .unwrap_or_else(|e| e.into_inner())
      .insert(id, tx);
    let forget = || {
      PENDING
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&id);
    };
    let args = (id, format.as_str().to_owned(), self.default_labels.clone());
    let status = js
      .render
      .call(FnArgs::from(args), ThreadsafeFunctionCallMode::NonBlocking);
    if status != Status::Ok {
      forget();
      return Err(format!(
        "promsd: the thread that loaded {} can no longer render ({status})",
        js.name
      ));
    }
    match rx.recv_timeout(js.timeout) {
      Ok(reply) => reply,
      Err(_) => {
        forget();
        Err(format!(
          "promsd: {} did not render within {} ms on the thread that loaded it (its I/O runs on that thread's event loop)",
          js.name,
          js.timeout.as_millis()
        ))
      }
    }
  }

  /// The aggregate's outcome, the fallback to the store when asked, then gzip.
  fn finish(&self, read: Reply, format: ExpositionFormat) -> std::result::Result<Rendered, String> {
    // The store can encode every format: a fallback answers in the one asked for.
    let (body, format, aggregate, fallback) = match read {
      Ok(body) => (body, format, true, None),
      Err(cause) if self.fallback => (self.local(self.format)?, self.format, false, Some(cause)),
      Err(cause) => return Err(cause),
    };
    let body = if self.gzip && body.len() >= 1024 {
      api::gzip(&body).map_err(|e| format!("gzip: {e}"))?
    } else {
      body
    };
    Ok(Rendered {
      body,
      format,
      aggregate,
      fallback,
      text: None,
    })
  }
}

fn pairs(flat: &[String]) -> Vec<(String, String)> {
  flat
    .chunks(2)
    .map(|p| (p[0].clone(), p.get(1).cloned().unwrap_or_default()))
    .collect()
}

/// A scrape rendered on the libuv pool: the store, or the core backend's aggregate.
struct RouteTask {
  plan: Plan,
  core: Option<Shared>,
}

impl Task for RouteTask {
  type Output = Rendered;
  type JsValue = RouteResult;

  fn compute(&mut self) -> Result<Rendered> {
    let p = &self.plan;
    let result = match &self.core {
      Some(tx) => p.finish(p.core(tx), p.format),
      None => p.local(p.format).and_then(|body| {
        let mut r = p.finish(Ok(body), p.format)?;
        r.aggregate = false;
        Ok(r)
      }),
    };
    result.map(|r| r.with_text(p.text)).map_err(err)
  }

  fn resolve(&mut self, _env: Env, output: Rendered) -> Result<RouteResult> {
    Ok(output.into_js())
  }
}

/// Renders a registry from any thread: the global registry through the backend open in this
/// process (the core's, or the JS backend registered by the thread that loaded it), every other
/// registry — and the global one without a backend — from this process's store. One question,
/// asked by `Registry.metrics()`, `metricsBuffer()` and both servers alike.
#[napi(ts_return_type = "Promise<RouteResult>")]
pub fn route_render<'env>(env: &'env Env, request: RouteRequest) -> Result<Unknown<'env>> {
  let plan = Plan {
    registry: request.registry,
    format: request.format,
    default_labels: request.default_labels,
    now_ms: request.now_ms,
    gzip: request.gzip == Some(true),
    fallback: request.fallback == Some(true),
    text: request.as_text == Some(true) && request.gzip != Some(true),
  };
  let core = if plan.registry == 0 {
    crate::backend_api::shared().ok()
  } else {
    None
  };
  let js = if plan.registry == 0 && core.is_none() {
    js_route()
  } else {
    None
  };
  let Some(js) = js else {
    let promise = env.spawn(RouteTask { plan, core })?.promise_object();
    return Ok(promise.to_unknown());
  };
  let (deferred, promise) = env.create_deferred::<RouteResult, _>()?;
  let format = if plan.format == ExpositionFormat::Protobuf && !js.protobuf {
    ExpositionFormat::OpenMetrics
  } else {
    plan.format
  };
  std::thread::Builder::new()
    .name("promsd-route".into())
    .spawn(move || {
      let read = plan.js(&js, format);
      drop(js);
      match plan.finish(read, format) {
        Ok(r) => {
          let r = r.with_text(plan.text);
          deferred.resolve(move |_| Ok(r.into_js()))
        }
        Err(e) => deferred.reject(err(e)),
      }
    })
    .map_err(|e| err(format!("promsd: cannot start a render thread: {e}")))?;
  Ok(promise.to_unknown())
}

/// The release of a flusher thread held by [`backend_hold_flusher`].
static HELD: Mutex<Option<Sender<()>>> = Mutex::new(None);

/// The task of [`backend_hold_flusher`].
pub struct HoldTask {
  max: Duration,
}

impl Task for HoldTask {
  type Output = ();
  type JsValue = ();

  fn compute(&mut self) -> Result<()> {
    let tx = crate::backend_api::sender()?;
    let (held_tx, held_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel();
    *HELD.lock().unwrap_or_else(|e| e.into_inner()) = Some(release_tx);
    tx.send(Cmd::Hold(held_tx, release_rx, self.max))
      .map_err(|_| err("promsd: the backend is closed".into()))?;
    held_rx
      .recv_timeout(Duration::from_secs(10))
      .map_err(|_| err("promsd: the flusher thread did not take the hold".into()))
  }

  fn resolve(&mut self, _env: Env, _output: ()) -> Result<()> {
    Ok(())
  }
}

/// For tests: keeps the core backend's flusher thread busy, as a flush that hangs would, until
/// [`backend_release_flusher`] or `maxMs`; resolves once the thread is held. A scrape of the
/// global registry renders on its own pool thread, so it still answers meanwhile.
#[napi(ts_return_type = "Promise<void>")]
pub fn backend_hold_flusher(max_ms: u32) -> AsyncTask<HoldTask> {
  AsyncTask::new(HoldTask {
    max: Duration::from_millis(max_ms.into()),
  })
}

/// Releases the flusher thread held by [`backend_hold_flusher`].
#[napi]
pub fn backend_release_flusher() {
  HELD.lock().unwrap_or_else(|e| e.into_inner()).take();
}
