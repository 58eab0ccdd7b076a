//! The napi surface: everything JS can call. Registration calls are synchronous and happen
//! once per shard, chunk, family or series; updates never cross this boundary. Encoding runs
//! on the libuv pool and resolves a Promise.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::encoder::{self, EncodeOptions, Format};
use crate::merge::{self, stride};
use crate::store::{self, Aggregator, Exemplar, FamilyDef, Kind, NativeDef, Page};

fn err(msg: String) -> Error {
  Error::new(Status::InvalidArg, msg)
}

use crate::clock::now_ms;

/// Metric type.
#[napi(string_enum = "lowercase")]
pub enum MetricType {
  /// Monotonic counter.
  Counter,
  /// Gauge.
  Gauge,
  /// Histogram.
  Histogram,
  /// Summary.
  Summary,
}

/// The part of a family's definition only histograms and summaries have (counters and gauges
/// pass none: `familyAdd` takes the common fields as arguments, since reading each property of
/// an object costs a napi call — issue 17, 100k metrics created in under a second).
#[napi(object)]
pub struct TypeOptions {
  /// Histogram upper bounds, strictly increasing, without +Inf.
  pub buckets: Option<Vec<f64>>,
  /// Summary quantiles in [0, 1].
  pub quantiles: Option<Vec<f64>>,
  /// Summary sliding window, seconds.
  pub max_age_seconds: Option<f64>,
  /// Summary sub-windows.
  pub age_buckets: Option<u32>,
  /// Native histogram schema (-4..=8); set for histograms with native buckets.
  pub native_schema: Option<i32>,
  /// Native histogram zero bucket breadth.
  pub native_zero_threshold: Option<f64>,
  /// Native histogram bucket limit (0: none).
  pub native_max_buckets: Option<u32>,
  /// Native histogram minimum reset interval, seconds (0: never reset).
  pub native_min_reset_seconds: Option<f64>,
}

/// Options of one exposition.
#[napi(object)]
pub struct EncodeRequest {
  /// Which registry to encode (0: the process-wide global one).
  pub registry: u32,
  /// OpenMetrics instead of text 0.0.4.
  pub open_metrics: bool,
  /// Default labels as `[name, value, name, value, …]`.
  pub default_labels: Vec<String>,
  /// Only this metric name.
  pub only: Option<String>,
  /// The Prometheus protobuf format instead (`encodeBuffer` only; overrides `openMetrics`).
  pub protobuf: Option<bool>,
  /// The caller's clock (`Date.now()`), so summary windows follow the clock JS observed with
  /// (fake timers included); default: the system clock.
  pub now_ms: Option<f64>,
  /// gzip the result (`encodeBuffer` only, and only from 1 KiB: smaller results come back plain),
  /// in the same pool task as the encoding.
  pub gzip: Option<bool>,
}

/// An exemplar as `get()` returns it (prom-client's `{ labelSet, value, timestamp }`).
#[napi(object)]
pub struct ExemplarSnapshot {
  /// Label names and values, `[name, value, …]`.
  pub labels: Vec<String>,
  /// Observed value.
  pub value: f64,
  /// Unix seconds.
  pub timestamp: f64,
}

/// One series of a [`FamilySnapshot`].
#[napi(object)]
pub struct SeriesSnapshot {
  /// Exemplars: one for a counter, one per bucket (with +Inf) for a histogram, none otherwise.
  pub exemplars: Vec<Option<ExemplarSnapshot>>,
  /// Label values, in the family's label-name order; `null` where the series lacks the label.
  pub label_values: Vec<Option<String>>,
  /// Counter/gauge `[v]`; histogram `[bucket counts…, +Inf count, sum]` (not cumulative);
  /// summary `[quantile values…, sum, count]`.
  pub values: Vec<f64>,
}

