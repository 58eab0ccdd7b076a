//! The process-wide series table.
//!
//! ```text
//!  JS thread A ── writes ──► shard A: chunks of f64 slots (SharedArrayBuffer, single writer)
//!  JS thread B ── writes ──► shard B: chunks of f64 slots
//!                                │  read without the writers' help
//!                                ▼
//!  Store (this file, behind one Mutex): chunks, families, series → (chunk, offset), registries
//! ```
//!
//! Writers never take the lock: a series is registered here once, when JS first creates it,
//! and every later update is a plain store into the shard. Readers read slots with relaxed
//! atomic loads and sum across shards: a scrape takes the lock only to copy its registry
//! ([`Store::snapshot`]) and merges the copy without it; `get()` and the flusher read under it.
//! When a thread's environment is torn down its readable series are copied into memory owned
//! here, so a finished worker's counters keep counting in the totals.

use crate::fxhash::FxBuild;
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

pub use crate::layout::PAGE_BINS;

pub use crate::layout::{NH_HEADER, NH_REDUCTIONS, NH_SEQ, NH_ZERO};

/// Native (exponential) histogram settings of a histogram family.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NativeDef {
  /// Initial schema, -4..=8 (bucket boundaries at 2^(k·2^-schema)).
  pub schema: i32,
  /// Observations with |v| ≤ this go to the zero bucket.
  pub zero_threshold: f64,
  /// Populated buckets above which the schema is reduced (0: no limit).
  pub max_buckets: u32,
  /// Minimum time between resets that the bucket limit may trigger (0: never reset).
  pub min_reset_ms: f64,
}

/// Metric type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
  /// Monotonic counter.
  Counter,
  /// Gauge.
  Gauge,
  /// Histogram with fixed buckets.
  Histogram,
  /// Summary backed by a mergeable sketch.
  Summary,
}

impl Kind {
  /// The `# TYPE` word.
  pub fn as_str(self) -> &'static str {
    match self {
      Kind::Counter => "counter",
      Kind::Gauge => "gauge",
      Kind::Histogram => "histogram",
      Kind::Summary => "summary",
    }
  }
}

/// How values of one series from several threads are combined (prom-client's aggregators).
/// The one Rust list of them: the napi boundary takes this enum, the Redis metadata its
/// `as_str` names; `test/layout.test.ts` ties it to the TypeScript list.
#[napi_derive::napi(string_enum = "camelCase")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aggregator {
  /// Add them (default).
  Sum,
  /// Take the first thread's value.
  First,
  /// Smallest.
  Min,
  /// Largest.
  Max,
  /// Arithmetic mean.
  Average,
  /// Emit only when a single thread has the metric.
  Omit,
  /// Across processes: the most recently written value. Within a process (thread writes are
  /// not timestamped): the first thread's value.
  Last,
  /// Across processes: one series per process, labelled `process`. Within a process: the sum.
  PerProcess,
}

impl Aggregator {
  /// Every aggregator, in declaration order.
  pub const ALL: [Aggregator; 8] = [
    Aggregator::Sum,
    Aggregator::First,
    Aggregator::Min,
    Aggregator::Max,
    Aggregator::Average,
    Aggregator::Omit,
    Aggregator::Last,
    Aggregator::PerProcess,
  ];

  /// The aggregator spelled `s` (prom-client's spelling), if any.
  pub fn parse(s: &str) -> Option<Aggregator> {
    Aggregator::ALL.into_iter().find(|a| a.as_str() == s)
  }

  /// prom-client's spelling.
  pub fn as_str(self) -> &'static str {
    match self {
      Aggregator::Sum => "sum",
      Aggregator::First => "first",
      Aggregator::Min => "min",
      Aggregator::Max => "max",
      Aggregator::Average => "average",
      Aggregator::Omit => "omit",
      Aggregator::Last => "last",
      Aggregator::PerProcess => "perProcess",
    }
  }
}

/// The definition of a metric family as registered by one JS metric object.
#[derive(Clone, Debug)]
pub struct FamilyDef {
  /// Metric name, as validated by JS (same-named families of a registry merge).
  pub name: String,
  /// Help text (unescaped).
  pub help: String,
  /// Counter, gauge, histogram or summary: decides the slot layout and the encoding.
  pub kind: Kind,
  /// Label names in declaration order.
  pub label_names: Vec<String>,
  /// Histogram upper bounds (without +Inf).
  pub buckets: Vec<f64>,
  /// Summary quantiles.
  pub quantiles: Vec<f64>,
  /// Summary sliding window length.
  pub max_age_ms: f64,
  /// Summary sub-windows.
  pub age_buckets: u32,
  /// Cross-thread aggregator.
  pub aggregator: Aggregator,
  /// Native histogram settings (histograms only).
  pub native: Option<NativeDef>,
}

impl FamilyDef {
  /// Slots one series of this family occupies in a shard.
  pub fn slots_per_series(&self) -> usize {
    crate::layout::slots_per_series(
      self.kind,
      self.buckets.len(),
      self.age_buckets as usize,
      self.native.is_some(),
    )
  }

  /// Families from different threads merge only when their shape agrees; `None` when it does,
  /// else what differs.
  pub fn mismatch(&self, other: &FamilyDef) -> Option<String> {
    let what = if self.kind != other.kind {
      format!("type {} vs {}", self.kind.as_str(), other.kind.as_str())
    } else if self.label_names != other.label_names {
      format!(
        "labels [{}] vs [{}]",
        self.label_names.join(", "),
        other.label_names.join(", ")
      )
    } else if self.buckets != other.buckets {
      format!("buckets {:?} vs {:?}", self.buckets, other.buckets)
    } else if self.quantiles != other.quantiles {
      format!("percentiles {:?} vs {:?}", self.quantiles, other.quantiles)
    } else if self.kind == Kind::Summary
      && (self.age_buckets != other.age_buckets || self.max_age_ms != other.max_age_ms)
    {
      format!(
        "window {}s/{} vs {}s/{}",
        self.max_age_ms / 1000.0,
        self.age_buckets,
        other.max_age_ms / 1000.0,
        other.age_buckets
      )
    } else if self.native.map(|n| (n.zero_threshold, n.max_buckets))
      != other.native.map(|n| (n.zero_threshold, n.max_buckets))
    {
      // Differing schemas merge (to the smaller one); the rest must agree.
      format!("native histogram {:?} vs {:?}", self.native, other.native)
    } else if self.aggregator != other.aggregator {
      format!(
        "aggregator {} vs {}",
        self.aggregator.as_str(),
        other.aggregator.as_str()
      )
    } else {
      return None;
    };
    Some(what)
  }

  /// True when [`FamilyDef::mismatch`] finds nothing.
  pub fn compatible(&self, other: &FamilyDef) -> bool {
    self.mismatch(other).is_none()
  }

  /// Suffixes OpenMetrics gives this type's sample names ("Suffixes" in the spec); `_created`
  /// counts whether or not it is emitted, as the spec reserves it.
  fn suffixes(&self) -> &'static [&'static str] {
    match self.kind {
      Kind::Counter => &["_total", "_created"],
      Kind::Gauge => &[],
      Kind::Histogram => &["_bucket", "_count", "_sum", "_created"],
      Kind::Summary => &["_count", "_sum", "_created"],
    }
  }

  /// The OpenMetrics family name: a counter's name without `_total` (its samples add it back).
  pub fn open_metrics_name(&self) -> &str {
    match self.kind {
      Kind::Counter => self.name.strip_suffix("_total").unwrap_or(&self.name),
      _ => &self.name,
    }
  }

  /// Every family and sample name this family can put in an exposition, text or OpenMetrics.
  pub fn exposed_names(&self) -> Vec<String> {
    let base = self.open_metrics_name();
    let mut names = vec![self.name.clone()];
    if base != self.name {
      names.push(base.to_owned());
    }
    names.extend(self.suffixes().iter().map(|s| format!("{base}{s}")));
    names.dedup();
    names
  }

  /// [`FamilyDef::exposed_names`] as `(base, suffix)` pairs, in the same order and each name
  /// once (a counter `x_total` is its name and `x` + `_total`), without building the names
  /// (registering a counter looks up three).
  pub fn exposed_parts(&self) -> impl Iterator<Item = (&str, &'static str)> + '_ {
    let base = self.open_metrics_name();
    let name = self.name.as_str();
    std::iter::once((name, ""))
      .chain((base != name).then_some((base, "")))
      .chain(
        self
          .suffixes()
          .iter()
          .filter(move |s| !(name.len() == base.len() + s.len() && name.ends_with(**s)))
          .map(move |s| (base, *s)),
      )
  }

  /// True when `name` is one of [`FamilyDef::exposed_names`] (without allocating: registration
  /// checks every family of a registry).
  pub fn exposes(&self, name: &str) -> bool {
    let base = self.open_metrics_name();
    name == self.name
      || name == base
      || name
        .strip_prefix(base)
        .is_some_and(|rest| self.suffixes().contains(&rest))
  }

  /// The first name both families can expose (two families of one name aside: they merge or
  /// are refused by [`FamilyDef::mismatch`]). A scraper sees two families of that name: the
  /// OpenMetrics parser rejects the scrape, Prometheus keeps some samples and drops others.
  pub fn clash(&self, other: &FamilyDef) -> Option<String> {
    if self.name == other.name {
      return None;
    }
    self.exposed_names().into_iter().find(|n| other.exposes(n))
  }
}

/// An exemplar attached to a counter series or a histogram bucket.
#[derive(Clone, Debug)]
pub struct Exemplar {
  /// Rendered label pairs, e.g. `trace_id="abc"`.
  pub labels: String,
  /// Observed value.
  pub value: f64,
  /// Unix time in seconds.
  pub timestamp: f64,
}

/// A page of summary sketch bins living in a shard.
#[derive(Clone, Copy, Debug)]
pub struct Page {
  /// Sub-window index.
  pub window: u32,
  /// True for the bins of negative values.
  pub negative: bool,
  /// Sketch index of the page's first bin (a multiple of [`PAGE_BINS`]).
  pub base: i32,
  /// Chunk holding the bins.
  pub chunk: u32,
  /// Offset of the first bin in the chunk.
  pub offset: u32,
}

