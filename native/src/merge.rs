//! Reads the shards and merges the families of one registry into the exposed view.
//!
//! A family written by one thread is read straight from its slots. Families of the same name
//! written by several threads are merged series by series (same rendered labels): counters,
//! histograms and summary sketches add up; gauges use the family's aggregator and skip
//! threads that have ended.

use std::collections::{BTreeMap, HashMap};

use crate::native_histogram::{self, NativeSeries};
use crate::sketch;
use crate::store::{Aggregator, Exemplar, Family, FamilyDef, Kind, Store};

/// One exposed family.
pub struct MergedFamily<'a> {
  /// Definition (of the first family of the group).
  pub def: &'a FamilyDef,
  /// Values per series, `stride` f64 each (see [`stride`]).
  pub values: Vec<f64>,
  /// Stored label strings (see [`crate::store::Family::labels_into`]), one per series.
  pub labels: LabelList,
  /// Exemplars per series: one for counters, one per bucket for histograms.
  pub exemplars: Vec<Option<&'a Exemplar>>,
  /// Native buckets per series (native histograms only; empty otherwise).
  pub native: Vec<NativeSeries>,
}

impl MergedFamily<'_> {
  /// Number of series.
  pub fn len(&self) -> usize {
    self.labels.len()
  }

  /// True when the family has no series.
  pub fn is_empty(&self) -> bool {
    self.labels.is_empty()
  }
}

/// The stored label strings of a merged family, back to back in one buffer: the store keeps
/// each distinct label value once (see `store.rs`), so a merge renders the series' strings
/// rather than borrowing them. `labels[n]` is series `n`'s.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LabelList {
  text: String,
  ends: Vec<usize>,
}

impl LabelList {
  /// Number of label strings.
  pub fn len(&self) -> usize {
    self.ends.len()
  }

  /// True when there is none.
  pub fn is_empty(&self) -> bool {
    self.ends.is_empty()
  }

  /// Appends one label string.
  pub fn push(&mut self, labels: &str) {
    self.text.push_str(labels);
    self.ends.push(self.text.len());
  }

  /// Appends the label string of series `index` of `f`.
  pub fn push_series(&mut self, f: &Family, index: u32) {
    f.labels_into(index, &mut self.text);
    self.ends.push(self.text.len());
  }

  /// Drops the last label string.
  fn pop(&mut self) {
    self.ends.pop();
    self.text.truncate(self.ends.last().copied().unwrap_or(0));
  }

  /// The label strings in order.
  pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
    (0..self.len()).map(|n| &self[n])
  }
}

impl std::ops::Index<usize> for LabelList {
  type Output = str;

  fn index(&self, n: usize) -> &str {
    let start = if n == 0 { 0 } else { self.ends[n - 1] };
    &self.text[start..self.ends[n]]
  }
}

impl<'s> FromIterator<&'s str> for LabelList {
  fn from_iter<I: IntoIterator<Item = &'s str>>(it: I) -> LabelList {
    let mut l = LabelList::default();
    for s in it {
      l.push(s);
    }
    l
  }
}

/// Merged series by label string, for merges of several families, without a copy of each
/// string: the 64-bit hash of a series' labels → its position in the [`LabelList`], and an
/// ordinary map for a string whose hash another already holds (a collision costs a lookup,
/// never a wrong merge).
#[derive(Default)]
struct LabelIndex {
  by_hash: HashMap<u64, usize>,
  collided: HashMap<String, usize>,
}

fn labels_hash(labels: &str) -> u64 {
  use std::hash::{Hash, Hasher};
  let mut h = std::hash::DefaultHasher::new();
  labels.hash(&mut h);
  h.finish()
}

impl LabelIndex {
  /// The earlier series whose labels equal those of `labels[n]`.
  fn find(&self, labels: &LabelList, n: usize) -> Option<usize> {
    let s = &labels[n];
    match self.by_hash.get(&labels_hash(s)) {
      Some(&m) if &labels[m] == s => Some(m),
      Some(_) => self.collided.get(s).copied(),
      None => None,
    }
  }

  /// Files `labels[n]` (not yet filed) under its string.
  fn insert(&mut self, labels: &LabelList, n: usize) {
    let s = &labels[n];
    match self.by_hash.entry(labels_hash(s)) {
      std::collections::hash_map::Entry::Vacant(e) => {
        e.insert(n);
      }
      std::collections::hash_map::Entry::Occupied(_) => {
        self.collided.insert(s.to_owned(), n);
      }
    }
  }
}

/// Values per merged series: counter/gauge `[v]`; histogram `[bucket counts…, +Inf count,
/// sum]` (not cumulative); summary `[quantile values…, sum, count]`.
pub fn stride(def: &FamilyDef) -> usize {
  match def.kind {
    Kind::Counter | Kind::Gauge => 1,
    Kind::Histogram => def.buckets.len() + 2,
    Kind::Summary => def.quantiles.len() + 2,
  }
}

