//! Copies this process's values of the global registry out of the store (merged across its
//! threads), in the shape the protocol sends: counter-like parts (added across processes) and
//! gauge-like parts (kept per process). Runs under the store lock; allocation is per series.

use std::collections::{BTreeMap, HashMap};

use crate::merge::{self, stride};
use crate::sketch;
use crate::store::{group_by_name, Family, FamilyDef, Kind, Store, GLOBAL_REGISTRY};

use super::field;

/// One series of this process.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSnap {
  /// Family name, the key of its metadata and fields in Redis.
  pub name: String,
  /// Stored label values (escaped, newline-joined): the field's `<labels>`.
  pub labels: String,
  /// Observations/value that only grows unless the series was reset (reset detection).
  pub count: f64,
  /// Counter-like parts and this process's values (not cumulative across resets).
  pub counters: Vec<(String, f64)>,
  /// Gauge-like parts and values.
  pub gauges: Vec<(String, f64)>,
}

/// One series as [`visit`] shows it, borrowed from the store (or from a [`SeriesSnap`]).
#[derive(Debug, Clone, Copy)]
pub struct SeriesView<'a> {
  /// Family name.
  pub name: &'a str,
  /// Stored label values.
  pub labels: &'a str,
  /// As [`SeriesSnap::count`].
  pub count: f64,
  /// As [`SeriesSnap::counters`].
  pub counters: &'a [(String, f64)],
  /// As [`SeriesSnap::gauges`].
  pub gauges: &'a [(String, f64)],
}

impl SeriesSnap {
  /// This series, borrowed.
  pub fn view(&self) -> SeriesView<'_> {
    SeriesView {
      name: &self.name,
      labels: &self.labels,
      count: self.count,
      counters: &self.counters,
      gauges: &self.gauges,
    }
  }
}

/// Everything one flush needs.
#[derive(Debug, Default)]
pub struct Snapshot {
  /// Metric name → metadata JSON.
  pub metas: Vec<(String, String)>,
  /// Series.
  pub series: Vec<SeriesSnap>,
}

/// Reads the global registry.
pub fn collect(store: &Store, now_ms: f64) -> Snapshot {
  let mut series = Vec::new();
  let metas = visit(store, now_ms, &mut |v| {
    series.push(SeriesSnap {
      name: v.name.to_owned(),
      labels: v.labels.to_owned(),
      count: v.count,
      counters: v.counters.to_vec(),
      gauges: v.gauges.to_vec(),
    });
  });
  Snapshot { metas, series }
}

/// What [`visit_changed`] showed last of the families it may skip: per family id, its name and
/// per live series (in the store's order) the series index, labels and raw slot bits.
#[derive(Debug, Default)]
pub struct Seen {
  families: HashMap<u32, SeenFamily>,
}

#[derive(Debug, Default)]
struct SeenFamily {
  name: String,
  width: usize,
  series: Vec<(u32, String, Box<[u64]>)>,
}

