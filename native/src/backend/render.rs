//! A read of Redis (protocol §8) rendered through the ordinary encoder.

use std::collections::{BTreeMap, HashMap};

use crate::encoder::{self, EncodeOptions};
use crate::merge::{stride, MergedFamily};
use crate::native_histogram::NativeSeries;
use crate::sketch;
use crate::store::{Aggregator, FamilyDef, Kind};

use super::conn::ReadData;
use super::field;
use crate::fxhash::FxBuild;

struct Proc {
  id: String,
  label: String,
  started: f64,
}

/// One family's aggregate, owning its strings.
pub struct Family {
  /// Definition from the metadata (with `process` appended for `perProcess` gauges).
  pub def: FamilyDef,
  /// Stored labels per series.
  pub labels: Vec<String>,
  /// Values, [`stride`] per series.
  pub values: Vec<f64>,
  /// Native buckets per series (native histograms only).
  pub native: Vec<NativeSeries>,
}

#[derive(Default)]
struct Acc<'a> {
  /// The first counter-like part from the totals (a counter's only one: no allocation).
  first: Option<(&'a str, f64)>,
  /// The others.
  totals: Vec<(&'a str, f64)>,
  /// Gauge values per process index: (process, value, stamp).
  gauges: Vec<(usize, f64, f64)>,
  bins: BTreeMap<i64, f64>,
}

impl<'a> Acc<'a> {
  fn push(&mut self, part: &'a str, v: f64) {
    if self.first.is_none() {
      self.first = Some((part, v));
    } else {
      self.totals.push((part, v));
    }
  }

  fn parts(&self) -> impl Iterator<Item = &(&'a str, f64)> {
    self.first.iter().chain(&self.totals)
  }

  fn total(&self, part: &str) -> f64 {
    self.parts().find(|(p, _)| *p == part).map_or(0.0, |t| t.1)
  }
}

/// (family rank, labels) → slot.
type Index<'a> = HashMap<(u32, &'a str), usize, FxBuild>;

fn process_label(json: &str, id: &str) -> (String, f64) {
  let v: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
  let label = v["label"]
    .as_str()
    .map_or_else(|| id.to_owned(), str::to_owned);
  (label, v["started"].as_f64().unwrap_or(0.0))
}

fn escape(v: &str) -> String {
  let mut s = String::new();
  encoder::escape_label_value(&mut s, v);
  s
}

/// Aggregates a read into families, sorted by name, series by label bytes.
pub fn aggregate(data: &ReadData) -> Vec<Family> {
  aggregate_from(
    &data.meta,
    data.totals.iter().map(|(f, v)| (f.as_str(), *v)),
    data.totals.len(),
    &data.procs,
  )
}

/// [`aggregate`] of a read's parts, the totals (`len` of them) borrowed from wherever they are
/// held: the holder aggregates its model's totals in place ([`super::model::Model::aggregate`]),
/// without a copy of their fields.
pub fn aggregate_from<'a>(
  meta: &'a [(String, String)],
  totals: impl Iterator<Item = (&'a str, f64)>,
  len: usize,
  procs: &'a [(String, Vec<(String, String)>)],
) -> Vec<Family> {
  let mut fams = aggregate_defs(parse_defs(meta), totals, len, procs);
  let keep = unclashed(fams.iter().map(|f| &f.def));
  let mut k = keep.iter();
  fams.retain(|_| *k.next().unwrap_or(&true));
  fams
}

/// The definitions of a read's metadata (those that parse), by name, one per name.
pub fn parse_defs(meta: &[(String, String)]) -> Vec<(&str, FamilyDef)> {
  let mut defs: Vec<(&str, FamilyDef)> = meta
    .iter()
    .filter_map(|(name, json)| Some((name.as_str(), field::parse_meta(name, json)?)))
    .collect();
  defs.sort_by(|a, b| a.0.cmp(b.0));
  defs.dedup_by(|a, b| a.0 == b.0);
  defs
}

/// Which of families in name order are exposed. Each process refuses names that clash with its
/// own metrics (store.rs `registry_add`), but processes running different versions of an app
/// may disagree: of two families whose names clash (counter `x`, gauge `x_total`), the one
/// first by name is kept, so that the exposition stays valid instead of being rejected whole.
pub fn unclashed<'a>(defs: impl Iterator<Item = &'a FamilyDef>) -> Vec<bool> {
  let mut exposed: std::collections::HashSet<String> = std::collections::HashSet::new();
  defs
    .map(|def| {
      let own = def.exposed_names();
      if own.iter().any(|n| exposed.contains(n)) {
        return false;
      }
      exposed.extend(own);
      true
    })
    .collect()
}

