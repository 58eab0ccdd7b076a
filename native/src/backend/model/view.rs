//! The holder's scrape without a pass over the totals. The families shown from the totals
//! alone — counters and classic histograms, the bulk of most apps — are kept in the model
//! between scrapes, already aggregated: each series has a slot (its labels, its values) and
//! each family its slots in label order. An apply writes a field's new total straight into the
//! value it shows as (`at`: field → place); a field of a new series takes a new slot, placed in
//! order by a binary search. Only a new or changed definition drops the whole (it is built again
//! at the next scrape, with one sort per family). A scrape aggregates only the other families
//! (gauges, summaries, native histograms: their values depend on which processes are live)
//! with [`render::aggregate_defs`], and encodes the kept ones where they lie, under the
//! model's read lock.
//!
//! What a kept family shows follows the one aggregation's rules for these two kinds: a series
//! for every labels of the family's fields that fit its label names
//! ([`render::labels_fit`]), a counter's value its `""` part, a histogram's its `b<i>` and
//! `sum` parts, 0 where a part is missing. The model's tests compare the bytes of both after
//! every step of random applies.

use std::collections::HashMap;

use crate::merge::{stride, MergedFamily};
use crate::store::{FamilyDef, Kind};

use super::super::field;
use super::super::flusher::{encode_merged, RenderOpts};
use super::super::render::{self, Family};
use crate::fxhash::FxBuild;

/// Where a field's total is shown.
#[derive(Clone, Copy, Debug)]
enum Loc {
  /// `kept[family].values[index]`.
  Value(u32, u32),
  /// `volatile[index]`.
  Volatile(u32),
  /// Nowhere, whatever its value: its name has no definition (one arriving rebuilds the view),
  /// or its definition has no place for its part or its number of labels.
  Unused,
}

/// A family shown from the totals alone, aggregated.
struct Kept {
  def: FamilyDef,
  /// Stored labels per slot.
  labels: Vec<String>,
  /// [`stride`] values per slot.
  values: Vec<f64>,
  /// Labels → slot.
  slots: HashMap<String, u32, FxBuild>,
  /// Slots in label byte order (the aggregation's order).
  order: Vec<u32>,
}

/// The kept aggregation of one prefix's totals (see the module's docs).
pub(in crate::backend) struct View {
  /// The definitions shown from the totals alone, in name order.
  kept: Vec<Kept>,
  /// Name → its kept family (`Some(index)`), or `None` for one aggregated per scrape.
  rank: HashMap<String, Option<u32>, FxBuild>,
  /// The other definitions, in name order, aggregated per scrape.
  volatile_defs: Vec<(String, FamilyDef)>,
  /// Their totals.
  volatile: Vec<(String, f64)>,
  at: HashMap<String, Loc, FxBuild>,
}

/// Shown from the totals alone: no process's gauges, no sketch or native buckets.
fn kept_kind(def: &FamilyDef) -> bool {
  def.kind == Kind::Counter || (def.kind == Kind::Histogram && def.native.is_none())
}

/// The place of `part` among a series' values of a kept family.
fn offset(def: &FamilyDef, part: &str) -> Option<usize> {
  match def.kind {
    Kind::Counter => part.is_empty().then_some(0),
    Kind::Histogram if part == "sum" => Some(def.buckets.len() + 1),
    Kind::Histogram => {
      let i: usize = part.strip_prefix('b')?.parse().ok()?;
      // `b01` is not `b1`: the aggregation looks parts up by `format!("b{i}")`.
      (i <= def.buckets.len() && format!("b{i}") == part).then_some(i)
    }
    _ => None,
  }
}

impl Kept {
  /// The slot of `labels`, a new one (placed in order when `sorted`) if it has none.
  fn slot(&mut self, labels: &str, sorted: bool) -> u32 {
    if let Some(&s) = self.slots.get(labels) {
      return s;
    }
    let s = self.labels.len() as u32;
    self.labels.push(labels.to_owned());
    self
      .values
      .resize(self.values.len() + stride(&self.def), 0.0);
    self.slots.insert(labels.to_owned(), s);
    if sorted {
      let at = self
        .order
        .partition_point(|&o| self.labels[o as usize].as_str() < labels);
      self.order.insert(at, s);
    } else {
      self.order.push(s);
    }
    s
  }

  fn merged(&self) -> MergedFamily<'_> {
    let st = stride(&self.def);
    let mut values = Vec::with_capacity(self.values.len());
    for &s in &self.order {
      let at = s as usize * st;
      values.extend_from_slice(&self.values[at..at + st]);
    }
    MergedFamily {
      def: &self.def,
      values,
      labels: self
        .order
        .iter()
        .map(|&s| self.labels[s as usize].as_str())
        .collect(),
      exemplars: vec![None; render::exemplar_slots(&self.def) * self.order.len()],
      native: Vec::new(),
    }
  }
}