fn exemplar_stride(def: &FamilyDef) -> usize {
  match def.kind {
    Kind::Counter => 1,
    Kind::Histogram => def.buckets.len() + 1,
    _ => 0,
  }
}

/// Merges one group of same-named families (see [`crate::store::group_by_name`]).
pub fn merge<'a>(store: &'a Store, group: &[&'a Family], now_ms: f64) -> Option<MergedFamily<'a>> {
  let def = &group[0].def;
  let live: Vec<&Family> = group
    .iter()
    .copied()
    .filter(|f| def.kind != Kind::Gauge || store.shard_alive(f.shard))
    .collect();
  // prom-client applies the aggregator to counters and gauges alike (process-wide counters such
  // as CPU seconds use `max` so that threads reporting the same process do not add up).
  let aggregated = matches!(def.kind, Kind::Counter | Kind::Gauge);
  if aggregated && def.aggregator == Aggregator::Omit && live.len() > 1 {
    return None;
  }
  let stride = stride(def);
  let ex_stride = exemplar_stride(def);
  let mut out = MergedFamily {
    def,
    values: Vec::new(),
    labels: LabelList::default(),
    exemplars: Vec::new(),
    native: Vec::new(),
  };
  // Series index by label string; only needed when more than one family contributes.
  let mut index = LabelIndex::default();
  let mut contributors: Vec<u32> = Vec::new();
  let mut sketches: Vec<BTreeMap<i64, f64>> = Vec::new();
  // Observed (min, max) per summary series, to keep quantiles inside it.
  let mut ranges: Vec<(f64, f64)> = Vec::new();
  let single = live.len() == 1;
  for f in &live {
    let ex_slots = f.exemplar_slots();
    // Each family is read with its own layout (they agree when `compatible`, but never trust it).
    let mut raw = vec![0f64; f.def.slots_per_series()];
    for (si, s) in f.live() {
      // Rendered in place as a new series; taken back when another family already had it.
      out.labels.push_series(f, si);
      let n = out.labels.len() - 1;
      let known = if single {
        None
      } else {
        index.find(&out.labels, n)
      };
      let n = match known {
        Some(n) => {
          out.labels.pop();
          n
        }
        None => {
          if !single {
            index.insert(&out.labels, n);
          }
          out.values.resize(out.values.len() + stride, 0.0);
          out.exemplars.resize(out.exemplars.len() + ex_stride, None);
          contributors.push(0);
          if def.kind == Kind::Summary {
            sketches.push(BTreeMap::new());
            ranges.push((f64::INFINITY, f64::NEG_INFINITY));
          }
          if def.native.is_some() {
            out.native.push(NativeSeries {
              schema: native_histogram::MAX_SCHEMA,
              ..Default::default()
            });
          }
          n
        }
      };
      for (i, r) in raw.iter_mut().enumerate() {
        *r = store.slot(s.chunk, s.offset as usize + i);
      }
      let vals = &mut out.values[n * stride..(n + 1) * stride];
      let first = contributors[n] == 0;
      contributors[n] += 1;
      match def.kind {
        Kind::Histogram => {
          for (v, r) in vals.iter_mut().zip(&raw) {
            *v += r;
          }
          if def.native.is_some() {
            let pages = f.pages.get(&si).map_or(&[][..], Vec::as_slice);
            let nh = native_histogram::read(store, &f.def, s, pages);
            out.native[n].add(nh);
          }
        }
        Kind::Counter | Kind::Gauge => {
          let r = raw[0];
          vals[0] = match def.aggregator {
            _ if first => r,
            Aggregator::Sum | Aggregator::Average | Aggregator::Omit | Aggregator::PerProcess => {
              vals[0] + r
            }
            Aggregator::First | Aggregator::Last => vals[0],
            Aggregator::Min => crate::combine::min(vals[0], r),
            Aggregator::Max => crate::combine::max(vals[0], r),
          };
        }
        Kind::Summary => {
          let q = def.quantiles.len();
          vals[q] += raw[1];
          vals[q + 1] += raw[0];
          let pages = f.pages.get(&si).map_or(&[][..], Vec::as_slice);
          sketch::collect_bins(store, &f.def, pages, &raw, now_ms, &mut sketches[n]);
          let (lo, hi) = sketch::window_range(&f.def, &raw, now_ms);
          ranges[n] = (ranges[n].0.min(lo), ranges[n].1.max(hi));
        }
      }
      let exemplars = f.exemplars.get(&si).map_or(&[][..], |e| &e[..ex_slots]);
      for (i, e) in exemplars.iter().enumerate() {
        let slot = &mut out.exemplars[n * ex_stride + i];
        if let Some(e) = e {
          if slot.is_none_or(|old| old.timestamp <= e.timestamp) {
            *slot = Some(e);
          }
        }
      }
    }
  }
  if aggregated && def.aggregator == Aggregator::Average {
    for (v, &c) in out.values.iter_mut().zip(&contributors) {
      *v /= c as f64;
    }
  }
  if def.kind == Kind::Summary {
    let q = def.quantiles.len();
    for (n, bins) in sketches.iter().enumerate() {
      for (i, &quantile) in def.quantiles.iter().enumerate() {
        out.values[n * stride + i] = sketch::quantile_in(bins, quantile, ranges[n]);
      }
      debug_assert!(q < stride);
    }
  }
  Some(out)
}

/// Merges every family of a registry (optionally only the one named `only`).
pub fn merge_registry<'a>(
  store: &'a Store,
  registry: u32,
  only: Option<&str>,
  now_ms: f64,
) -> Result<Vec<MergedFamily<'a>>, String> {
  let ids = store.registry_families(registry)?;
  Ok(
    crate::store::group_by_name(store, &ids)
      .iter()
      .filter(|g| only.is_none_or(|n| g[0].def.name == n))
      .filter_map(|g| merge(store, g, now_ms))
      .collect(),
  )
}