/// [`aggregate_from`] of parsed definitions ([`parse_defs`]: by name, one per name), before
/// the clash rule ([`unclashed`]): one family per definition, in their order.
pub fn aggregate_defs<'a>(
  defs: Vec<(&'a str, FamilyDef)>,
  totals: impl Iterator<Item = (&'a str, f64)>,
  len: usize,
  procs: &'a [(String, Vec<(String, String)>)],
) -> Vec<Family> {
  // Families by name, each with its rank in name order: series are keyed and sorted by
  // (rank, labels), so their names are neither hashed nor compared again.
  let rank: HashMap<&str, u32, FxBuild> = defs
    .iter()
    .enumerate()
    .map(|(i, (n, _))| (*n, i as u32))
    .collect();
  let def_of = |name: &str| rank.get(name).map(|&r| (r, &defs[r as usize].1));
  // Live processes, with labels made unique (§6).
  let data_procs = procs;
  let mut procs: Vec<Proc> = data_procs
    .iter()
    .map(|(id, h)| {
      let info = h
        .iter()
        .find(|(k, _)| k == "@")
        .map_or("", |(_, v)| v.as_str());
      let (label, started) = process_label(info, id);
      Proc {
        id: id.clone(),
        label,
        started,
      }
    })
    .collect();
  let mut order: Vec<usize> = (0..procs.len()).collect();
  order.sort_by(|&a, &b| {
    procs[a]
      .started
      .total_cmp(&procs[b].started)
      .then_with(|| procs[a].id.cmp(&procs[b].id))
  });
  let mut seen: HashMap<String, ()> = HashMap::new();
  for &i in &order {
    if seen.insert(procs[i].label.clone(), ()).is_some() {
      let id8 = &procs[i].id[..procs[i].id.len().min(8)];
      procs[i].label = format!("{}#{id8}", procs[i].label);
    }
  }
  // (name, labels) → accumulated parts; most fields hit an existing entry. One lookup per field
  // of every live process (16 × 10k in the wide-read bench), hence the cheap hasher.
  let mut index: Index = HashMap::with_capacity_and_hasher(len, Default::default());
  let mut accs: Vec<(u32, &str, Acc)> = Vec::with_capacity(len);
  fn slot<'a>(
    index: &mut Index<'a>,
    accs: &mut Vec<(u32, &'a str, Acc<'a>)>,
    rank: u32,
    labels: &'a str,
  ) -> usize {
    *index.entry((rank, labels)).or_insert_with(|| {
      accs.push((rank, labels, Acc::default()));
      accs.len() - 1
    })
  }
  for (f, v) in totals {
    let Some((name, part, labels)) = field::split(f) else {
      continue;
    };
    let Some((r, def)) = def_of(name) else {
      continue;
    };
    let n = slot(&mut index, &mut accs, r, labels);
    let a = &mut accs[n].2;
    if def.kind == Kind::Summary && part != "count" && part != "sum" {
      if let Some(k) = field::bin_key(part) {
        *a.bins.entry(k).or_default() += v;
      }
    } else {
      a.push(part, v);
    }
  }
  let live = data_procs.len();
  // Processes holding the same series usually list them in the same order (Redis iterates a
  // hash by its table, and equal field sets fill equal tables alike): the field at position i
  // of the previous process, if equal, names the same gauge, so its slot is reused without
  // splitting or hashing. A mismatch only costs the comparison.
  let mut hints: Vec<(&str, usize)> = Vec::new();
  for (pi, (_, h)) in data_procs.iter().enumerate() {
    let mut next: Vec<(&str, usize)> = vec![("", usize::MAX); h.len()];
    for (i, (f, v)) in h.iter().enumerate() {
      if let Some(&(hf, n)) = hints.get(i) {
        if n != usize::MAX && hf == f.as_str() {
          // Only gauges whose stamp is not read go into the hints (below).
          if let Some(val) = field::parse(v) {
            accs[n].2.gauges.push((pi, val, 0.0));
            next[i] = (hf, n);
            continue;
          }
        }
      }
      let Some((name, part, labels)) = field::split(f) else {
        continue;
      };
      let Some((r, def)) = def_of(name) else {
        continue;
      };
      // Protocol v2 stamps only `last` gauges (§4); a value without a stamp has stamp 0.
      let (value, stamp) = v.split_once(' ').unwrap_or((v, ""));
      let Some(val) = field::parse(value) else {
        continue;
      };
      match def.kind {
        Kind::Gauge if part.is_empty() => {
          let last = def.aggregator == Aggregator::Last;
          let stamp = if last {
            stamp.parse().unwrap_or(0.0)
          } else {
            0.0
          };
          let n = slot(&mut index, &mut accs, r, labels);
          let g = &mut accs[n].2.gauges;
          if g.capacity() == 0 {
            g.reserve_exact(live);
          }
          g.push((pi, val, stamp));
          if !last {
            next[i] = (f.as_str(), n);
          }
        }
        Kind::Summary => {
          if let Some(k) = field::bin_key(part) {
            let n = slot(&mut index, &mut accs, r, labels);
            let a = &mut accs[n].2;
            *a.bins.entry(k).or_default() += val;
          }
        }
        _ => {}
      }
    }
    hints = next;
  }
  drop(index);
  // Sorted as small keys, then each family's run of accumulators listed by index (not moved).
  // The labels' first 8 bytes as a big-endian number decide most comparisons without a memcmp
  // (zero-padded: a tie falls back to the whole strings, so the order is the bytes' order).
  let prefix = |l: &str| {
    let mut b = [0u8; 8];
    let n = l.len().min(8);
    b[..n].copy_from_slice(&l.as_bytes()[..n]);
    u64::from_be_bytes(b)
  };
  let mut keys: Vec<(u32, u64, &str, u32)> = accs
    .iter()
    .enumerate()
    .map(|(i, a)| (a.0, prefix(a.1), a.1, i as u32))
    .collect();
  keys.sort_unstable_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
  let mut runs: Vec<Vec<u32>> = (0..defs.len()).map(|_| Vec::new()).collect();
  for (r, _, _, i) in keys {
    runs[r as usize].push(i);
  }
  let mut out = Vec::new();
  for ((_, def), series) in defs.into_iter().zip(runs) {
    if series.is_empty() {
      out.push(Family {
        def,
        labels: vec![],
        values: vec![],
        native: vec![],
      });
      continue;
    };
    let per_process = def.kind == Kind::Gauge && def.aggregator == Aggregator::PerProcess;
    let mut fam = Family {
      def: def.clone(),
      labels: Vec::new(),
      values: Vec::new(),
      native: Vec::new(),
    };
    if per_process {
      fam.def.label_names.push("process".into());
    }
    let st = stride(&def);
    for i in series {
      let (_, labels, a) = &accs[i as usize];
      let labels: &str = labels;
      // A field written under another shape of the metric is skipped (§5).
      if !labels_fit(&def, labels) {
        continue;
      }
      let total = |p: &str| a.total(p);
      match def.kind {
        Kind::Counter => {
          fam.labels.push(labels.to_owned());
          fam.values.push(total(""));
        }
        Kind::Histogram => {
          fam.labels.push(labels.to_owned());
          for i in 0..=def.buckets.len() {
            fam.values.push(total(&format!("b{i}")));
          }
          fam.values.push(total("sum"));
          if def.native.is_some() {
            let parts: Vec<(&str, f64)> = a.parts().copied().collect();
            fam.native.push(native_of(&parts));
          }
        }
        Kind::Summary => {
          fam.labels.push(labels.to_owned());
          for q in &def.quantiles {
            fam.values.push(sketch::quantile(&a.bins, *q));
          }
          fam.values.push(total("sum"));
          fam.values.push(total("count"));
        }
        Kind::Gauge => {
          if a.gauges.is_empty() {
            continue;
          }
          if per_process {
            let mut rows: Vec<&(usize, f64, f64)> = a.gauges.iter().collect();
            rows.sort_by(|x, y| procs[x.0].label.cmp(&procs[y.0].label));
            for (pi, v, _) in rows {
              let l = escape(&procs[*pi].label);
              fam
                .labels
                .push(if labels.is_empty() && def.label_names.is_empty() {
                  l
                } else {
                  format!("{labels}\n{l}")
                });
              fam.values.push(*v);
            }
            continue;
          }
          let vals = a.gauges.iter().map(|g| g.1);
          let v = match def.aggregator {
            Aggregator::Sum | Aggregator::PerProcess => vals.sum(),
            Aggregator::Min => vals.fold(f64::INFINITY, crate::combine::min),
            Aggregator::Max => vals.fold(f64::NEG_INFINITY, crate::combine::max),
            Aggregator::Average => vals.sum::<f64>() / a.gauges.len() as f64,
            Aggregator::Omit => {
              if a.gauges.len() != 1 {
                continue;
              }
              a.gauges[0].1
            }
            Aggregator::Last => {
              let g = a.gauges.iter().max_by(|x, y| {
                x.2
                  .total_cmp(&y.2)
                  .then_with(|| procs[x.0].id.cmp(&procs[y.0].id))
              });
              g.map_or(f64::NAN, |g| g.1)
            }
            Aggregator::First => {
              let g = a.gauges.iter().min_by(|x, y| {
                procs[x.0]
                  .started
                  .total_cmp(&procs[y.0].started)
                  .then_with(|| procs[x.0].id.cmp(&procs[y.0].id))
              });
              g.map_or(f64::NAN, |g| g.1)
            }
          };
          fam.labels.push(labels.to_owned());
          fam.values.push(v);
        }
      }
      debug_assert_eq!(fam.values.len() % st, 0);
    }
    out.push(fam);
  }
  out
}