/// The merged values of one family, for `get()` and `getMetricsAsJSON()`.
#[napi(object)]
pub struct FamilySnapshot {
  /// Family name, as `get()` reports it.
  pub name: String,
  /// Help text, unescaped.
  pub help: String,
  /// prom-client's type word (`counter`, `gauge`, `histogram`, `summary`).
  pub kind: String,
  /// Aggregator.
  pub aggregator: String,
  /// Label names.
  pub label_names: Vec<String>,
  /// Histogram buckets.
  pub buckets: Vec<f64>,
  /// Summary quantiles.
  pub quantiles: Vec<f64>,
  /// Series.
  pub series: Vec<SeriesSnapshot>,
}

/// Opens a shard for the calling JS thread. When the thread's environment is torn down its
/// slots are copied into the store, so a finished worker's counters stay in the totals.
///
/// `realm` is the caller's `globalThis`. A shard opened from a `vm` context (Jest's default
/// environment, vitest's vm pools) belongs to that context: when this thread opens another
/// one (the next test file, or `jest.resetModules()`), the earlier one's families leave every
/// registry, as they would with a fresh copy of prom-client.
#[napi]
pub fn shard_open(env: Env, realm: Option<Unknown>) -> Result<u32> {
  let in_vm = match realm {
    Some(r) => {
      let global = env.get_global()?;
      let mut same = false;
      check_status!(unsafe {
        sys::napi_strict_equals(env.raw(), global.raw(), r.raw(), &mut same)
      })?;
      !same
    }
    None => false,
  };
  trim_after_teardown();
  let mut s = store::store();
  let shard = s.new_shard();
  let earlier = VM_SHARDS.with(|v| std::mem::take(&mut *v.borrow_mut()));
  for old in earlier {
    s.discard_shard(old);
  }
  if in_vm {
    VM_SHARDS.with(|v| v.borrow_mut().push(shard));
  }
  drop(s);
  env.add_env_cleanup_hook(shard, |shard| {
    // Scrapes reading a snapshot outside the store lock may still hold this shard's chunk
    // pointers: wait for them before the memory goes.
    let _readers = store::chunk_teardown();
    store::store().retire_shard(shard);
    TORN_DOWN.store(true, std::sync::atomic::Ordering::Relaxed);
  })?;
  Ok(shard)
}

/// Set when a thread's environment was torn down since the last [`trim_after_teardown`].
static TORN_DOWN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// After a worker thread ended, the memory its isolate freed sits in glibc's per-thread arenas
/// (rss grew 1.5–10 MB per 1,000 exited workers depending on which arenas the next threads
/// reused): the next thread start or scrape returns it (the hook itself runs before the isolate
/// is freed, too early).
fn trim_after_teardown() {
  if TORN_DOWN.swap(false, std::sync::atomic::Ordering::Relaxed) {
    return_free_memory();
  }
}