/// Where one series' slots sit. 8 bytes: memory per series is a target (≤ 1/3 of prom-client's,
/// issue 17), so a series is its slot address here plus its interned label value ids in the
/// family's [`Family::label_ids`] run; no allocation of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Series {
  /// Chunk holding the series' slots ([`Series::FREE`] in a removed series' place).
  pub chunk: u32,
  /// Offset of the first slot in the chunk.
  pub offset: u32,
}

impl Series {
  /// The place of a removed series (no chunk has this id: ids are dense and far fewer).
  const FREE: Series = Series {
    chunk: u32::MAX,
    offset: 0,
  };

  fn is_live(&self) -> bool {
    self.chunk != u32::MAX
  }
}

/// One distinct label value of a family: where its bytes are and how many label places hold it.
#[derive(Debug, Clone, Copy)]
struct Interned {
  start: u32,
  len: u32,
  /// 0: a free id (on the free list).
  refs: u32,
}

/// A family's label values, each distinct (escaped) value stored once with a count of the label
/// places that hold it (issue 17: label values repeat massively across series — 100 methods ×
/// 1,000 paths is 100k series but 1,100 values). A value leaves with the last series holding it;
/// its bytes are reclaimed by compaction, its id by the next new value.
///
/// The lookup is by a 32-bit hash of the value (`DefaultHasher`, fixed keys, folded; 8 bytes a
/// value in the table): one id per hash, and a second, ordinary map for a value whose hash
/// another value already holds, so a collision (about one among 100k distinct values; any
/// number, even contrived) costs a lookup, never a wrong id.
#[derive(Debug, Default)]
struct LabelDict {
  /// Values back to back.
  bytes: String,
  /// By id.
  values: Vec<Interned>,
  /// Ids of removed values, for reuse.
  free: Vec<u32>,
  /// Bytes of `bytes` that belong to removed values.
  garbage: usize,
  /// Hash of a value → its id. Empty in a reader's copy ([`LabelDict::reader_copy`]).
  by_hash: HashMap<u32, u32, FxBuild>,
  /// Values whose hash `by_hash` gives to another value → (id, hash).
  collided: HashMap<Box<str>, (u32, u32)>,
}

fn value_hash(v: &str) -> u32 {
  use std::hash::{Hash, Hasher};
  let mut h = std::hash::DefaultHasher::new();
  v.hash(&mut h);
  let h = h.finish();
  (h ^ (h >> 32)) as u32
}

impl LabelDict {
  /// The id of the empty value, which the dictionary does not hold: a family without labels
  /// (its one stored value is empty) allocates no dictionary.
  const EMPTY: u32 = u32::MAX;

  /// The value of id `id`.
  fn get(&self, id: u32) -> &str {
    if id == LabelDict::EMPTY {
      return "";
    }
    let e = &self.values[id as usize];
    &self.bytes[e.start as usize..(e.start + e.len) as usize]
  }

  fn find(&self, v: &str, hash: u32) -> Option<u32> {
    match self.by_hash.get(&hash) {
      Some(&id) if self.get(id) == v => Some(id),
      Some(_) => self.collided.get(v).map(|&(id, _)| id),
      None => None,
    }
  }

  /// The id of `v`, counted once more (added when new).
  fn intern(&mut self, v: &str) -> StoreResult<u32> {
    if v.is_empty() {
      return Ok(LabelDict::EMPTY);
    }
    let hash = value_hash(v);
    if let Some(id) = self.find(v, hash) {
      self.values[id as usize].refs += 1;
      return Ok(id);
    }
    if self.bytes.len() + v.len() > u32::MAX as usize {
      return Err("too many label bytes".into());
    }
    let e = Interned {
      start: self.bytes.len() as u32,
      len: v.len() as u32,
      refs: 1,
    };
    self.bytes.push_str(v);
    let id = match self.free.pop() {
      Some(id) => {
        self.values[id as usize] = e;
        id
      }
      None => {
        self.values.push(e);
        (self.values.len() - 1) as u32
      }
    };
    match self.by_hash.entry(hash) {
      std::collections::hash_map::Entry::Vacant(slot) => {
        slot.insert(id);
      }
      std::collections::hash_map::Entry::Occupied(_) => {
        self.collided.insert(v.into(), (id, hash));
      }
    }
    Ok(id)
  }

  /// Counts id `id` once less; the value goes with its last holder.
  fn release(&mut self, id: u32) {
    if id == LabelDict::EMPTY {
      return;
    }
    let e = &mut self.values[id as usize];
    e.refs -= 1;
    if e.refs > 0 {
      return;
    }
    let len = e.len as usize;
    let v = self.get(id);
    let hash = value_hash(v);
    if self.by_hash.get(&hash) == Some(&id) {
      self.by_hash.remove(&hash);
      // A collided value of the same hash takes its place.
      let heir = self
        .collided
        .iter()
        .find(|(_, &(_, h))| h == hash)
        .map(|(k, _)| k.clone());
      if let Some(k) = heir {
        let (heir, _) = self.collided.remove(&k).expect("collided value");
        self.by_hash.insert(hash, heir);
      }
    } else {
      let k: Box<str> = v.into();
      self.collided.remove(&k);
    }
    self.garbage += len;
    self.free.push(id);
    if self.free.len() == self.values.len() {
      // The last value went: give everything back.
      *self = LabelDict::default();
      return;
    }
    self.maybe_compact();
  }

  /// Rewrites `bytes` without removed values once they are most of it (ids stay).
  fn maybe_compact(&mut self) {
    if self.garbage < 4096 || self.garbage * 2 < self.bytes.len() {
      return;
    }
    let mut bytes = String::with_capacity(self.bytes.len() - self.garbage);
    for e in self.values.iter_mut() {
      if e.refs == 0 {
        e.len = 0;
        e.start = 0;
        continue;
      }
      let start = bytes.len() as u32;
      bytes.push_str(&self.bytes[e.start as usize..(e.start + e.len) as usize]);
      e.start = start;
    }
    self.bytes = bytes;
    self.garbage = 0;
    shrink_map(&mut self.by_hash);
  }

  /// Number of distinct live values.
  fn live_values(&self) -> usize {
    self.values.len() - self.free.len()
  }

  /// What readers need (values by id), without the lookup maps: a scrape's copy
  /// ([`Store::snapshot`]) costs two `memcpy`s whatever the number of values.
  fn reader_copy(&self) -> LabelDict {
    LabelDict {
      bytes: self.bytes.clone(),
      values: self.values.clone(),
      ..Default::default()
    }
  }

  fn clear(&mut self) {
    *self = LabelDict::default();
  }

  fn shrink_to_fit(&mut self) {
    self.bytes.shrink_to_fit();
    self.values.shrink_to_fit();
  }
}

/// The store's families by id.
type Families = HashMap<u32, Box<Family>>;

/// One JS metric object's family.
#[derive(Debug)]
pub struct Family {
  /// Definition.
  pub def: FamilyDef,
  /// Shard (JS thread) that writes it.
  pub shard: u32,
  /// Series by the dense index JS assigned; removed series leave [`Series::FREE`].
  series: Vec<Series>,
  /// Label value ids of every series, [`Family::label_width`] per series index, in
  /// declaration order (a removed series' run is stale).
  label_ids: Vec<u32>,
  /// The distinct label values the ids point to.
  dict: LabelDict,
  /// Exemplars of the series that have any: one for a counter, one per histogram bucket.
  pub exemplars: HashMap<u32, Box<[Option<Exemplar>]>>,
  /// Summary sketch pages, or native histogram bucket pages, by series.
  pub pages: HashMap<u32, Vec<Page>>,
  /// Registries this family is a member of (so dropping it visits only those).
  member_of: Vec<u32>,
}

impl Family {
  fn new(def: FamilyDef, shard: u32) -> Family {
    Family {
      def,
      shard,
      series: Vec::new(),
      label_ids: Vec::new(),
      dict: LabelDict::default(),
      exemplars: HashMap::new(),
      pages: HashMap::new(),
      member_of: Vec::new(),
    }
  }

  /// What a reader of a [`Snapshot`] needs: everything but the label lookup and the
  /// registry memberships.
  fn reader_copy(&self) -> Family {
    Family {
      def: self.def.clone(),
      shard: self.shard,
      series: self.series.clone(),
      label_ids: self.label_ids.clone(),
      dict: self.dict.reader_copy(),
      exemplars: self.exemplars.clone(),
      pages: self.pages.clone(),
      member_of: Vec::new(),
    }
  }

  /// Label value ids per series: one per label name (one for a family without labels, whose
  /// stored label string is one value, normally empty).
  fn label_width(&self) -> usize {
    self.def.label_names.len().max(1)
  }

  /// Appends the stored label string of series `index` (escaped values in declaration order,
  /// newline-separated, [`crate::encoder::ABSENT`] for a label it lacks: what
  /// [`Store::add_series`] was given) to `out`; nothing for an index that holds no series.
  pub fn labels_into(&self, index: u32, out: &mut String) {
    if !self.series.get(index as usize).is_some_and(Series::is_live) {
      return;
    }
    let w = self.label_width();
    let ids = &self.label_ids[index as usize * w..(index as usize + 1) * w];
    for (k, &id) in ids.iter().enumerate() {
      if k > 0 {
        out.push('\n');
      }
      out.push_str(self.dict.get(id));
    }
  }

  /// Whether the stored label string of series `index` (see [`Family::labels_into`]) is
  /// `labels`, compared value by value without rendering it.
  pub fn labels_eq(&self, index: u32, labels: &str) -> bool {
    if !self.series.get(index as usize).is_some_and(Series::is_live) {
      return labels.is_empty();
    }
    let w = self.label_width();
    let ids = &self.label_ids[index as usize * w..(index as usize + 1) * w];
    let mut rest = labels;
    for (k, &id) in ids.iter().enumerate() {
      if k > 0 {
        match rest.strip_prefix('\n') {
          Some(r) => rest = r,
          None => return false,
        }
      }
      match rest.strip_prefix(self.dict.get(id)) {
        Some(r) => rest = r,
        None => return false,
      }
    }
    rest.is_empty()
  }