/// Reads the global registry series by series, each borrowed from the store while `f` runs (no
/// copy of names or labels: a writer that knows the series looks it up and allocates nothing);
/// returns the families' metadata.
pub fn visit(
  store: &Store,
  now_ms: f64,
  f: &mut dyn FnMut(SeriesView<'_>),
) -> Vec<(String, String)> {
  visit_changed(store, now_ms, None, f, &mut |_| {})
}

/// As [`visit`], but with `seen` the series of a family that alone has its name (counters, and
/// histograms without native buckets: series with counter-like parts only) whose raw slots
/// are bit for bit what `seen` recorded when it last showed them are not shown: `skipped` is
/// told how many (one tight pass over the slots, no strings, no merge). `seen` must belong to
/// one consumer that took in every series this showed it (a writer, whose state for an
/// unchanged series needs no update).
pub fn visit_changed(
  store: &Store,
  now_ms: f64,
  mut seen: Option<&mut Seen>,
  f: &mut dyn FnMut(SeriesView<'_>),
  skipped: &mut dyn FnMut(usize),
) -> Vec<(String, String)> {
  let mut metas = Vec::new();
  let Ok(ids) = store.registry_families(GLOBAL_REGISTRY) else {
    return metas;
  };
  let mut counters: Vec<(String, f64)> = Vec::new();
  let mut gauges: Vec<(String, f64)> = Vec::new();
  let mut live_ids: Vec<u32> = Vec::new();
  let by_ptr: HashMap<*const Family, u32> = if seen.is_some() {
    ids
      .iter()
      .filter_map(|&i| store.family(i).ok().map(|f| (std::ptr::from_ref(f), i)))
      .collect()
  } else {
    HashMap::new()
  };
  for group in group_by_name(store, &ids) {
    let def = &group[0].def;
    metas.push((def.name.clone(), field::meta_json(def)));
    let fast = group.len() == 1
      && (def.kind == Kind::Counter || (def.kind == Kind::Histogram && def.native.is_none()));
    if let Some(seen) = seen.as_deref_mut() {
      if fast {
        let id = by_ptr[&std::ptr::from_ref(group[0])];
        live_ids.push(id);
        let sf = seen.families.entry(id).or_default();
        changed_only(store, group[0], sf, &mut counters, f, skipped);
        continue;
      }
    }
    if def.kind == Kind::Summary {
      let mut out = Vec::new();
      summaries(store, def, &group, now_ms, &mut out);
      for s in &out {
        f(s.view());
      }
      continue;
    }
    let Some(m) = merge::merge(store, &group, now_ms) else {
      continue;
    };
    let st = stride(def);
    for n in 0..m.len() {
      let v = &m.values[n * st..(n + 1) * st];
      counters.clear();
      gauges.clear();
      let mut s = Parts {
        count: 0.0,
        counters: &mut counters,
        gauges: &mut gauges,
      };
      match def.kind {
        Kind::Counter | Kind::Histogram => {
          parts(def, v, &mut s);
          if let Some(nh) = m.native.get(n) {
            // Counter-like per bucket; only populated buckets (the writer zeroes the parts of
            // buckets that went away with a schema reduction).
            s.counters.push(("nz".into(), nh.zero_count));
            for (neg, side) in [(false, &nh.positive), (true, &nh.negative)] {
              for (&k, &c) in side {
                s.counters.push((field::native_part(neg, nh.schema, k), c));
              }
            }
          }
        }
        Kind::Gauge => s.gauges.push((String::new(), v[0])),
        Kind::Summary => unreachable!(),
      }
      let count = s.count;
      f(SeriesView {
        name: &def.name,
        labels: &m.labels[n],
        count,
        counters: &counters,
        gauges: &gauges,
      });
    }
  }
  if let Some(seen) = seen {
    // Families that went, or that now share their name, start again from nothing.
    let live: std::collections::HashSet<u32> = live_ids.into_iter().collect();
    seen.families.retain(|id, _| live.contains(id));
  }
  metas
}

/// A counter's or a histogram's (merged) values as parts (native buckets apart).
fn parts(def: &FamilyDef, v: &[f64], s: &mut Parts<'_>) {
  if def.kind == Kind::Counter {
    s.count = v[0];
    s.counters.push((String::new(), v[0]));
    return;
  }
  let nb = def.buckets.len();
  s.count = v[..=nb].iter().sum();
  for (i, c) in v[..=nb].iter().enumerate() {
    s.counters.push((format!("b{i}"), *c));
  }
  s.counters.push(("sum".into(), v[nb + 1]));
}

/// One family alone under its name (counter, or histogram without native buckets): shows the
/// series whose slots differ from what `sf` recorded, counts the others as skipped.
fn changed_only(
  store: &Store,
  fam: &Family,
  sf: &mut SeenFamily,
  counters: &mut Vec<(String, f64)>,
  f: &mut dyn FnMut(SeriesView<'_>),
  skipped: &mut dyn FnMut(usize),
) {
  let def = &fam.def;
  let width = stride(def);
  if sf.name != def.name || sf.width != width {
    sf.name.clone_from(&def.name);
    sf.width = width;
    sf.series.clear();
  }
  let mut raw = vec![0f64; width];
  let mut run = 0;
  let mut n = 0;
  let mut gauges = Vec::new();
  let mut labels = String::new();
  for (p, (si, s)) in fam.live().enumerate() {
    n = p + 1;
    for (i, r) in raw.iter_mut().enumerate() {
      *r = store.slot(s.chunk, s.offset as usize + i);
    }
    if let Some((ssi, sl, bits)) = sf.series.get(p) {
      if *ssi == si
        && raw.iter().zip(bits.iter()).all(|(r, b)| r.to_bits() == *b)
        && fam.labels_eq(si, sl)
      {
        run += 1;
        continue;
      }
    }
    labels.clear();
    fam.labels_into(si, &mut labels);
    let labels = labels.as_str();
    if run > 0 {
      skipped(run);
      run = 0;
    }
    counters.clear();
    let mut parts_of = Parts {
      count: 0.0,
      counters,
      gauges: &mut gauges,
    };
    parts(def, &raw, &mut parts_of);
    let count = parts_of.count;
    f(SeriesView {
      name: &def.name,
      labels,
      count,
      counters,
      gauges: &[],
    });
    let entry = (
      si,
      labels.to_owned(),
      raw.iter().map(|r| r.to_bits()).collect(),
    );
    if p < sf.series.len() {
      sf.series[p] = entry;
    } else {
      sf.series.push(entry);
    }
  }
  if run > 0 {
    skipped(run);
  }
  sf.series.truncate(n);
}

/// A series' values being gathered (the part lists are reused from one series to the next).
struct Parts<'a> {
  count: f64,
  counters: &'a mut Vec<(String, f64)>,
  gauges: &'a mut Vec<(String, f64)>,
}

fn summaries(
  store: &Store,
  def: &FamilyDef,
  group: &[&Family],
  now_ms: f64,
  out: &mut Vec<SeriesSnap>,
) {
  let all_time = !def.max_age_ms.is_finite();
  let mut index: HashMap<String, usize> = HashMap::new();
  let mut acc: Vec<(String, f64, f64, BTreeMap<i64, f64>)> = Vec::new();
  for f in group {
    let mut raw = vec![0f64; f.def.slots_per_series()];
    for (si, s) in f.live() {
      let labels = f.labels(si);
      let n = *index.entry(labels.clone()).or_insert_with(|| {
        acc.push((labels, 0.0, 0.0, BTreeMap::new()));
        acc.len() - 1
      });
      for (i, r) in raw.iter_mut().enumerate() {
        *r = store.slot(s.chunk, s.offset as usize + i);
      }
      acc[n].1 += raw[0];
      acc[n].2 += raw[1];
      let pages = f.pages.get(&si).map_or(&[][..], Vec::as_slice);
      sketch::collect_bins(store, &f.def, pages, &raw, now_ms, &mut acc[n].3);
    }
  }
  for (labels, count, sum, bins) in acc {
    let mut s = SeriesSnap {
      name: def.name.clone(),
      labels,
      count,
      counters: vec![("count".into(), count), ("sum".into(), sum)],
      gauges: Vec::new(),
    };
    let parts = bins
      .into_iter()
      .filter(|&(_, c)| c != 0.0)
      .map(|(k, c)| (field::bin_part(k), c));
    if all_time {
      s.counters.extend(parts);
    } else {
      s.gauges.extend(parts);
    }
    out.push(s);
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::store::Aggregator;

  fn counter_def() -> FamilyDef {
    FamilyDef {
      name: "c".into(),
      help: "h".into(),
      kind: Kind::Counter,
      label_names: vec!["k".into()],
      buckets: vec![],
      quantiles: vec![],
      max_age_ms: f64::INFINITY,
      age_buckets: 5,
      aggregator: Aggregator::Sum,
      native: None,
    }
  }

  /// (labels, count) shown, and how many were skipped.
  fn changed(store: &Store, seen: &mut Seen) -> (Vec<(String, f64)>, usize) {
    let mut shown = Vec::new();
    let mut skipped = 0;
    visit_changed(
      store,
      0.0,
      Some(seen),
      &mut |v| shown.push((v.labels.to_owned(), v.count)),
      &mut |n| skipped += n,
    );
    (shown, skipped)
  }

  #[test]
  fn only_series_whose_slots_changed_are_shown_again() {
    let mut s = Store::default();
    let a = s.new_shard();
    let mut mem = vec![0f64; 8];
    let c = unsafe { s.attach_chunk(a, mem.as_ptr(), mem.len()) }.unwrap();
    let f = s.add_family(a, counter_def()).unwrap();
    s.registry_add(GLOBAL_REGISTRY, f).unwrap();
    for i in 0..3 {
      s.add_series(f, i, &format!("k=\"{i}\""), c, i).unwrap();
    }
    let mut seen = Seen::default();
    let all = |v: [f64; 3]| -> Vec<(String, f64)> {
      (0..3).map(|i| (format!("k=\"{i}\""), v[i])).collect()
    };
    assert_eq!(changed(&s, &mut seen), (all([0.0; 3]), 0));
    assert_eq!(changed(&s, &mut seen), (vec![], 3));
    // SAFETY: the store reads this memory only while the test calls it.
    unsafe { mem.as_mut_ptr().add(1).write(5.0) };
    assert_eq!(changed(&s, &mut seen), (vec![("k=\"1\"".into(), 5.0)], 2));
    // A series removed and another added: the series after the removed one moved up a position
    // and are shown again (what was skipped is only what sits where it sat, as it was).
    s.remove_series(f, 1).unwrap();
    s.add_series(f, 3, "k=\"3\"", c, 3).unwrap();
    let (shown, skipped) = changed(&s, &mut seen);
    assert_eq!(skipped, 1);
    assert_eq!(
      shown,
      vec![("k=\"2\"".into(), 0.0), ("k=\"3\"".into(), 0.0)]
    );
    // Another thread's family of the same name: merged and shown in full, then alone again:
    // shown in full once more (the writer took the merged values in meanwhile).
    let b = s.new_shard();
    let mem_b = vec![2f64; 1];
    let cb = unsafe { s.attach_chunk(b, mem_b.as_ptr(), mem_b.len()) }.unwrap();
    let fb = s.add_family(b, counter_def()).unwrap();
    s.registry_add(GLOBAL_REGISTRY, fb).unwrap();
    s.add_series(fb, 0, "k=\"0\"", cb, 0).unwrap();
    let (shown, skipped) = changed(&s, &mut seen);
    assert_eq!((shown.len(), skipped), (3, 0));
    assert_eq!(shown[0], ("k=\"0\"".into(), 2.0));
    s.drop_family(fb);
    let (shown, skipped) = changed(&s, &mut seen);
    assert_eq!((shown.len(), skipped), (3, 0));
    assert_eq!(changed(&s, &mut seen), (vec![], 3));
    drop(mem_b);
    drop(mem);
  }
}