thread_local! {
  /// Shards this thread opened from vm contexts (see [`shard_open`]).
  static VM_SHARDS: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Hands a chunk of slots (a `Float64Array` over a `SharedArrayBuffer`) to the store.
#[napi]
pub fn chunk_attach(env: Env, shard: u32, slots: Float64ArraySlice) -> Result<u32> {
  let raw = unsafe { ToNapiValue::to_napi_value(env.raw(), slots)? };
  let mut buffer = std::ptr::null_mut();
  let is_plain = unsafe {
    let mut t = 0;
    let mut len = 0;
    let mut data = std::ptr::null_mut();
    let mut off = 0;
    check_status!(sys::napi_get_typedarray_info(
      env.raw(),
      raw,
      &mut t,
      &mut len,
      &mut data,
      &mut buffer,
      &mut off
    ))?;
    // A plain ArrayBuffer could be detached or moved by a transfer; only SABs are stable. A
    // typed array's buffer is one or the other, so "not an ArrayBuffer" means shared memory
    // in every realm (an `instanceof` against this realm's constructor fails in vm contexts).
    let mut is_plain = false;
    check_status!(sys::napi_is_arraybuffer(env.raw(), buffer, &mut is_plain))?;
    is_plain
  };
  if is_plain {
    return Err(err(
      "slots must be a Float64Array over a SharedArrayBuffer".into(),
    ));
  }
  // Keep the array alive for the life of the environment; the cleanup hook copies it out.
  let mut reference = std::ptr::null_mut();
  check_status!(unsafe { sys::napi_create_reference(env.raw(), raw, 1, &mut reference) })?;
  let ptr = slots.as_ref().as_ptr();
  unsafe { store::store().attach_chunk(shard, ptr, slots.len()) }.map_err(err)
}

/// Registers a metric family written by `shard`: its name (validated by JS), help text
/// (unescaped: the encoder escapes it per format), type (it decides the series' slot layout,
/// see `layout.rs`), label names in declaration order, cross-thread aggregator, and for
/// histograms and summaries their [`TypeOptions`].
#[napi]
pub fn family_add(
  shard: u32,
  name: String,
  help: String,
  kind: MetricType,
  label_names: Vec<String>,
  aggregator: Aggregator,
  options: Option<TypeOptions>,
) -> Result<u32> {
  let kind = match kind {
    MetricType::Counter => Kind::Counter,
    MetricType::Gauge => Kind::Gauge,
    MetricType::Histogram => Kind::Histogram,
    MetricType::Summary => Kind::Summary,
  };
  let o = options.unwrap_or(TypeOptions {
    buckets: None,
    quantiles: None,
    max_age_seconds: None,
    age_buckets: None,
    native_schema: None,
    native_zero_threshold: None,
    native_max_buckets: None,
    native_min_reset_seconds: None,
  });
  let native = native_def(&name, kind, &o)?;
  let def = FamilyDef {
    name,
    help,
    kind,
    label_names,
    buckets: o.buckets.unwrap_or_default(),
    quantiles: o.quantiles.unwrap_or_default(),
    max_age_ms: o.max_age_seconds.unwrap_or(600.0) * 1000.0,
    age_buckets: o.age_buckets.unwrap_or(5).max(1),
    aggregator,
    native,
  };
  store::store().add_family(shard, def).map_err(err)
}

fn native_def(name: &str, kind: Kind, o: &TypeOptions) -> Result<Option<NativeDef>> {
  let Some(schema) = o.native_schema else {
    return Ok(None);
  };
  let range = crate::native_histogram::MIN_SCHEMA..=crate::native_histogram::MAX_SCHEMA;
  if kind != Kind::Histogram || !range.contains(&schema) {
    return Err(err(format!(
      "metric \"{name}\": native schema {schema} is not a histogram schema in -4..=8"
    )));
  }
  Ok(Some(NativeDef {
    schema,
    zero_threshold: o.native_zero_threshold.unwrap_or(0.0).max(0.0),
    max_buckets: o.native_max_buckets.unwrap_or(0),
    min_reset_ms: o.native_min_reset_seconds.unwrap_or(0.0) * 1000.0,
  }))
}

/// Forgets a family entirely.
#[napi]
pub fn family_drop(family: u32) {
  store::store().drop_family(family);
}

/// Forgets a family entirely and hands back the shard slots it held, as `[chunk, offset,
/// length]` triples (native chunk ids), for the writing thread to reuse. Empty when it was
/// already dropped. Called when the JS metric object is garbage-collected.
#[napi]
pub fn family_release(family: u32) -> Vec<u32> {
  store::store().release_family(family)
}

/// [`family_release`] for many families at once (one lock), as JS batches its finalizations;
/// the triples of all of them, back to back. After a large batch the allocator is asked to
/// return the freed pages (see [`return_free_memory`]).
#[napi]
pub fn family_release_many(families: Vec<u32>) -> Vec<u32> {
  let runs = {
    let mut s = store::store();
    let mut runs = Vec::new();
    for f in &families {
      runs.extend(s.release_family(*f));
    }
    if families.len() >= TRIM_AFTER {
      s.shrink_if_sparse();
    }
    runs
  };
  if families.len() >= TRIM_AFTER {
    return_free_memory();
  }
  runs
}

/// Families released at once from which [`return_free_memory`] is worth its cost.
const TRIM_AFTER: usize = 1024;

/// Gives the pages freed inside glibc's heap back to the system. glibc returns only the top of
/// its heap on `free`: a family's many small allocations (definition, label arena, registry
/// index entries) freed among live ones stay in rss forever otherwise (issue 17: dropped
/// metrics left their memory in rss even once freed). A no-op on other allocators.
pub fn return_free_memory() {
  #[cfg(all(target_os = "linux", target_env = "gnu"))]
  {
    extern "C" {
      fn malloc_trim(pad: usize) -> i32;
    }
    // SAFETY: glibc's malloc_trim takes the allocator's own locks; no precondition.
    unsafe {
      malloc_trim(0);
    }
  }
}

/// The sequence number the next scrape snapshot gets: record it when freeing a series' slots,
/// reuse them once [`oldest_snapshot_reader`] reaches it (see `store::snapshot_seq`).
#[napi]
pub fn snapshot_seq() -> f64 {
  store::snapshot_seq() as f64
}

/// The sequence number of the oldest scrape snapshot still being read, or the next one's.
#[napi]
pub fn oldest_snapshot_reader() -> f64 {
  store::oldest_reader() as f64
}

/// How many families and registries the core holds (leak checks).
#[napi(object)]
pub struct StoreCounts {
  /// Live metric families, every thread's.
  pub families: u32,
  /// Live registries, the global one included.
  pub registries: u32,
}

/// How many families and registries the core holds now.
#[napi]
pub fn store_counts() -> StoreCounts {
  let s = store::store();
  StoreCounts {
    families: s.family_count() as u32,
    registries: s.registry_count() as u32,
  }
}

/// Forgets every series of a family (`reset()`).
#[napi]
pub fn family_clear(family: u32) -> Result<()> {
  store::store().clear_family(family).map_err(err)
}

/// Registers series `index` (dense per family, chosen by JS). Label values are rendered and
/// escaped here, once; `null` is a label the series does not have.
#[napi]
pub fn series_add(
  family: u32,
  index: u32,
  label_values: Vec<Option<String>>,
  chunk: u32,
  offset: u32,
) -> Result<()> {
  let mut s = store::store();
  let names = &s.family(family).map_err(err)?.def.label_names;
  if names.len() != label_values.len() {
    return Err(err(format!(
      "expected {} label values, got {}",
      names.len(),
      label_values.len()
    )));
  }
  let labels = encoder::store_label_values(&label_values);
  s.add_series(family, index, &labels, chunk, offset)
    .map_err(err)
}

/// Forgets one series (`remove(labels)`).
#[napi]
pub fn series_remove(family: u32, index: u32) -> Result<()> {
  store::store().remove_series(family, index).map_err(err)
}

/// Adds a page of summary sketch bins to a series.
#[napi]
pub fn page_add(
  family: u32,
  index: u32,
  window: u32,
  negative: bool,
  base: i32,
  chunk: u32,
  offset: u32,
) -> Result<()> {
  let page = Page {
    window,
    negative,
    base,
    chunk,
    offset,
  };
  store::store().add_page(family, index, page).map_err(err)
}

/// Sets the exemplar of series `index`: `slot` 0 for a counter, the bucket for a histogram.
/// `labels` is `[name, value, …]`; `timestamp` is Unix seconds.
#[napi]
pub fn exemplar_set(
  family: u32,
  index: u32,
  slot: u32,
  labels: Vec<String>,
  value: f64,
  timestamp: f64,
) -> Result<()> {
  let (names, values): (Vec<String>, Vec<String>) = labels
    .chunks(2)
    .map(|p| (p[0].clone(), p.get(1).cloned().unwrap_or_default()))
    .unzip();
  let ex = Exemplar {
    labels: encoder::render_labels(&names, &values),
    value,
    timestamp,
  };
  store::store()
    .set_exemplar(family, index, slot, ex)
    .map_err(err)
}

/// A new registry; 0 is the process-wide default registry.
#[napi]
pub fn registry_new() -> u32 {
  store::store().new_registry()
}

/// Frees a registry.
#[napi]
pub fn registry_drop(registry: u32) {
  let members = {
    let mut s = store::store();
    let n = s.registry_families(registry).map_or(0, |f| f.len());
    s.drop_registry(registry);
    if n >= TRIM_AFTER {
      s.shrink_if_sparse();
    }
    n
  };
  if members >= TRIM_AFTER {
    return_free_memory();
  }
}

/// Adds a family to a registry.
#[napi]
pub fn registry_add(registry: u32, family: u32) -> Result<()> {
  store::store().registry_add(registry, family).map_err(err)
}

/// Removes a family from a registry.
#[napi]
pub fn registry_remove(registry: u32, family: u32) -> Result<()> {
  store::store()
    .registry_remove(registry, family)
    .map_err(err)
}

fn pairs(flat: &[String]) -> Vec<(String, String)> {
  flat
    .chunks(2)
    .map(|p| (p[0].clone(), p.get(1).cloned().unwrap_or_default()))
    .collect()
}

/// The protobuf exposition of a registry.
pub(crate) fn encode_protobuf_now(req: &EncodeRequest) -> std::result::Result<Vec<u8>, String> {
  let defaults = pairs(&req.default_labels);
  let _chunks = store::chunk_readers();
  let snap = store::store().snapshot(req.registry, req.only.as_deref())?;
  let families = merge::merge_registry(&snap.store, req.registry, None, now_ms())?;
  let opts = EncodeOptions {
    format: Format::Text,
    default_labels: &defaults,
  };
  let mut out = Vec::with_capacity(families.iter().map(|f| f.len() * 32 + 64).sum());
  crate::protobuf::encode(&families, &opts, &mut out);
  Ok(out)
}

/// The text exposition of a registry (also the local view of [`crate::route_api`]).
pub(crate) fn encode_now(req: &EncodeRequest) -> std::result::Result<String, String> {
  if req.protobuf == Some(true) {
    return Err("the protobuf format is binary: use encodeBuffer".into());
  }
  let defaults = pairs(&req.default_labels);
  // The store lock is held only while the registry is copied; merging and encoding read the
  // copy, so creating a series during a large scrape waits for the copy, not the encode.
  let _chunks = store::chunk_readers();
  let snap = store::store().snapshot(req.registry, req.only.as_deref())?;
  let families = merge::merge_registry(
    &snap.store,
    req.registry,
    None,
    req.now_ms.unwrap_or_else(now_ms),
  )?;
  let opts = EncodeOptions {
    format: if req.open_metrics {
      Format::OpenMetrics
    } else {
      Format::Text
    },
    default_labels: &defaults,
  };
  let mut out = String::with_capacity(families.iter().map(|f| f.len() * 48 + 64).sum());
  encoder::encode(&families, &opts, &mut out);
  Ok(out)
}

/// Encodes a registry on the libuv pool.
pub struct EncodeTask {
  req: EncodeRequest,
}

impl Task for EncodeTask {
  type Output = Exposition;
  type JsValue = Exposition;

  fn compute(&mut self) -> Result<Exposition> {
    trim_after_teardown();
    let text = encode_now(&self.req).map_err(err)?;
    // Checked here, on the pool thread, so that the JS thread only copies.
    let ascii = text.is_ascii();
    Ok(Exposition { text, ascii })
  }

  fn resolve(&mut self, _env: Env, output: Exposition) -> Result<Exposition> {
    Ok(output)
  }
}

/// An exposition on its way to a JS string. Building it is what `metrics()` costs the JS thread
/// (the encoding ran on the pool): from UTF-8, V8 validates and transcodes every byte; the
/// exposition is almost always ASCII, which V8 takes as a Latin-1 one-byte string by a plain
/// copy (100k counters: about half the time).
pub struct Exposition {
  text: String,
  ascii: bool,
}

impl Exposition {
  /// `text`, checked for ASCII here (call on a pool thread: the JS thread then only hands it over).
  pub fn new(text: String) -> Self {
    let ascii = text.is_ascii();
    Exposition { text, ascii }
  }
}

impl TypeName for Exposition {
  fn type_name() -> &'static str {
    "string"
  }

  fn value_type() -> ValueType {
    ValueType::String
  }
}