  /// The stored label string of series `index` (see [`Family::labels_into`]).
  pub fn labels(&self, index: u32) -> String {
    let mut s = String::new();
    self.labels_into(index, &mut s);
    s
  }

  /// Number of series places (live or removed): the next fresh index.
  pub fn series_len(&self) -> usize {
    self.series.len()
  }

  /// Number of distinct label values held (for tests and leak checks).
  pub fn label_value_count(&self) -> usize {
    self.dict.live_values()
  }

  /// Live series with their indexes.
  pub fn live(&self) -> impl Iterator<Item = (u32, &Series)> {
    self
      .series
      .iter()
      .enumerate()
      .filter(|(_, s)| s.is_live())
      .map(|(i, s)| (i as u32, s))
  }

  /// Forgets series `index`'s labels (its values go with their last holder).
  fn release_labels(&mut self, index: u32) {
    let w = self.label_width();
    for k in 0..w {
      let id = self.label_ids[index as usize * w + k];
      self.dict.release(id);
    }
  }

  /// Exemplars per series for this family's type.
  pub fn exemplar_slots(&self) -> usize {
    match self.def.kind {
      Kind::Counter => 1,
      Kind::Histogram => self.def.buckets.len() + 1,
      _ => 0,
    }
  }
}

#[derive(Clone)]
struct Chunk {
  ptr: *const f64,
  len: usize,
  shard: u32,
  /// Set once the owning thread is gone: the values were copied here (shared with the
  /// snapshots scrapes read, see [`Store::snapshot`]).
  owned: Option<std::sync::Arc<[f64]>>,
}

// SAFETY: the pointer is only dereferenced for reads while the store lock is held, or by the
// reader of a snapshot who holds `chunk_readers()`; it stays valid while the owning JS
// environment lives (the store holds a reference to the typed array); on environment teardown
// (which first takes `chunk_teardown()`, waiting for snapshot readers) the values are copied
// out before V8 can free the buffer.
unsafe impl Send for Chunk {}

#[derive(Clone)]
struct Shard {
  alive: bool,
}

/// The whole table.
///
/// Families and registries are keyed by ids that are never reused (a stale id held by a thread
/// that has not heard of a drop finds nothing rather than someone else's metric); the maps keep
/// memory bounded by what is live, where vectors indexed by id grew with every metric ever made
/// (issue 17: 100k created and dropped metrics left ~500 B each).
pub struct Store {
  chunks: Vec<Chunk>,
  shards: Vec<Shard>,
  families: HashMap<u32, Box<Family>>,
  next_family: u32,
  registries: HashMap<u32, Registry>,
  next_registry: u32,
}

impl Default for Store {
  /// An empty store holding the global registry.
  fn default() -> Store {
    Store {
      chunks: Vec::new(),
      shards: Vec::new(),
      families: HashMap::new(),
      next_family: 0,
      registries: HashMap::from([(GLOBAL_REGISTRY, Registry::default())]),
      next_registry: GLOBAL_REGISTRY + 1,
    }
  }
}

/// A name in a registry's indexes, hashed once. A hash map rehashes every key when it grows,
/// and hashing a `String` reads its bytes from the heap: at 100k metrics (400k exposed names)
/// that was a cache miss and a SipHash per key per growth, most of `registry_add`'s cost.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Key {
  /// SipHash of `name` under [`key_hasher`] (keyed once per process: names may come from
  /// other threads' definitions, so the hash stays seeded).
  hash: u64,
  name: Box<str>,
}

fn key_hasher() -> &'static std::collections::hash_map::RandomState {
  static STATE: OnceLock<std::collections::hash_map::RandomState> = OnceLock::new();
  STATE.get_or_init(Default::default)
}

impl Key {
  fn new(name: &str) -> Key {
    Key::owned(name.into())
  }

  fn owned(name: String) -> Key {
    Key {
      hash: key_hasher().hash_one(name.as_str()),
      name: name.into_boxed_str(),
    }
  }
}

/// The hash of the name `base` + `suffix` (the two written in turn: SipHash is a stream, so
/// `("x", "_total")` and `("x_total", "")` hash alike, which the registry index relies on).
fn name_hash(base: &str, suffix: &str) -> u64 {
  use std::hash::Hasher;
  let mut h = key_hasher().build_hasher();
  h.write(base.as_bytes());
  h.write(suffix.as_bytes());
  h.write_u8(0xff);
  h.finish()
}

impl std::hash::Hash for Key {
  fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
    h.write_u64(self.hash);
  }
}

/// The registry indexes: their keys are a [`Key`]'s precomputed hash or a family id the store
/// assigned, so the one multiply of [`FxBuild`] spreads them.
type Index<K, V> = HashMap<K, V, FxBuild>;

/// One registry's families, indexed so that registering a family costs the same whatever the
/// registry's size (issue 17: the clash and merge checks used to compare with every family).
///
/// Invariant (kept by [`Store::registry_add`], the only way in): each exposed name belongs to
/// the families of one metric name, and the families of one name are mutually compatible.
#[derive(Default)]
struct Registry {
  /// Sequence number the next member gets (registration order).
  next_seq: u64,
  /// Members in registration order: sequence number → family.
  order: BTreeMap<u64, u32>,
  /// Member → its sequence number.
  seq: Index<u32, u64>,
  /// Metric name → its member families, in registration order.
  by_name: Index<Key, Vec<u32>>,
  /// Every family and sample name a member can expose ([`FamilyDef::exposed_names`]) → the
  /// first-registered member of the metric name that owns it, keyed by [`name_hash`]: no
  /// string per name (four per counter); a hit is confirmed against the member's definition.
  exposed: Index<u64, u32>,
  /// The exposed names whose hash another name already holds in `exposed` (practically never).
  collided: HashMap<String, u32>,
}

/// Shrinks a map whose entries are fewer than a quarter of its capacity.
fn shrink_map<K: Eq + std::hash::Hash, V, S: std::hash::BuildHasher>(m: &mut HashMap<K, V, S>) {
  if m.capacity() > 64 && m.len() * 4 < m.capacity() {
    m.shrink_to_fit();
  }
}

impl Registry {
  fn shrink_if_sparse(&mut self) {
    shrink_map(&mut self.seq);
    shrink_map(&mut self.by_name);
    shrink_map(&mut self.exposed);
    shrink_map(&mut self.collided);
  }

  /// The member owning the exposed name `base` + `suffix` (`hash` its [`name_hash`]).
  fn exposer(&self, families: &Families, base: &str, suffix: &str, hash: u64) -> Option<u32> {
    if let Some(&f) = self.exposed.get(&hash) {
      let name = || format!("{base}{suffix}");
      if families.get(&f).is_some_and(|f| f.def.exposes(&name())) {
        return Some(f);
      }
    }
    if self.collided.is_empty() {
      return None;
    }
    self.collided.get(&format!("{base}{suffix}")).copied()
  }

  /// The members named `name`, in registration order.
  fn named(&self, name: &str) -> &[u32] {
    self
      .by_name
      .get(&Key::new(name))
      .map_or(&[][..], Vec::as_slice)
  }

  /// Adds a member; `name` is its metric name and `exposed` the [`FamilyDef::exposed_parts`]
  /// of its definition with their hashes.
  fn insert(&mut self, family: u32, name: Key, exposed: &[(u64, &str, &str)]) {
    let seq = self.next_seq;
    self.next_seq += 1;
    self.order.insert(seq, family);
    self.seq.insert(family, seq);
    match self.by_name.get_mut(&name) {
      Some(group) => group.push(family),
      None => {
        self.by_name.insert(name, vec![family]);
        // `registry_add` found none of these names taken by another metric name, and the group
        // is new: a hash already in `exposed` is another name's.
        for &(hash, base, suffix) in exposed {
          match self.exposed.entry(hash) {
            std::collections::hash_map::Entry::Vacant(e) => {
              e.insert(family);
            }
            std::collections::hash_map::Entry::Occupied(_) => {
              self.collided.insert(format!("{base}{suffix}"), family);
            }
          }
        }
      }
    }
  }

  /// Forgets a member (`def` is its definition); nothing when it is not one.
  fn remove(&mut self, family: u32, def: &FamilyDef) {
    let Some(seq) = self.seq.remove(&family) else {
      return;
    };
    self.order.remove(&seq);
    let name = Key::new(&def.name);
    let heir = match self.by_name.get_mut(&name) {
      Some(group) => {
        group.retain(|&f| f != family);
        let heir = group.first().copied();
        if heir.is_none() {
          self.by_name.remove(&name);
        }
        heir
      }
      None => None,
    };
    // The members of one name expose the same names: the heir takes over each of them.
    let hand_over = |owner: &mut u32| match heir {
      Some(h) => {
        *owner = h;
        true
      }
      None => false,
    };
    for (base, suffix) in def.exposed_parts() {
      let hash = name_hash(base, suffix);
      if let Some(owner) = self.exposed.get_mut(&hash).filter(|o| **o == family) {
        if !hand_over(owner) {
          self.exposed.remove(&hash);
        }
      }
    }
    if !self.collided.is_empty() {
      self
        .collided
        .retain(|_, owner| *owner != family || hand_over(owner));
    }
  }
}

/// Errors reported to JS with a message naming the bad value.
pub type StoreResult<T> = Result<T, String>;

/// Id of the process-wide default registry.
pub const GLOBAL_REGISTRY: u32 = 0;

static STORE: OnceLock<Mutex<Store>> = OnceLock::new();

/// Locks the process-wide store. A poisoned lock is recovered: the table stays consistent
/// because every mutation is a single push or assignment.
pub fn store() -> MutexGuard<'static, Store> {
  let m = STORE.get_or_init(|| Mutex::new(Store::default()));
  m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Held (shared) by every reader of a [`Store::snapshot`] while it reads slots outside the store
