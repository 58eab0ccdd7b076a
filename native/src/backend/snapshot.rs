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

/// Reads the global registry series by series, each borrowed from the store while `f` runs (no
/// copy of names or labels: a writer that knows the series looks it up and allocates nothing);
/// returns the families' metadata.
pub fn visit(
  store: &Store,
  now_ms: f64,
  f: &mut dyn FnMut(SeriesView<'_>),
) -> Vec<(String, String)> {
  let mut metas = Vec::new();
  let Ok(ids) = store.registry_families(GLOBAL_REGISTRY) else {
    return metas;
  };
  let mut counters: Vec<(String, f64)> = Vec::new();
  let mut gauges: Vec<(String, f64)> = Vec::new();
  for group in group_by_name(store, &ids) {
    let def = &group[0].def;
    metas.push((def.name.clone(), field::meta_json(def)));
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
        Kind::Counter => {
          s.count = v[0];
          s.counters.push((String::new(), v[0]));
        }
        Kind::Gauge => s.gauges.push((String::new(), v[0])),
        Kind::Histogram => {
          let nb = def.buckets.len();
          s.count = v[..=nb].iter().sum();
          for (i, c) in v[..=nb].iter().enumerate() {
            s.counters.push((format!("b{i}"), *c));
          }
          s.counters.push(("sum".into(), v[nb + 1]));
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
        Kind::Summary => unreachable!(),
      }
      let count = s.count;
      f(SeriesView {
        name: &def.name,
        labels: m.labels[n],
        count,
        counters: &counters,
        gauges: &gauges,
      });
    }
  }
  metas
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
  let mut index: HashMap<&str, usize> = HashMap::new();
  let mut acc: Vec<(&str, f64, f64, BTreeMap<i64, f64>)> = Vec::new();
  for f in group {
    let mut raw = vec![0f64; f.def.slots_per_series()];
    for (si, s) in f.live() {
      let labels = f.labels(s);
      let n = *index.entry(labels).or_insert_with(|| {
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
      labels: labels.to_owned(),
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