impl ToNapiValue for Exposition {
  unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
    if !val.ascii {
      return unsafe { String::to_napi_value(env, val.text) };
    }
    #[cfg(target_os = "linux")]
    let val = match unsafe { external_latin1(env, val) } {
      Ok(v) => return Ok(v),
      Err(val) => val,
    };
    let mut out = std::ptr::null_mut();
    check_status!(unsafe {
      sys::napi_create_string_latin1(
        env,
        val.text.as_ptr().cast(),
        val.text.len() as isize,
        &mut out,
      )
    })?;
    Ok(out)
  }
}

/// `node_api_create_external_string_latin1` (Node >= 20.4, still marked experimental): V8 keeps a
/// pointer to our bytes instead of copying them into its heap (the 2.6 MB copy, and the garbage
/// it leaves, cost the JS thread ~3-5 ms per `metrics()` at 100k series). Looked up at run time,
/// so a runtime without it gets the copy instead of failing to load the addon.
#[cfg(target_os = "linux")]
type ExternalLatin1 = unsafe extern "C" fn(
  sys::napi_env,
  *mut std::ffi::c_char,
  isize,
  sys::napi_finalize,
  *mut std::ffi::c_void,
  *mut sys::napi_value,
  *mut bool,
) -> sys::napi_status;