/// lock, and (exclusive) by a thread's environment teardown before its chunks go: a snapshot's
/// chunk pointers stay valid as long as its reader holds this. Writers never take it.
static CHUNK_READERS: RwLock<()> = RwLock::new(());

/// For a scrape: hold this, then take a [`Store::snapshot`] under the store lock, then read it
/// with the lock released.
pub fn chunk_readers() -> RwLockReadGuard<'static, ()> {
  CHUNK_READERS.read().unwrap_or_else(|e| e.into_inner())
}

/// For a thread's environment teardown (see [`chunk_readers`]): waits for running scrapes.
pub fn chunk_teardown() -> RwLockWriteGuard<'static, ()> {
  CHUNK_READERS.write().unwrap_or_else(|e| e.into_inner())
}

/// Sequence number the next snapshot gets.
static NEXT_SNAPSHOT: AtomicU64 = AtomicU64::new(1);
/// Sequence numbers of the snapshots being read (see [`oldest_reader`]).
static READING: Mutex<BTreeMap<u64, ()>> = Mutex::new(BTreeMap::new());

/// A registered reader of a snapshot; dropping it ends the read.
pub struct SnapshotRead(u64);

impl SnapshotRead {
  fn start() -> SnapshotRead {
    let mut r = READING.lock().unwrap_or_else(|e| e.into_inner());
    let seq = NEXT_SNAPSHOT.fetch_add(1, Ordering::SeqCst);
    r.insert(seq, ());
    SnapshotRead(seq)
  }
}

impl Drop for SnapshotRead {
  fn drop(&mut self) {
    READING
      .lock()
      .unwrap_or_else(|e| e.into_inner())
      .remove(&self.0);
  }
}

/// The sequence number the next snapshot will get. A thread freeing a series' slots records it:
/// the slots may be zeroed and reused once [`oldest_reader`] reaches it, i.e. once every
/// snapshot that could still show the old series has been read (else a scrape running while
/// `remove()` ran could show the old labels with a zero or with the next series' values).
pub fn snapshot_seq() -> u64 {
  let _r = READING.lock().unwrap_or_else(|e| e.into_inner());
  NEXT_SNAPSHOT.load(Ordering::SeqCst)
}

/// The sequence number of the oldest snapshot still being read, or the next one's.
pub fn oldest_reader() -> u64 {
  let r = READING.lock().unwrap_or_else(|e| e.into_inner());
  r.keys()
    .next()
    .copied()
    .unwrap_or_else(|| NEXT_SNAPSHOT.load(Ordering::SeqCst))
}

/// A consistent copy of what a scrape of one registry reads, taken under the store lock and
/// read without it (issue 17: the lock was held for a whole merge and encode, 9 ms at 100k
/// series, and every series creation waited). See docs/ARCHITECTURE.md "Scrapes and writers".
pub struct Snapshot {
  /// The copy: the registry's families (all, or those named `only`), every chunk's pointer
  /// and the shards' liveness; readable with the ordinary `&Store` functions.
  pub store: Store,
  _read: SnapshotRead,
}

impl Store {
  /// Copies registry `registry` (only its families named `only`, when given) for a reader that
  /// holds [`chunk_readers`]. Costs a copy of the families' series tables, label ids and
  /// distinct label values (bulk copies, no per-series work), not their merge and encoding.
  pub fn snapshot(&self, registry: u32, only: Option<&str>) -> StoreResult<Snapshot> {
    let reg = self.registry(registry)?;
    let ids: Vec<u32> = match only {
      Some(n) => reg.named(n).to_vec(),
      None => reg.order.values().copied().collect(),
    };
    let mut copy = Store {
      chunks: self.chunks.clone(),
      shards: self.shards.clone(),
      families: HashMap::with_capacity(ids.len()),
      next_family: 0,
      registries: HashMap::new(),
      next_registry: 0,
    };
    let mut order = BTreeMap::new();
    for (seq, id) in ids.into_iter().enumerate() {
      if let Some(f) = self.families.get(&id) {
        copy.families.insert(id, Box::new(f.reader_copy()));
        order.insert(seq as u64, id);
      }
    }
    copy.registries.insert(
      registry,
      Registry {
        order,
        ..Default::default()
      },
    );
    Ok(Snapshot {
      store: copy,
      _read: SnapshotRead::start(),
    })
  }
}

impl Store {
  /// A new shard for a JS thread.
  pub fn new_shard(&mut self) -> u32 {
    self.shards.push(Shard { alive: true });
    (self.shards.len() - 1) as u32
  }

  /// Whether the shard's thread still runs.
  pub fn shard_alive(&self, shard: u32) -> bool {
    self.shards.get(shard as usize).is_some_and(|s| s.alive)
  }

  /// Registers a chunk of `len` f64 slots at `ptr`, written by `shard`.
  ///
  /// # Safety
  /// `ptr` must stay valid for reads of `len` f64 until [`Store::retire_shard`] runs for
  /// `shard`.
  pub unsafe fn attach_chunk(
    &mut self,
    shard: u32,
    ptr: *const f64,
    len: usize,
  ) -> StoreResult<u32> {
    if !self.shard_alive(shard) {
      return Err(format!("shard {shard} is not a live thread shard"));
    }
    if !(ptr as usize).is_multiple_of(std::mem::align_of::<f64>()) {
      return Err("chunk memory is not 8-byte aligned".into());
    }
    self.chunks.push(Chunk {
      ptr,
      len,
      shard,
      owned: None,
    });
    Ok((self.chunks.len() - 1) as u32)
  }

  /// A finished thread's shard: its values that can still be read are copied, compactly, into
  /// one block owned by the store, and it is marked dead.
  ///
  /// Only what a scrape can still show is kept: the live series (and sketch or bucket pages)
  /// of its counters, histograms and summaries that are in some registry, so a finished
  /// worker's counters stay in the totals. Its gauges lose their series (a dead thread's
  /// gauges are not shown; the family stays for its help and type) and the families in no
  /// registry (nothing can read them) are dropped. The 16 Ki-slot
  /// chunks themselves are not copied: a worker that made one counter leaves a few hundred
  /// bytes, not a 128 KiB chunk (issue 17).
  pub fn retire_shard(&mut self, shard: u32) {
    if !self.shard_alive(shard) {
      return;
    }
    let ids: Vec<u32> = self
      .families
      .iter()
      .filter(|(_, f)| f.shard == shard)
      .map(|(&id, _)| id)
      .collect();
    let mut kept = Vec::with_capacity(ids.len());
    for id in ids {
      let f = &self.families[&id];
      if f.member_of.is_empty() {
        self.drop_family(id);
      } else if f.def.kind == Kind::Gauge {
        // Its family stays (the registry still shows its help and type), its series go.
        let _ = self.clear_family(id);
        if let Ok(f) = self.family_mut(id) {
          f.series = Vec::new();
          f.label_ids = Vec::new();
          f.dict.clear();
        }
      } else {
        kept.push(id);
      }
    }
    let mut need = 0usize;
    for id in &kept {
      let f = &self.families[id];
      need += f.live().count() * f.def.slots_per_series();
      need += f.pages.values().map(Vec::len).sum::<usize>() * PAGE_BINS;
    }
    let mut copy = vec![0f64; need];
    let new_chunk = self.chunks.len() as u32;
    let Store {
      chunks, families, ..
    } = self;
    let mut at = 0usize;
    let mut move_run = |chunk: &mut u32, offset: &mut u32, len: usize| {
      let c = &chunks[*chunk as usize];
      for i in 0..len.min(c.len.saturating_sub(*offset as usize)) {
        // SAFETY: in bounds; still valid: retirement runs in the env cleanup hook, before
        // teardown (or on memory the store owns).
        copy[at + i] = unsafe { load(c.ptr, *offset as usize + i) };
      }
      *chunk = new_chunk;
      *offset = at as u32;
      at += len;
    };
    for id in &kept {
      let f = families.get_mut(id).expect("kept family");
      let width = f.def.slots_per_series();
      for s in f.series.iter_mut().filter(|s| s.is_live()) {
        move_run(&mut s.chunk, &mut s.offset, width);
      }
      for p in f.pages.values_mut().flatten() {
        move_run(&mut p.chunk, &mut p.offset, PAGE_BINS);
      }
      f.series.shrink_to_fit();
      f.label_ids.shrink_to_fit();
      f.dict.shrink_to_fit();
    }
    for c in self.chunks.iter_mut().filter(|c| c.shard == shard) {
      // Nothing points into the old chunks any more; forget them (the JS memory goes with the
      // thread, a copy owned here is freed).
      c.ptr = std::ptr::NonNull::<f64>::dangling().as_ptr();
      c.len = 0;
      c.owned = None;
    }
    if need > 0 {
      let copy: std::sync::Arc<[f64]> = copy.into();
      self.chunks.push(Chunk {
        ptr: copy.as_ptr(),
        len: copy.len(),
        shard,
        owned: Some(copy),
      });
    }
    if let Some(s) = self.shards.get_mut(shard as usize) {
      s.alive = false;
    }
  }

  /// Reads slot `i` of `chunk`.
  #[inline]
  pub fn slot(&self, chunk: u32, i: usize) -> f64 {
    let c = &self.chunks[chunk as usize];
    if i >= c.len {
      // Unreachable while registration checks hold; never read outside the buffer regardless.
      return f64::NAN;
    }
    // SAFETY: in bounds (checked above); the pointer is valid, see `Chunk`.
    unsafe { load(c.ptr, i) }
  }

  fn check_range(&self, shard: u32, chunk: u32, offset: u32, len: usize) -> StoreResult<()> {
    let c = self
      .chunks
      .get(chunk as usize)
      .ok_or_else(|| format!("unknown chunk {chunk}"))?;
    if c.shard != shard {
      return Err(format!("chunk {chunk} belongs to another thread"));
    }
    if offset as usize + len > c.len {
      return Err(format!(
        "slots {offset}..{} are outside chunk {chunk} of {} slots",
        offset as usize + len,
        c.len
      ));
    }
    Ok(())
  }