/// Whether a series' stored labels are as many as its definition's label names (a field
/// written under another shape of the metric is not shown, §5).
pub fn labels_fit(def: &FamilyDef, labels: &str) -> bool {
  let count = if labels.is_empty() && def.label_names.is_empty() {
    0
  } else {
    labels.split('\n').count()
  };
  count == def.label_names.len()
}

/// The native buckets of one series from its totals: the parts of every schema the processes
/// wrote, merged at the smallest.
fn native_of(totals: &[(&str, f64)]) -> NativeSeries {
  let mut by_schema: BTreeMap<i32, NativeSeries> = BTreeMap::new();
  let mut zero = 0.0;
  for &(part, v) in totals {
    if part == "nz" {
      zero += v;
    } else if let Some((neg, schema, k)) = field::native_key(part) {
      if v != 0.0 {
        let s = by_schema.entry(schema).or_insert_with(|| NativeSeries {
          schema,
          ..Default::default()
        });
        *if neg {
          &mut s.negative
        } else {
          &mut s.positive
        }
        .entry(k)
        .or_default() += v;
      }
    }
  }
  let mut out = NativeSeries {
    schema: crate::native_histogram::MAX_SCHEMA,
    ..Default::default()
  };
  for (_, s) in by_schema {
    out.add(s);
  }
  out.zero_count = zero;
  out
}