#[cfg(target_os = "linux")]
fn external_latin1_fn() -> Option<ExternalLatin1> {
  static FN: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
  extern "C" {
    fn dlsym(
      handle: *mut std::ffi::c_void,
      symbol: *const std::ffi::c_char,
    ) -> *mut std::ffi::c_void;
  }
  let addr = *FN.get_or_init(|| {
    // SAFETY: RTLD_DEFAULT (null on glibc and musl) searches the process's global symbols.
    unsafe {
      dlsym(
        std::ptr::null_mut(),
        c"node_api_create_external_string_latin1".as_ptr(),
      ) as usize
    }
  });
  // SAFETY: the symbol has this signature (js_native_api.h).
  (addr != 0).then(|| unsafe { std::mem::transmute::<usize, ExternalLatin1>(addr) })
}

#[cfg(target_os = "linux")]
unsafe extern "C" fn free_exposition(
  _env: sys::napi_env,
  data: *mut std::ffi::c_void,
  hint: *mut std::ffi::c_void,
) {
  // SAFETY: `data` and `hint` are the pointer and length of the bytes leaked below.
  drop(unsafe {
    Box::from_raw(std::ptr::slice_from_raw_parts_mut(
      data as *mut u8,
      hint as usize,
    ))
  });
}

/// The exposition as an external one-byte string; gives `val` back when that is not possible.
///
/// # Safety
/// `env` is the calling thread's environment.
#[cfg(target_os = "linux")]
unsafe fn external_latin1(
  env: sys::napi_env,
  val: Exposition,
) -> std::result::Result<sys::napi_value, Exposition> {
  let Some(create) = external_latin1_fn() else {
    return Err(val);
  };
  if val.text.len() < 64 * 1024 {
    return Err(val); // small: a copy is as cheap
  }
  let bytes = val.text.into_bytes().into_boxed_slice();
  let len = bytes.len();
  let ptr = Box::into_raw(bytes) as *mut u8;
  let mut out = std::ptr::null_mut();
  let mut copied = false;
  // SAFETY: `ptr` is valid for `len` bytes until the finalizer frees it.
  let status = unsafe {
    create(
      env,
      ptr.cast(),
      len as isize,
      Some(free_exposition),
      len as *mut std::ffi::c_void,
      &mut out,
      &mut copied,
    )
  };
  if status == sys::Status::napi_ok {
    // When V8 copied, the finalizer already freed the bytes.
    return Ok(out);
  }
  // Not created: the bytes are still ours.
  // SAFETY: leaked above and not handed over.
  let bytes = unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len)) };
  Err(Exposition {
    text: String::from_utf8(bytes.into_vec()).unwrap_or_default(),
    ascii: true,
  })
}