  /// Registers a family for `shard`.
  pub fn add_family(&mut self, shard: u32, def: FamilyDef) -> StoreResult<u32> {
    if !self.shard_alive(shard) {
      return Err(format!("shard {shard} is not a live thread shard"));
    }
    let id = self.next_family;
    self.next_family = id
      .checked_add(1)
      .ok_or("too many metric families created in this process")?;
    self.families.insert(id, Box::new(Family::new(def, shard)));
    Ok(id)
  }

  /// The family, or an error naming the id.
  pub fn family(&self, id: u32) -> StoreResult<&Family> {
    self
      .families
      .get(&id)
      .map(|f| &**f)
      .ok_or_else(|| format!("unknown metric family {id}"))
  }

  fn family_mut(&mut self, id: u32) -> StoreResult<&mut Family> {
    self
      .families
      .get_mut(&id)
      .map(|f| &mut **f)
      .ok_or_else(|| format!("unknown metric family {id}"))
  }

  /// Gives back the capacity of tables that emptied (a `clear()` of 100k metrics leaves maps
  /// sized for 100k, and a hash map that refills over its removed entries may double): called
  /// after large releases, it keeps the store's size proportional to what lives.
  pub fn shrink_if_sparse(&mut self) {
    shrink_map(&mut self.families);
    for r in self.registries.values_mut() {
      r.shrink_if_sparse();
    }
  }

  /// Number of live families (for leak checks).
  pub fn family_count(&self) -> usize {
    self.families.len()
  }

  /// Number of live registries, the global one included (for leak checks).
  pub fn registry_count(&self) -> usize {
    self.registries.len()
  }

  /// Registers series `index` (dense, chosen by JS) whose slots start at `offset` in `chunk`.
  pub fn add_series(
    &mut self,
    family: u32,
    index: u32,
    labels: &str,
    chunk: u32,
    offset: u32,
  ) -> StoreResult<()> {
    let (shard, len) = {
      let f = self.family(family)?;
      (f.shard, f.def.slots_per_series())
    };
    self.check_range(shard, chunk, offset, len)?;
    let f = self.family_mut(family)?;
    let i = index as usize;
    if i > f.series.len() || f.series.get(i).is_some_and(Series::is_live) {
      return Err(format!(
        "metric \"{}\": series index {index} is not free",
        f.def.name
      ));
    }
    let w = f.label_width();
    // With one value there is nothing to split (the whole string is it, as for a family without
    // labels); else escaped values hold no raw newline.
    let parts = if w == 1 {
      1
    } else {
      labels.split('\n').count()
    };
    if parts != w {
      return Err(format!(
        "metric \"{}\": expected {w} label values, got {parts}",
        f.def.name
      ));
    }
    let values: Vec<&str> = if w == 1 {
      vec![labels]
    } else {
      labels.split('\n').collect()
    };
    let mut ids = Vec::with_capacity(w);
    for v in values {
      match f.dict.intern(v) {
        Ok(id) => ids.push(id),
        Err(e) => {
          for &id in &ids {
            f.dict.release(id);
          }
          return Err(format!("metric \"{}\": {e}", f.def.name));
        }
      }
    }
    let s = Series { chunk, offset };
    if i == f.series.len() {
      f.series.push(s);
      f.label_ids.extend_from_slice(&ids);
    } else {
      f.series[i] = s;
      f.label_ids[i * w..(i + 1) * w].copy_from_slice(&ids);
    }
    Ok(())
  }

  fn live_series(&mut self, family: u32, index: u32) -> StoreResult<&mut Family> {
    let f = self.family_mut(family)?;
    if !f.series.get(index as usize).is_some_and(Series::is_live) {
      return Err(format!("metric \"{}\" has no series {index}", f.def.name));
    }
    Ok(f)
  }

  /// Adds a summary sketch page to a series.
  pub fn add_page(&mut self, family: u32, index: u32, page: Page) -> StoreResult<()> {
    let f = self.family(family)?;
    let window_ok = match f.def.kind {
      Kind::Summary => page.window < f.def.age_buckets,
      Kind::Histogram => f.def.native.is_some() && page.window == 0,
      _ => false,
    };
    if !window_ok || page.base % PAGE_BINS as i32 != 0 {
      return Err(format!("invalid sketch page for metric \"{}\"", f.def.name));
    }
    let shard = f.shard;
    self.check_range(shard, page.chunk, page.offset, PAGE_BINS)?;
    self
      .live_series(family, index)?
      .pages
      .entry(index)
      .or_default()
      .push(page);
    Ok(())
  }

  /// Sets the exemplar of a counter series (slot 0) or histogram bucket.
  pub fn set_exemplar(
    &mut self,
    family: u32,
    index: u32,
    slot: u32,
    ex: Exemplar,
  ) -> StoreResult<()> {
    let f = self.live_series(family, index)?;
    let n = f.exemplar_slots();
    if slot as usize >= n {
      return Err(format!("exemplar slot {slot} out of range 0..{n}"));
    }
    f.exemplars
      .entry(index)
      .or_insert_with(|| vec![None; n].into_boxed_slice())[slot as usize] = Some(ex);
    Ok(())
  }

  /// Forgets a series; its slots and index may then be reused by JS.
  pub fn remove_series(&mut self, family: u32, index: u32) -> StoreResult<()> {
    let f = self.family_mut(family)?;
    if f.series.get(index as usize).is_some_and(Series::is_live) {
      f.series[index as usize] = Series::FREE;
      f.release_labels(index);
    }
    f.exemplars.remove(&index);
    f.pages.remove(&index);
    Ok(())
  }

  /// Forgets every series of a family.
  pub fn clear_family(&mut self, family: u32) -> StoreResult<()> {
    let f = self.family_mut(family)?;
    f.series.clear();
    f.label_ids.clear();
    f.dict.clear();
    f.exemplars.clear();
    f.pages.clear();
    Ok(())
  }

  /// Drops a family entirely (it leaves every registry; JS released it).
  pub fn drop_family(&mut self, family: u32) {
    self.release_family(family);
  }

  /// Drops a family like [`Store::drop_family`] and returns the shard slots it held, as
  /// `[chunk, offset, length]` triples (its live series, then its sketch or bucket pages), for
  /// the writing thread to reuse. Empty when the family is unknown (already dropped).
  pub fn release_family(&mut self, family: u32) -> Vec<u32> {
    let Some(f) = self.families.remove(&family) else {
      return Vec::new();
    };
    let f = *f;
    for r in &f.member_of {
      if let Some(reg) = self.registries.get_mut(r) {
        reg.remove(family, &f.def);
      }
    }
    let width = f.def.slots_per_series() as u32;
    let mut runs = Vec::with_capacity(f.series.len() * 3);
    for (_, s) in f.live() {
      runs.extend([s.chunk, s.offset, width]);
    }
    for p in f.pages.values().flatten() {
      runs.extend([p.chunk, p.offset, PAGE_BINS as u32]);
    }
    runs
  }

  /// A new registry.
  pub fn new_registry(&mut self) -> u32 {
    let id = self.next_registry;
    // u32 ids run out after 4·10⁹ registries; wrap past the global one rather than panic.
    self.next_registry = id.checked_add(1).unwrap_or(GLOBAL_REGISTRY + 1);
    self.registries.insert(id, Registry::default());
    id
  }

  fn registry(&self, id: u32) -> StoreResult<&Registry> {
    self
      .registries
      .get(&id)
      .ok_or_else(|| format!("unknown registry {id}"))
  }

  /// Adds a family to a registry (idempotent). A same-named family of another thread with a
  /// different shape is refused: it could not be merged, and dropping it silently loses data.
  ///
  /// A family whose names clash with another's (counter `x` and gauge `x_total`, histogram `h`
  /// and gauge `h_sum`…) is refused too: this is where the families of every thread meet, so
  /// the rule holds for all of them.
  ///
  /// The error names the first-registered member the family conflicts with (and, for a
  /// clash, the first of the family's exposed names that member shares), as a scan of the
  /// members in registration order would; the registry's indexes find it without the scan.
  pub fn registry_add(&mut self, registry: u32, family: u32) -> StoreResult<()> {
    let Store {
      families,
      registries,
      ..
    } = self;
    let def = &families
      .get(&family)
      .ok_or_else(|| format!("unknown metric family {family}"))?
      .def;
    let reg = registries
      .get_mut(&registry)
      .ok_or_else(|| format!("unknown registry {registry}"))?;
    if reg.seq.contains_key(&family) {
      // Already a member: it was checked against every other member when one of them came.
      return Ok(());
    }
    // (registration position of the conflicting member, error)
    let mut first: Option<(u64, String)> = None;
    let mut keep = |seq: u64, err: &dyn Fn() -> String| {
      if first.as_ref().is_none_or(|(s, _)| seq < *s) {
        first = Some((seq, err()));
      }
    };
    let name = Key::new(&def.name);
    for &other in reg.by_name.get(&name).into_iter().flatten() {
      let Some(o) = families.get(&other) else {
        continue;
      };
      if let Some(diff) = o.def.mismatch(def) {
        keep(reg.seq[&other], &|| {
          format!(
            "metric \"{}\" is already registered by another thread with a different definition ({diff})",
            def.name
          )
        });
        break;
      }
    }
    let names: Vec<(u64, &str, &str)> = def
      .exposed_parts()
      .map(|(base, suffix)| (name_hash(base, suffix), base, suffix))
      .collect();
    for &(hash, base, suffix) in &names {
      let Some(owner) = reg.exposer(families, base, suffix, hash) else {
        continue;
      };
      let Some(o) = families.get(&owner) else {
        continue;
      };
      if o.def.name == def.name {
        continue;
      }
      // `owner` is the first member of its name; the others of that name expose the same names.
      keep(reg.seq[&owner], &|| {
        format!(
          "its name clashes with {} \"{}\" in this registry: both would expose \"{base}{suffix}\" (OpenMetrics needs each family and sample name to belong to one metric)",
          o.def.kind.as_str(),
          o.def.name
        )
      });
    }
    if let Some((_, err)) = first {
      return Err(err);
    }
    reg.insert(family, name, &names);
    if let Some(f) = families.get_mut(&family) {
      f.member_of.push(registry);
    }
    Ok(())
  }