/// Merges the group of families named like `family` in `registry`, or the family alone.
pub fn merge_family(
  store: &Store,
  registry: Option<u32>,
  family: u32,
  now_ms: f64,
) -> Result<Option<MergedFamily<'_>>, String> {
  let f = store.family(family)?;
  if let Some(r) = registry {
    if store.registry_contains(r, family)? {
      // The families of that name, in registration order: what grouping the whole registry
      // would put in the group (registry lookups, not a scan of the registry).
      let groups = crate::store::group_by_name(store, store.registry_named(r, &f.def.name)?);
      if let Some(g) = groups.into_iter().find(|g| g[0].def.name == f.def.name) {
        return Ok(merge(store, &g, now_ms));
      }
    }
  }
  Ok(merge(store, &[f], now_ms))
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::store::{FamilyDef, GLOBAL_REGISTRY};

  fn counter() -> FamilyDef {
    FamilyDef {
      name: "c_total".into(),
      help: "h".into(),
      kind: Kind::Counter,
      label_names: vec!["a".into(), "b".into()],
      buckets: vec![],
      quantiles: vec![],
      max_age_ms: 0.0,
      age_buckets: 0,
      aggregator: Aggregator::Sum,
      native: None,
    }
  }

  #[test]
  fn families_of_several_threads_merge_by_label_string() {
    let mut s = Store::default();
    let (t1, t2) = (s.new_shard(), s.new_shard());
    let m1 = [1.0, 2.0, 4.0];
    let m2 = [10.0, 20.0];
    let c1 = unsafe { s.attach_chunk(t1, m1.as_ptr(), m1.len()) }.unwrap();
    let c2 = unsafe { s.attach_chunk(t2, m2.as_ptr(), m2.len()) }.unwrap();
    let f1 = s.add_family(t1, counter()).unwrap();
    let f2 = s.add_family(t2, counter()).unwrap();
    s.registry_add(GLOBAL_REGISTRY, f1).unwrap();
    s.registry_add(GLOBAL_REGISTRY, f2).unwrap();
    s.add_series(f1, 0, "x\ny", c1, 0).unwrap();
    s.add_series(f1, 1, "y\nx", c1, 1).unwrap();
    s.add_series(f1, 2, "x\n", c1, 2).unwrap();
    // Thread 2 holds "y\nx" and a series of its own; its value ids differ from thread 1's.
    s.add_series(f2, 0, "z\nz", c2, 0).unwrap();
    s.add_series(f2, 1, "y\nx", c2, 1).unwrap();
    let merged = merge_registry(&s, GLOBAL_REGISTRY, None, 0.0).unwrap();
    assert_eq!(merged.len(), 1);
    let m = &merged[0];
    let labels: Vec<&str> = m.labels.iter().collect();
    assert_eq!(labels, ["x\ny", "y\nx", "x\n", "z\nz"]);
    assert_eq!(m.values, [1.0, 22.0, 4.0, 10.0]);
  }

  #[test]
  fn label_strings_whose_hashes_collide_are_not_merged() {
    let mut labels: LabelList = ["a", "b"].into_iter().collect();
    let mut idx = LabelIndex::default();
    idx.insert(&labels, 0);
    // Forced collision: "b"'s hash filed as series 0 ("a").
    idx.by_hash.insert(labels_hash("b"), 0);
    assert_eq!(idx.find(&labels, 1), None);
    idx.insert(&labels, 1);
    labels.push("b");
    assert_eq!(idx.find(&labels, 2), Some(1));
    labels.push("a");
    assert_eq!(idx.find(&labels, 3), Some(0));
    labels.pop();
    assert_eq!(labels.len(), 3);
    assert_eq!(&labels[2], "b");
  }
}