/// Encodes the merged view of a registry off the JS thread.
#[napi(ts_return_type = "Promise<string>")]
pub fn encode(request: EncodeRequest) -> AsyncTask<EncodeTask> {
  AsyncTask::new(EncodeTask { req: request })
}

/// gzip at level 1: on exposition text it keeps ~90% of level 6's saving at a third of the CPU.
pub(crate) fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
  use std::io::Write;
  let mut enc = flate2::write::GzEncoder::new(
    Vec::with_capacity(bytes.len() / 8 + 64),
    flate2::Compression::fast(),
  );
  enc.write_all(bytes)?;
  enc.finish()
}

/// Encodes a registry on the libuv pool into bytes (no JS string is built).
pub struct EncodeBufferTask {
  req: EncodeRequest,
}

impl Task for EncodeBufferTask {
  type Output = Vec<u8>;
  type JsValue = Buffer;

  fn compute(&mut self) -> Result<Vec<u8>> {
    trim_after_teardown();
    let bytes = if self.req.protobuf == Some(true) {
      encode_protobuf_now(&self.req).map_err(err)?
    } else {
      encode_now(&self.req).map_err(err)?.into_bytes()
    };
    // Below 1 KiB gzip costs more than it saves; callers tell by the gzip magic bytes.
    if self.req.gzip != Some(true) || bytes.len() < 1024 {
      return Ok(bytes);
    }
    gzip(&bytes).map_err(|e| Error::new(Status::GenericFailure, format!("gzip: {e}")))
  }