  /// Removes a family from a registry.
  pub fn registry_remove(&mut self, registry: u32, family: u32) -> StoreResult<()> {
    self.registry(registry)?;
    let Store {
      families,
      registries,
      ..
    } = self;
    // A dropped family already left every registry.
    if let (Some(f), Some(r)) = (families.get_mut(&family), registries.get_mut(&registry)) {
      if r.seq.contains_key(&family) {
        r.remove(family, &f.def);
        f.member_of.retain(|&m| m != registry);
      }
    }
    Ok(())
  }

  /// Frees a registry (the global one cannot be freed); its families stay, in no registry.
  pub fn drop_registry(&mut self, registry: u32) {
    if registry == GLOBAL_REGISTRY {
      return;
    }
    if let Some(r) = self.registries.remove(&registry) {
      for f in r.order.values() {
        if let Some(f) = self.families.get_mut(f) {
          f.member_of.retain(|&m| m != registry);
        }
      }
    }
  }

  /// Family ids of a registry, in registration order.
  pub fn registry_families(&self, registry: u32) -> StoreResult<Vec<u32>> {
    Ok(self.registry(registry)?.order.values().copied().collect())
  }

  /// Whether `family` is in the registry.
  pub fn registry_contains(&self, registry: u32, family: u32) -> StoreResult<bool> {
    Ok(self.registry(registry)?.seq.contains_key(&family))
  }

  /// Family ids of a registry named `name`, in registration order.
  pub fn registry_named(&self, registry: u32, name: &str) -> StoreResult<&[u32]> {
    Ok(self.registry(registry)?.named(name))
  }
}

impl Store {
  /// Forgets a shard's families (they leave every registry) and marks it dead: its realm is
  /// gone (see `shard_open`).
  pub fn discard_shard(&mut self, shard: u32) {
    let ids: Vec<u32> = self
      .families
      .iter()
      .filter(|(_, f)| f.shard == shard)
      .map(|(&id, _)| id)
      .collect();
    for id in ids {
      self.drop_family(id);
    }
    self.retire_shard(shard);
  }
}

/// Relaxed 8-byte load: the single JS writer stores whole aligned f64s, which do not tear.
///
/// # Safety
/// `ptr.add(i)` must be valid and 8-byte aligned.
#[inline]
unsafe fn load(ptr: *const f64, i: usize) -> f64 {
  let cell = &*(ptr.add(i) as *const AtomicU64);
  f64::from_bits(cell.load(Ordering::Relaxed))
}

/// Groups a registry's families by name, keeping first-registration order. Families from
/// several threads with the same name become one exposed family.
pub fn group_by_name<'a>(store: &'a Store, ids: &[u32]) -> Vec<Vec<&'a Family>> {
  let mut index: HashMap<&str, usize> = HashMap::new();
  let mut groups: Vec<Vec<&Family>> = Vec::new();
  for &id in ids {
    let Ok(f) = store.family(id) else { continue };
    match index.get(f.def.name.as_str()) {
      Some(&g) => {
        if groups[g][0].def.compatible(&f.def) {
          groups[g].push(f);
        }
      }
      None => {
        index.insert(f.def.name.as_str(), groups.len());
        groups.push(vec![f]);
      }
    }
  }
  groups
}

#[cfg(test)]
mod tests {
  use super::*;

  fn def(kind: Kind) -> FamilyDef {
    FamilyDef {
      name: "x".into(),
      help: "h".into(),
      kind,
      label_names: vec![],
      buckets: vec![1.0, 2.0],
      quantiles: vec![],
      max_age_ms: 600_000.0,
      age_buckets: 5,
      aggregator: Aggregator::Sum,
      native: None,
    }
  }

  #[test]
  fn series_outside_its_chunk_is_refused() {
    let mut s = Store::default();
    let sh = s.new_shard();
    let mem = [0f64; 4];
    let c = unsafe { s.attach_chunk(sh, mem.as_ptr(), mem.len()) }.unwrap();
    let f = s.add_family(sh, def(Kind::Histogram)).unwrap();
    let err = s.add_series(f, 0, "", c, 1).unwrap_err();
    assert_eq!(err, "slots 1..5 are outside chunk 0 of 4 slots");
    assert_eq!(s.add_series(f, 0, "", c, 0), Ok(()));
    let dup = s.add_series(f, 0, "", c, 0).unwrap_err();
    assert_eq!(dup, "metric \"x\": series index 0 is not free");
  }

  #[test]
  fn same_name_with_another_shape_is_refused_in_one_registry() {
    let mut s = Store::default();
    let a = s.new_shard();
    let b = s.new_shard();
    let fa = s.add_family(a, def(Kind::Counter)).unwrap();
    let mut other = def(Kind::Counter);
    other.label_names = vec!["b".into()];
    let fb = s.add_family(b, other).unwrap();
    let fc = s.add_family(b, def(Kind::Counter)).unwrap();
    s.registry_add(GLOBAL_REGISTRY, fa).unwrap();
    let err = s.registry_add(GLOBAL_REGISTRY, fb).unwrap_err();
    assert_eq!(err, "metric \"x\" is already registered by another thread with a different definition (labels [] vs [b])");
    assert_eq!(s.registry_add(GLOBAL_REGISTRY, fc), Ok(()));
  }

  #[test]
  fn names_that_clash_across_suffixes_are_refused_in_one_registry() {
    let named = |kind: Kind, name: &str| FamilyDef {
      name: name.into(),
      ..def(kind)
    };
    let cases = [
      (
        named(Kind::Counter, "dup"),
        named(Kind::Counter, "dup_total"),
        "dup_total",
      ),
      (
        named(Kind::Counter, "dup_total"),
        named(Kind::Counter, "dup"),
        "dup",
      ),
      (
        named(Kind::Counter, "cg"),
        named(Kind::Gauge, "cg_total"),
        "cg_total",
      ),
      (
        named(Kind::Counter, "cc"),
        named(Kind::Gauge, "cc_created"),
        "cc_created",
      ),
      (
        named(Kind::Histogram, "hc"),
        named(Kind::Gauge, "hc_bucket"),
        "hc_bucket",
      ),
      (
        named(Kind::Histogram, "hc"),
        named(Kind::Gauge, "hc_count"),
        "hc_count",
      ),
      (
        named(Kind::Gauge, "hs_sum"),
        named(Kind::Histogram, "hs"),
        "hs_sum",
      ),
      (
        named(Kind::Summary, "sc"),
        named(Kind::Counter, "sc_count_total"),
        "sc_count",
      ),
      (
        named(Kind::Summary, "sc"),
        named(Kind::Histogram, "sc_created"),
        "sc_created",
      ),
      // OpenMetrics families `c` (samples `c_total`) and `c_total`.
      (
        named(Kind::Counter, "c_total"),
        named(Kind::Counter, "c_total_total"),
        "c_total",
      ),
    ];
    for (first, second, exposed) in cases {
      let mut s = Store::default();
      let sh = s.new_shard();
      let (kind, name) = (first.kind.as_str(), first.name.clone());
      let a = s.add_family(sh, first).unwrap();
      let b = s.add_family(sh, second).unwrap();
      s.registry_add(GLOBAL_REGISTRY, a).unwrap();
      assert_eq!(
        s.registry_add(GLOBAL_REGISTRY, b).unwrap_err(),
        format!("its name clashes with {kind} \"{name}\" in this registry: both would expose \"{exposed}\" (OpenMetrics needs each family and sample name to belong to one metric)")
      );
      assert_eq!(s.registry_families(GLOBAL_REGISTRY).unwrap(), vec![a]);
    }
  }

  #[test]
  fn names_that_only_look_alike_do_not_clash() {
    let named = |kind: Kind, name: &str| FamilyDef {
      name: name.into(),
      ..def(kind)
    };
    let fine = [
      (named(Kind::Gauge, "g"), named(Kind::Gauge, "g_total")),
      (named(Kind::Summary, "s"), named(Kind::Gauge, "s_bucket")),
      (named(Kind::Histogram, "h"), named(Kind::Gauge, "h_max")),
      (named(Kind::Gauge, "g_info"), named(Kind::Gauge, "g")),
    ];
    for (first, second) in fine {
      assert_eq!(first.clash(&second), None);
      assert_eq!(second.clash(&first), None);
    }
  }

  #[test]
  fn retired_shard_keeps_its_readable_values_compactly() {
    let mut s = Store::default();
    let sh = s.new_shard();
    let mut mem = vec![0f64; 16384];
    let c = unsafe { s.attach_chunk(sh, mem.as_ptr(), mem.len()) }.unwrap();
    let counter = s.add_family(sh, def(Kind::Counter)).unwrap();
    let gauge = s
      .add_family(
        sh,
        FamilyDef {
          name: "g".into(),
          ..def(Kind::Gauge)
        },
      )
      .unwrap();
    let unregistered = s.add_family(sh, def(Kind::Counter)).unwrap();
    s.registry_add(GLOBAL_REGISTRY, counter).unwrap();
    s.registry_add(GLOBAL_REGISTRY, gauge).unwrap();
    s.add_series(counter, 0, "a=\"1\"", c, 100).unwrap();
    s.add_series(counter, 1, "a=\"2\"", c, 7).unwrap();
    s.add_series(counter, 2, "a=\"3\"", c, 9).unwrap();
    s.remove_series(counter, 1).unwrap();
    s.add_series(gauge, 0, "", c, 50).unwrap();
    s.add_series(unregistered, 0, "", c, 60).unwrap();
    mem[100] = 42.0;
    mem[9] = 5.0;
    mem[50] = 3.0;
    s.retire_shard(sh);
    mem.fill(7.0);
    drop(mem);
    assert!(!s.shard_alive(sh));
    // The old chunk is forgotten, the two live counter series sit in a 2-slot block.
    assert!(s.slot(c, 100).is_nan());
    let f = s.family(counter).unwrap();
    let live: Vec<(u32, f64)> = f
      .live()
      .map(|(i, x)| (i, s.slot(x.chunk, x.offset as usize)))
      .collect();
    assert_eq!(live, vec![(0, 42.0), (2, 5.0)]);
    assert_eq!(s.chunks.last().unwrap().len, 2);
    // Its gauge (never shown for a dead thread) keeps no series; the unregistered family is gone.
    assert_eq!(s.family(gauge).unwrap().live().count(), 0);
    assert!(s.family(unregistered).is_err());
    assert_eq!(
      s.registry_families(GLOBAL_REGISTRY).unwrap(),
      vec![counter, gauge]
    );
  }