fn merged<'a>(families: impl IntoIterator<Item = &'a Family>) -> Vec<MergedFamily<'a>> {
  families.into_iter().map(merged_one).collect()
}

/// A family as the encoders take it (its values copied, its labels borrowed).
pub fn merged_one(f: &Family) -> MergedFamily<'_> {
  MergedFamily {
    def: &f.def,
    values: f.values.clone(),
    labels: f.labels.iter().map(String::as_str).collect(),
    exemplars: vec![None; exemplar_slots(&f.def) * f.labels.len()],
    native: f.native.clone(),
  }
}

/// Exemplar places per series: none are kept in an aggregate, but the encoders index them.
pub fn exemplar_slots(def: &FamilyDef) -> usize {
  match def.kind {
    Kind::Counter => 1,
    Kind::Histogram => def.buckets.len() + 1,
    _ => 0,
  }
}

/// Renders families in the protobuf format.
pub fn encode_protobuf<'a>(
  families: impl IntoIterator<Item = &'a Family>,
  opts: &EncodeOptions,
  out: &mut Vec<u8>,
) {
  crate::protobuf::encode(&merged(families), opts, out);
}

/// Renders families with the ordinary encoder.
pub fn encode<'a>(
  families: impl IntoIterator<Item = &'a Family>,
  opts: &EncodeOptions,
  out: &mut String,
) {
  encoder::encode(&merged(families), opts, out);
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::encoder::Format;

  #[test]
  fn of_two_processes_families_whose_names_clash_the_first_by_name_is_kept() {
    let data = ReadData {
      now_ms: 0.0,
      meta: vec![
        s(
          "x_total",
          r#"{"v":1,"type":"gauge","help":"G.","labelNames":[],"aggregator":"sum"}"#,
        ),
        s(
          "x",
          r#"{"v":1,"type":"counter","help":"C.","labelNames":[],"aggregator":"sum"}"#,
        ),
        s(
          "y",
          r#"{"v":1,"type":"gauge","help":"Y.","labelNames":[],"aggregator":"sum"}"#,
        ),
      ],
      totals: vec![("x||".into(), 7.0)],
      procs: vec![(
        "aa".into(),
        vec![
          s("@", r#"{"label":"h:1","started":1}"#),
          s("x_total||", "3 5"),
          s("y||", "1 5"),
        ],
      )],
    };
    let fams = aggregate(&data);
    let names: Vec<&str> = fams.iter().map(|f| f.def.name.as_str()).collect();
    assert_eq!(names, ["x", "y"]);
  }

  #[test]
  fn series_are_in_label_byte_order_whether_their_first_8_bytes_decide_or_not() {
    let labels = [
      "b",
      "aaaaaaaaz",
      "aaaaaaaa",
      "aaaaaaaaa",
      "a",
      "aaaaaaab",
      "é",
    ];
    let data = ReadData {
      now_ms: 0.0,
      meta: vec![s(
        "c",
        r#"{"v":1,"type":"counter","help":"C.","labelNames":["k"],"aggregator":"sum"}"#,
      )],
      totals: labels
        .iter()
        .enumerate()
        .map(|(i, l)| (format!("c||{l}"), i as f64))
        .collect(),
      procs: vec![],
    };
    let fams = aggregate(&data);
    let mut want: Vec<&str> = labels.to_vec();
    want.sort_unstable();
    assert_eq!(fams[0].labels, want);
  }

  fn s(a: &str, b: &str) -> (String, String) {
    (a.into(), b.into())
  }

  #[test]
  fn gauges_aggregate_over_live_processes_and_counters_add() {
    let data = ReadData {
      now_ms: 0.0,
      meta: vec![
        s(
          "c_total",
          r#"{"v":1,"type":"counter","help":"C.","labelNames":["m"],"aggregator":"sum"}"#,
        ),
        s(
          "g",
          r#"{"v":1,"type":"gauge","help":"G.","labelNames":[],"aggregator":"max"}"#,
        ),
        s(
          "p",
          r#"{"v":1,"type":"gauge","help":"P.","labelNames":[],"aggregator":"perProcess"}"#,
        ),
      ],
      totals: vec![("c_total||GET".into(), 7.0), ("c_total||a\nb".into(), 1.0)],
      procs: vec![
        (
          "aa".into(),
          vec![
            s("@", r#"{"label":"h:1","started":1}"#),
            s("g||", "3 5"),
            s("p||", "1 5"),
          ],
        ),
        (
          "bb".into(),
          vec![
            s("@", r#"{"label":"h:2","started":2}"#),
            s("g||", "9 6"),
            s("p||", "2 6"),
          ],
        ),
      ],
    };
    let fams = aggregate(&data);
    let mut out = String::new();
    let opts = EncodeOptions {
      format: Format::Text,
      default_labels: &[],
    };
    encode(&fams, &opts, &mut out);
    assert_eq!(
      out,
      "# HELP c_total C.\n# TYPE c_total counter\nc_total{m=\"GET\"} 7\n\n# HELP g G.\n# TYPE g gauge\ng 9\n\n# HELP p P.\n# TYPE p gauge\np{process=\"h:1\"} 1\np{process=\"h:2\"} 2\n"
    );
  }

  #[test]
  fn gauges_sum_the_same_whether_processes_list_their_fields_in_the_same_order_or_not() {
    let meta = |agg: &str| {
      format!(r#"{{"v":1,"type":"gauge","help":"G.","labelNames":["k"],"aggregator":"{agg}"}}"#)
    };
    let data = ReadData {
      now_ms: 0.0,
      meta: vec![("g".into(), meta("sum")), ("l".into(), meta("last"))],
      totals: vec![],
      procs: vec![
        (
          "aa".into(),
          vec![
            s("@", "{}"),
            s("g||a", "1"),
            s("l||a", "5 10"),
            s("g||b", "2"),
          ],
        ),
        (
          "bb".into(),
          vec![
            s("@", "{}"),
            s("g||a", "10"),
            s("l||a", "6 30"),
            s("g||b", "20"),
          ],
        ),
        (
          "cc".into(),
          vec![
            s("g||b", "200"),
            s("@", "{}"),
            s("g||a", "100 7"),
            s("l||a", "7 20"),
          ],
        ),
        (
          "dd".into(),
          vec![s("g||b", "2000"), s("g||a", "1000"), s("g||c", "1")],
        ),
      ],
    };
    let mut out = String::new();
    let opts = EncodeOptions {
      format: Format::Text,
      default_labels: &[],
    };
    encode(&aggregate(&data), &opts, &mut out);
    assert_eq!(
      out,
      "# HELP g G.\n# TYPE g gauge\ng{k=\"a\"} 1111\ng{k=\"b\"} 2222\ng{k=\"c\"} 1\n\n# HELP l G.\n# TYPE l gauge\nl{k=\"a\"} 6\n"
    );
  }
}