  fn resolve(&mut self, _env: Env, output: Vec<u8>) -> Result<Buffer> {
    Ok(Buffer::from(output))
  }
}

/// Encodes the merged view of a registry off the JS thread into a UTF-8 Buffer. Servers use
/// it: handing bytes over costs the JS thread nothing, while building a large string does.
#[napi(ts_return_type = "Promise<Buffer>")]
pub fn encode_buffer(request: EncodeRequest) -> AsyncTask<EncodeBufferTask> {
  AsyncTask::new(EncodeBufferTask { req: request })
}

/// Reverses [`encoder::store_label_values`].
fn parse_label_values(stored: &str, count: usize) -> Vec<Option<String>> {
  if count == 0 {
    return Vec::new();
  }
  stored
    .split('\n')
    .map(|v| {
      if v == encoder::ABSENT {
        return None;
      }
      let mut out = String::with_capacity(v.len());
      let mut chars = v.chars();
      while let Some(c) = chars.next() {
        match (c, c == '\\') {
          (_, true) => match chars.next() {
            Some('n') => out.push('\n'),
            Some(o) => out.push(o),
            None => {}
          },
          (o, false) => out.push(o),
        }
      }
      Some(out)
    })
    .collect()
}

/// Reverses [`encoder::render_labels`] (`a="x",b="y\"z"` → `[a, x, b, y"z]`).
fn parse_rendered_labels(rendered: &str) -> Vec<String> {
  let mut out = Vec::new();
  let mut chars = rendered.chars().peekable();
  loop {
    let name: String = chars.by_ref().take_while(|&c| c != '=').collect();
    if name.is_empty() {
      return out;
    }
    chars.next(); // opening quote
    let mut value = String::new();
    while let Some(c) = chars.next() {
      match c {
        '"' => break,
        '\\' => match chars.next() {
          Some('n') => value.push('\n'),
          Some(o) => value.push(o),
          None => {}
        },
        o => value.push(o),
      }
    }
    out.push(name.trim_start_matches(',').to_string());
    out.push(value);
  }
}

fn snapshot_of(f: &merge::MergedFamily) -> FamilySnapshot {
  let st = stride(f.def);
  let ex_st = f.exemplars.len().checked_div(f.len()).unwrap_or(0);
  FamilySnapshot {
    name: f.def.name.clone(),
    help: f.def.help.clone(),
    kind: f.def.kind.as_str().into(),
    aggregator: f.def.aggregator.as_str().into(),
    label_names: f.def.label_names.clone(),
    buckets: f.def.buckets.clone(),
    quantiles: f.def.quantiles.clone(),
    series: (0..f.len())
      .map(|n| SeriesSnapshot {
        label_values: parse_label_values(&f.labels[n], f.def.label_names.len()),
        values: f.values[n * st..(n + 1) * st].to_vec(),
        exemplars: f.exemplars[n * ex_st..(n + 1) * ex_st]
          .iter()
          .map(|e| {
            e.map(|e| ExemplarSnapshot {
              labels: parse_rendered_labels(&e.labels),
              value: e.value,
              timestamp: e.timestamp,
            })
          })
          .collect(),
      })
      .collect(),
  }
}