  #[test]
  fn released_family_hands_back_its_slots_and_leaves_its_registries() {
    let mut s = Store::default();
    let sh = s.new_shard();
    let mem = vec![0f64; 16384];
    let c = unsafe { s.attach_chunk(sh, mem.as_ptr(), mem.len()) }.unwrap();
    let r = s.new_registry();
    let f = s.add_family(sh, def(Kind::Summary)).unwrap();
    s.registry_add(GLOBAL_REGISTRY, f).unwrap();
    s.registry_add(r, f).unwrap();
    let w = def(Kind::Summary).slots_per_series() as u32;
    s.add_series(f, 0, "", c, 0).unwrap();
    let page = Page {
      window: 1,
      negative: false,
      base: 0,
      chunk: c,
      offset: 1000,
    };
    s.add_page(f, 0, page).unwrap();
    assert_eq!(
      s.release_family(f),
      vec![c, 0, w, c, 1000, PAGE_BINS as u32]
    );
    assert!(s.registry_families(GLOBAL_REGISTRY).unwrap().is_empty());
    assert!(s.registry_families(r).unwrap().is_empty());
    assert_eq!(s.release_family(f), Vec::<u32>::new());
    // Ids are not reused; a dropped registry frees its entry.
    let g = s.add_family(sh, def(Kind::Counter)).unwrap();
    assert_ne!(g, f);
    s.registry_add(r, g).unwrap();
    s.drop_registry(r);
    assert!(s.registry_families(r).is_err());
    assert!(s.family(g).unwrap().member_of.is_empty());
    assert_eq!((s.family_count(), s.registry_count()), (1, 1));
  }

  #[test]
  fn removed_series_index_is_reused_and_exemplars_go() {
    let mut s = Store::default();
    let sh = s.new_shard();
    let mem = [0f64; 4];
    let c = unsafe { s.attach_chunk(sh, mem.as_ptr(), mem.len()) }.unwrap();
    let f = s.add_family(sh, def(Kind::Counter)).unwrap();
    s.add_series(f, 0, "a=\"1\"", c, 0).unwrap();
    s.add_series(f, 1, "a=\"2\"", c, 1).unwrap();
    let ex = Exemplar {
      labels: String::new(),
      value: 1.0,
      timestamp: 0.0,
    };
    s.set_exemplar(f, 0, 0, ex.clone()).unwrap();
    assert_eq!(
      s.set_exemplar(f, 0, 1, ex).unwrap_err(),
      "exemplar slot 1 out of range 0..1"
    );
    s.remove_series(f, 0).unwrap();
    s.add_series(f, 0, "a=\"3\"", c, 0).unwrap();
    let fam = s.family(f).unwrap();
    assert_eq!(fam.series_len(), 2);
    assert_eq!(fam.labels(0), "a=\"3\"");
    assert!(fam.exemplars.is_empty());
  }

  #[test]
  fn label_values_are_compacted_after_many_removals() {
    let mut s = Store::default();
    let sh = s.new_shard();
    let mem = vec![0f64; 16384];
    let c = unsafe { s.attach_chunk(sh, mem.as_ptr(), mem.len()) }.unwrap();
    let f = s.add_family(sh, def(Kind::Counter)).unwrap();
    for i in 0..1000u32 {
      s.add_series(f, i, &format!("a=\"{i:08}\""), c, i).unwrap();
    }
    for i in 0..900u32 {
      s.remove_series(f, i).unwrap();
    }
    let fam = s.family(f).unwrap();
    assert!(
      fam.dict.bytes.len() < 100 * 14 + 4096,
      "label bytes still {}",
      fam.dict.bytes.len()
    );
    assert_eq!(fam.label_value_count(), 100);
    let live: Vec<String> = fam.live().map(|(i, _)| fam.labels(i)).collect();
    assert_eq!(live.len(), 100);
    assert_eq!(live[0], "a=\"00000900\"");
    assert_eq!(live[99], "a=\"00000999\"");
  }

  fn labelled(kind: Kind, names: &[&str]) -> FamilyDef {
    FamilyDef {
      label_names: names.iter().map(|n| n.to_string()).collect(),
      ..def(kind)
    }
  }

  #[test]
  fn repeated_label_values_are_stored_once_and_go_with_their_last_series() {
    let mut s = Store::default();
    let sh = s.new_shard();
    let mem = vec![0f64; 16384];
    let c = unsafe { s.attach_chunk(sh, mem.as_ptr(), mem.len()) }.unwrap();
    let f = s
      .add_family(sh, labelled(Kind::Counter, &["method", "path"]))
      .unwrap();
    // 3 methods × 4 paths: 12 series, 7 distinct values ("GET" is also a path).
    let methods = ["GET", "POST", "\\a"];
    let paths = ["/a", "/b", "GET", ""];
    let mut i = 0;
    for m in methods {
      for p in paths {
        s.add_series(f, i, &format!("{m}\n{p}"), c, i).unwrap();
        i += 1;
      }
    }
    let fam = s.family(f).unwrap();
    // The empty value is not held (it has an id of its own).
    assert_eq!(fam.label_value_count(), 5);
    assert_eq!(fam.dict.bytes, "GET/a/bPOST\\a");
    assert_eq!(fam.labels(0), "GET\n/a");
    assert_eq!(fam.labels(2), "GET\nGET");
    assert!(fam.labels_eq(2, "GET\nGET"));
    for other in ["GET\nGE", "GET\nGETx", "GETGET", "GET\nGET\n", "", "GET"] {
      assert!(!fam.labels_eq(2, other), "{other:?}");
    }
    assert!(fam.labels_eq(3, "GET\n"));
    assert!(!fam.labels_eq(3, "GET"));
    assert_eq!(fam.labels(3), "GET\n");
    assert_eq!(fam.labels(11), "\\a\n");
    // Every series with path "/b" gone: the value goes, the others stay exact.
    for m in 0..3 {
      s.remove_series(f, m * 4 + 1).unwrap();
    }
    let fam = s.family(f).unwrap();
    assert_eq!(fam.label_value_count(), 4);
    assert_eq!(fam.dict.find("/b", value_hash("/b")), None);
    assert_eq!(fam.labels(1), "", "a removed series has no labels");
    // "GET" is still held as a path by series 6 and 10 once the GET series go.
    for p in [0, 2, 3] {
      s.remove_series(f, p).unwrap();
    }
    let fam = s.family(f).unwrap();
    assert_eq!(fam.label_value_count(), 4);
    assert_eq!(fam.labels(6), "POST\nGET");
    // The freed id is reused by the next new value.
    s.add_series(f, 0, "PUT\n/c", c, 0).unwrap();
    let fam = s.family(f).unwrap();
    assert_eq!(fam.label_value_count(), 6);
    assert_eq!(fam.dict.values.len(), 6);
    let live: Vec<String> = fam.live().map(|(i, _)| fam.labels(i)).collect();
    assert_eq!(
      live,
      [
        "PUT\n/c",
        "POST\n/a",
        "POST\nGET",
        "POST\n",
        "\\a\n/a",
        "\\a\nGET",
        "\\a\n"
      ]
    );
    // A reader's copy renders the same strings without the lookup.
    let copy = fam.reader_copy();
    assert!(copy.dict.by_hash.is_empty());
    let copied: Vec<String> = copy.live().map(|(i, _)| copy.labels(i)).collect();
    assert_eq!(copied, live);
    s.clear_family(f).unwrap();
    let fam = s.family(f).unwrap();
    assert_eq!(fam.label_value_count(), 0);
    assert!(fam.dict.bytes.is_empty());
  }

  #[test]
  fn a_family_without_labels_allocates_no_dictionary() {
    let mut s = Store::default();
    let sh = s.new_shard();
    let mem = [0f64; 4];
    let c = unsafe { s.attach_chunk(sh, mem.as_ptr(), mem.len()) }.unwrap();
    let f = s.add_family(sh, def(Kind::Counter)).unwrap();
    s.add_series(f, 0, "", c, 0).unwrap();
    let fam = s.family(f).unwrap();
    assert_eq!(fam.labels(0), "");
    assert_eq!(fam.label_value_count(), 0);
    assert_eq!(fam.dict.values.capacity() + fam.dict.by_hash.capacity(), 0);
    s.remove_series(f, 0).unwrap();
    assert_eq!(s.family(f).unwrap().live().count(), 0);
  }

  #[test]
  fn a_label_string_with_the_wrong_number_of_values_is_refused_and_changes_nothing() {
    let mut s = Store::default();
    let sh = s.new_shard();
    let mem = [0f64; 4];
    let c = unsafe { s.attach_chunk(sh, mem.as_ptr(), mem.len()) }.unwrap();
    let f = s
      .add_family(sh, labelled(Kind::Counter, &["a", "b"]))
      .unwrap();
    assert_eq!(
      s.add_series(f, 0, "x", c, 0).unwrap_err(),
      "metric \"x\": expected 2 label values, got 1"
    );
    assert_eq!(
      s.add_series(f, 0, "x\ny\nz", c, 0).unwrap_err(),
      "metric \"x\": expected 2 label values, got 3"
    );
    let fam = s.family(f).unwrap();
    assert_eq!((fam.series_len(), fam.label_value_count()), (0, 0));
    s.add_series(f, 0, "x\ny", c, 0).unwrap();
    assert_eq!(s.family(f).unwrap().labels(0), "x\ny");
  }