impl View {
  /// Aggregates `totals` under the definitions of `meta` (the part kept between scrapes).
  pub(in crate::backend) fn build(
    meta: &HashMap<String, String>,
    totals: &HashMap<String, f64>,
  ) -> View {
    let meta: Vec<(String, String)> = meta.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let (kept, other): (Vec<_>, Vec<_>) = render::parse_defs(&meta)
      .into_iter()
      .partition(|(_, d)| kept_kind(d));
    let mut v = View {
      rank: kept
        .iter()
        .enumerate()
        .map(|(i, (n, _))| ((*n).to_owned(), Some(i as u32)))
        .chain(other.iter().map(|(n, _)| ((*n).to_owned(), None)))
        .collect(),
      kept: kept
        .into_iter()
        .map(|(_, def)| Kept {
          def,
          labels: Vec::new(),
          values: Vec::new(),
          slots: HashMap::default(),
          order: Vec::new(),
        })
        .collect(),
      volatile_defs: other.into_iter().map(|(n, d)| (n.to_owned(), d)).collect(),
      volatile: Vec::new(),
      at: HashMap::with_capacity_and_hasher(totals.len(), FxBuild::default()),
    };
    for (f, t) in totals {
      v.insert(f, *t, false);
    }
    for k in &mut v.kept {
      let labels = &k.labels;
      k.order
        .sort_unstable_by(|&a, &b| labels[a as usize].cmp(&labels[b as usize]));
    }
    v
  }

  /// Places a field the view does not know yet.
  fn insert(&mut self, f: &str, t: f64, sorted: bool) {
    let loc = match field::split(f) {
      Some((name, part, labels)) => {
        let rank = self.rank.get(name).copied();
        if let Some(Some(r)) = rank {
          let k = &mut self.kept[r as usize];
          if render::labels_fit(&k.def, labels) {
            let s = k.slot(labels, sorted) as usize;
            match offset(&k.def, part) {
              Some(o) => Loc::Value(r, (s * stride(&k.def) + o) as u32),
              None => Loc::Unused,
            }
          } else {
            Loc::Unused
          }
        } else if rank.is_some() {
          self.volatile.push((f.to_owned(), t));
          Loc::Volatile(self.volatile.len() as u32 - 1)
        } else {
          Loc::Unused
        }
      }
      None => Loc::Unused,
    };
    if let Loc::Value(r, i) = loc {
      self.kept[r as usize].values[i as usize] = t;
    }
    self.at.insert(f.to_owned(), loc);
  }

  /// Shows `field`'s new total.
  pub(in crate::backend) fn set(&mut self, f: &str, t: f64) {
    match self.at.get(f) {
      Some(Loc::Value(r, i)) => self.kept[*r as usize].values[*i as usize] = t,
      Some(Loc::Volatile(i)) => self.volatile[*i as usize].1 = t,
      Some(Loc::Unused) => {}
      None => self.insert(f, t, true),
    }
  }

  /// The aggregate with the live processes' gauge hashes `procs`, `extra` appended, encoded:
  /// the families kept here where they lie, the others aggregated now.
  pub(in crate::backend) fn encode(
    &self,
    procs: &[(String, Vec<(String, String)>)],
    opts: &RenderOpts,
    extra: &[Family],
  ) -> Vec<u8> {
    let defs = self
      .volatile_defs
      .iter()
      .map(|(n, d)| (n.as_str(), d.clone()))
      .collect();
    let totals = self.volatile.iter().map(|(f, v)| (f.as_str(), *v));
    let now = render::aggregate_defs(defs, totals, self.volatile.len(), procs);
    // Both lists are in name order: merged, they are the one aggregation's order.
    let mut all: Vec<MergedFamily> = Vec::with_capacity(self.kept.len() + now.len() + extra.len());
    let (mut a, mut b) = (self.kept.iter().peekable(), now.iter().peekable());
    loop {
      match (a.peek(), b.peek()) {
        (Some(x), Some(y)) if x.def.name <= y.def.name => {
          all.push(a.next().expect("peeked").merged())
        }
        (Some(x), None) => {
          all.push(x.merged());
          a.next();
        }
        (_, Some(y)) => {
          all.push(render::merged_one(y));
          b.next();
        }
        (None, None) => break,
      }
    }
    let keep = render::unclashed(all.iter().map(|f| f.def));
    let mut k = keep.iter();
    all.retain(|_| *k.next().unwrap_or(&true));
    all.extend(extra.iter().map(render::merged_one));
    encode_merged(&all, opts)
  }
}