/// Merged values of a whole registry; `now` is the caller's clock (see [`EncodeRequest`]).
#[napi]
pub fn snapshot_registry(registry: u32, now: Option<f64>) -> Result<Vec<FamilySnapshot>> {
  let s = store::store();
  let families =
    merge::merge_registry(&s, registry, None, now.unwrap_or_else(now_ms)).map_err(err)?;
  Ok(families.iter().map(snapshot_of).collect())
}

/// Merged values of one family: with `registry`, merged with same-named families of the other
/// threads in that registry.
#[napi]
pub fn snapshot_family(
  family: u32,
  registry: Option<u32>,
  now: Option<f64>,
) -> Result<Option<FamilySnapshot>> {
  let s = store::store();
  let merged =
    merge::merge_family(&s, registry, family, now.unwrap_or_else(now_ms)).map_err(err)?;
  Ok(merged.as_ref().map(snapshot_of))
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn rendered_exemplar_labels_parse_back() {
    let names = vec!["trace_id".to_string(), "note".to_string()];
    let values = vec!["abc".to_string(), "a\"b,c=\\d\ne".to_string()];
    let flat = parse_rendered_labels(&encoder::render_labels(&names, &values));
    assert_eq!(flat, vec!["trace_id", "abc", "note", "a\"b,c=\\d\ne"]);
    assert!(parse_rendered_labels("").is_empty());
  }

  #[test]
  fn rendered_labels_parse_back() {
    let names = ["a", "b", "c"];
    let values = vec![Some("x\"y\\z\nw".to_string()), None, Some(String::new())];
    assert_eq!(
      parse_label_values(&encoder::store_label_values(&values), names.len()),
      values
    );
  }
}

/// The shared-memory layout as the core sees it, for the test that keeps `metrics/layout.ts`
/// and `native/src/layout.rs` equal.
#[napi(object)]
pub struct LayoutFacts {
  /// Bins per summary sketch page (and buckets per native histogram page).
  pub page_bins: u32,
  /// Slots a native histogram adds after its classic ones, and the offsets in them.
  pub nh_header: u32,
  /// Offset of the zero bucket count in the native header.
  pub nh_zero: u32,
  /// Offset of the schema reductions in the native header.
  pub nh_reductions: u32,
  /// Offset of the sequence in the native header.
  pub nh_seq: u32,
  /// Every aggregator name, in the core's order.
  pub aggregators: Vec<String>,
}

/// The core's layout facts (see [`LayoutFacts`]).
#[napi]
pub fn layout_facts() -> LayoutFacts {
  LayoutFacts {
    page_bins: crate::layout::PAGE_BINS as u32,
    nh_header: crate::layout::NH_HEADER as u32,
    nh_zero: crate::layout::NH_ZERO as u32,
    nh_reductions: crate::layout::NH_REDUCTIONS as u32,
    nh_seq: crate::layout::NH_SEQ as u32,
    aggregators: Aggregator::ALL
      .iter()
      .map(|a| a.as_str().to_string())
      .collect(),
  }
}

/// Slots one series of a family of this shape occupies (see `native/src/layout.rs`).
#[napi]
pub fn layout_slots_per_series(
  kind: MetricType,
  buckets: u32,
  age_buckets: u32,
  native: bool,
) -> u32 {
  let kind = match kind {
    MetricType::Counter => Kind::Counter,
    MetricType::Gauge => Kind::Gauge,
    MetricType::Histogram => Kind::Histogram,
    MetricType::Summary => Kind::Summary,
  };
  crate::layout::slots_per_series(kind, buckets as usize, age_buckets as usize, native) as u32
}