  #[test]
  fn many_distinct_values_keep_their_own_ids_through_real_hash_collisions() {
    let mut d = LabelDict::default();
    let n = 300_000u32;
    let ids: Vec<u32> = (0..n)
      .map(|i| d.intern(&format!("v{i}")).unwrap())
      .collect();
    // 300k values in 32 bits: a few share a hash (deterministic: fixed keys).
    assert!(!d.collided.is_empty(), "no collision among {n} values");
    for (i, &id) in ids.iter().enumerate() {
      let v = format!("v{i}");
      assert_eq!(d.get(id), v);
      assert_eq!(d.find(&v, value_hash(&v)), Some(id));
    }
    assert_eq!(d.intern("v7").unwrap(), ids[7]);
    d.release(ids[7]);
    for &id in &ids {
      d.release(id);
    }
    assert_eq!(d.live_values(), 0);
    assert!(d.by_hash.is_empty() && d.collided.is_empty());
    assert!(d.bytes.is_empty(), "{} bytes left", d.bytes.len());
  }

  #[test]
  fn values_whose_hashes_collide_keep_their_own_ids() {
    // Forced collision: the second value is filed under the first one's hash.
    let mut d = LabelDict::default();
    let a = d.intern("a").unwrap();
    let h = value_hash("a");
    d.bytes.push('b');
    d.values.push(Interned {
      start: 1,
      len: 1,
      refs: 1,
    });
    let b = 1u32;
    d.collided.insert("b".into(), (b, h));
    // Lookups by content, whatever the hash says.
    assert_eq!(d.find("a", h), Some(a));
    assert_eq!(d.find("b", h), Some(b));
    assert_eq!(d.find("c", h), None);
    // The primary goes: the collided value takes its hash.
    d.release(a);
    assert_eq!(d.by_hash.get(&h), Some(&b));
    assert!(d.collided.is_empty());
    assert_eq!(d.find("b", h), Some(b));
    assert_eq!(d.get(b), "b");
  }

  /// The clash and merge rules as a scan of every member in registration order: what
  /// `registry_add` did before the registry indexes (issue 17).
  fn scan_add(s: &Store, registry: u32, family: u32) -> StoreResult<()> {
    let def = &s.family(family)?.def;
    let names = def.exposed_names();
    for other in s.registry_families(registry)? {
      if other == family {
        continue;
      }
      let o = &s.family(other).unwrap().def;
      if o.name != def.name {
        if let Some(n) = names.iter().find(|n| o.exposes(n)) {
          return Err(format!(
            "its name clashes with {} \"{}\" in this registry: both would expose \"{n}\" (OpenMetrics needs each family and sample name to belong to one metric)",
            o.kind.as_str(),
            o.name
          ));
        }
      } else if let Some(diff) = o.mismatch(def) {
        return Err(format!(
          "metric \"{}\" is already registered by another thread with a different definition ({diff})",
          def.name
        ));
      }
    }
    Ok(())
  }

  /// The registry's indexes, rebuilt from its members in registration order, equal the
  /// maintained ones.
  fn check_index(s: &Store, registry: u32) {
    let reg = s.registry(registry).unwrap();
    let ids = s.registry_families(registry).unwrap();
    assert_eq!(ids.len(), reg.seq.len());
    let mut by_name: HashMap<String, Vec<u32>> = HashMap::new();
    let mut exposed: HashMap<String, u32> = HashMap::new();
    for &id in &ids {
      assert_eq!(reg.order[&reg.seq[&id]], id);
      let def = &s.family(id).unwrap().def;
      by_name.entry(def.name.clone()).or_default().push(id);
      for n in def.exposed_names() {
        let owner = *exposed.entry(n.clone()).or_insert(id);
        // One metric name per exposed name (the rule the index relies on).
        assert_eq!(s.family(owner).unwrap().def.name, def.name, "{n}");
      }
    }
    // Every exposed name is found, owned by the first member of its metric name, and the index
    // holds nothing else.
    for (n, &owner) in &exposed {
      assert_eq!(
        reg.exposer(&s.families, n, "", name_hash(n, "")),
        Some(owner),
        "{n}"
      );
    }
    assert_eq!(reg.exposed.len() + reg.collided.len(), exposed.len());
    let by_name_strings: HashMap<String, Vec<u32>> = reg
      .by_name
      .iter()
      .map(|(k, v)| (k.name.to_string(), v.clone()))
      .collect();
    assert_eq!(by_name, by_name_strings);
  }

  #[test]
  fn exposed_parts_are_the_exposed_names_each_once() {
    for (kind, name) in [
      (Kind::Counter, "c_total"),
      (Kind::Counter, "c"),
      (Kind::Gauge, "g_total"),
      (Kind::Histogram, "h"),
      (Kind::Summary, "s_count"),
    ] {
      let d = FamilyDef {
        name: name.into(),
        ..def(kind)
      };
      let parts: Vec<String> = d.exposed_parts().map(|(b, s)| format!("{b}{s}")).collect();
      let mut names = d.exposed_names();
      let mut seen = std::collections::HashSet::new();
      names.retain(|n| seen.insert(n.clone()));
      assert_eq!(parts, names, "{name}");
    }
  }

  #[test]
  fn an_exposed_name_hashes_alike_however_it_is_split() {
    assert_eq!(name_hash("x", "_total"), name_hash("x_total", ""));
    assert_eq!(name_hash("", "x_total"), name_hash("x_total", ""));
    assert_ne!(name_hash("x", "_total"), name_hash("x", "_created"));
  }

  #[test]
  fn names_whose_hashes_collide_are_kept_apart() {
    // A real 64-bit collision cannot be produced here: plant one by moving an entry of
    // `exposed` under another name's hash, as a collision would leave it.
    let named = |kind: Kind, name: &str| FamilyDef {
      name: name.into(),
      ..def(kind)
    };
    let mut s = Store::default();
    let shard = s.new_shard();
    let reg = s.new_registry();
    let a = s.add_family(shard, named(Kind::Gauge, "alpha")).unwrap();
    s.registry_add(reg, a).unwrap();
    {
      let r = s.registries.get_mut(&reg).unwrap();
      let owner = r.exposed.remove(&name_hash("alpha", "")).unwrap();
      r.exposed.insert(name_hash("beta", ""), owner);
    }
    // "beta" hashes to alpha's entry, which does not expose it: it goes to `collided`.
    let b = s.add_family(shard, named(Kind::Gauge, "beta")).unwrap();
    s.registry_add(reg, b).unwrap();
    let r = &s.registries[&reg];
    assert_eq!(r.collided.get("beta"), Some(&b));
    assert_eq!(
      r.exposer(&s.families, "beta", "", name_hash("beta", "")),
      Some(b)
    );
    assert_eq!(
      r.exposer(&s.families, "alpha", "", name_hash("beta", "")),
      Some(a)
    );
    // A clash with the collided name is still found, and removing it empties `collided`.
    let c = s
      .add_family(shard, named(Kind::Counter, "beta_total"))
      .unwrap();
    assert!(s
      .registry_add(reg, c)
      .unwrap_err()
      .contains("gauge \"beta\""));
    s.registry_remove(reg, b).unwrap();
    assert!(s.registries[&reg].collided.is_empty());
    s.registry_add(reg, c).unwrap();
  }

  #[test]
  fn registry_index_agrees_with_a_scan_of_the_registry() {
    const NAMES: [&str; 12] = [
      "x",
      "x_total",
      "x_created",
      "x_bucket",
      "x_sum",
      "x_count",
      "y",
      "y_total",
      "h",
      "h_bucket",
      "h_count",
      "z",
    ];
    const KINDS: [Kind; 4] = [Kind::Counter, Kind::Gauge, Kind::Histogram, Kind::Summary];
    let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move |n: usize| {
      rng ^= rng << 13;
      rng ^= rng >> 7;
      rng ^= rng << 17;
      (rng % n as u64) as usize
    };
    let mut s = Store::default();
    let shards = [s.new_shard(), s.new_shard()];
    let registries = [GLOBAL_REGISTRY, s.new_registry()];
    let fresh = |s: &mut Store, next: &mut dyn FnMut(usize) -> usize| {
      let mut d = def(KINDS[next(4)]);
      d.name = NAMES[next(NAMES.len())].into();
      if next(4) == 0 {
        d.label_names = vec!["a".into()];
      }
      s.add_family(shards[next(2)], d).unwrap()
    };
    let mut pool: Vec<u32> = (0..40).map(|_| fresh(&mut s, &mut next)).collect();
    let (mut refused, mut clashes, mut mismatches) = (0, 0, 0);
    for _ in 0..20_000 {
      let r = registries[next(2)];
      let k = next(pool.len());
      let f = pool[k];
      match next(10) {
        0..=5 => {
          let want = scan_add(&s, r, f);
          let before = s.registry_families(r).unwrap();
          let got = s.registry_add(r, f);
          assert_eq!(got, want, "adding {:?}", s.family(f).unwrap().def);
          if let Err(e) = &got {
            refused += 1;
            clashes += e.contains("clashes") as u32;
            mismatches += e.contains("different definition") as u32;
            assert_eq!(s.registry_families(r).unwrap(), before);
          } else if !before.contains(&f) {
            assert_eq!(s.registry_families(r).unwrap().last(), Some(&f));
          }
        }
        6..=8 => {
          s.registry_remove(r, f).unwrap();
          assert!(!s.registry_families(r).unwrap().contains(&f));
        }
        _ => {
          s.drop_family(f);
          for r in registries {
            assert!(!s.registry_contains(r, f).unwrap());
          }
          pool[k] = fresh(&mut s, &mut next);
        }
      }
      for r in registries {
        check_index(&s, r);
      }
    }
    // The run exercised both rules and the merges.
    assert!(
      clashes > 100 && mismatches > 100,
      "{refused} {clashes} {mismatches}"
    );
    let merged = registries
      .iter()
      .flat_map(|&r| s.registry(r).unwrap().by_name.values())
      .any(|g| g.len() > 1);
    assert!(merged);
    assert_eq!(
      s.registry_named(GLOBAL_REGISTRY, "nope").unwrap(),
      &[] as &[u32]
    );
  }
}
