//! The holder's scrape without a pass over the totals: the families shown from the totals alone
//! (counters and classic histograms, the bulk of most apps) are aggregated, sorted and given
//! their label strings once, when a series or a definition appears, and kept in the model; each
//! apply then writes a field's new total straight into the value it shows as (`at`: field →
//! place). A scrape aggregates only the other families (gauges, summaries, native histograms,
//! whose values depend on which processes are live) and encodes the kept ones where they lie,
//! under the model's read lock.
//!
//! The families are those of [`render::aggregate_defs`], the one aggregation, over the same
//! totals: the value of a counter series is its one `""` part, of a classic histogram series
//! its `b<i>` and `sum` parts, so a total written in place is what a new aggregation would show
//! (`model.rs` tests compare both after every step of random applies).

use std::collections::HashMap;

use crate::merge::stride;
use crate::store::{FamilyDef, Kind};

use super::super::field::{self, FxBuild};
use super::super::render::{self, Family};

/// Where a field's total is shown.
#[derive(Clone, Copy, Debug)]
enum Loc {
  /// `stable[family].values[index]`.
  Value(u32, u32),
  /// `volatile[index]`.
  Volatile(u32),
  /// Nowhere, whatever its value: its name has no definition (one arriving rebuilds the view),
  /// or its definition has no place for its part or its number of labels.
  Unused,
}

/// The kept aggregation of one prefix's totals (see the module's docs).
pub(in crate::backend) struct View {
  /// One family per definition shown from the totals alone, in name order, before the clash
  /// rule.
  stable: Vec<Family>,
  /// The other definitions, in name order, aggregated per scrape.
  volatile_defs: Vec<(String, FamilyDef)>,
  /// Their totals.
  volatile: Vec<(String, f64)>,
  at: HashMap<String, Loc, FxBuild>,
}

/// Shown from the totals alone: no process's gauges, no sketch or native buckets.
fn stable(def: &FamilyDef) -> bool {
  def.kind == Kind::Counter || (def.kind == Kind::Histogram && def.native.is_none())
}

/// The place of `part` among a series' values of a stable family.
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

impl View {
  /// Aggregates `totals` under the definitions of `meta` (the part kept between scrapes).
  pub(in crate::backend) fn build(
    meta: &HashMap<String, String>,
    totals: &HashMap<String, f64>,
  ) -> View {
    let meta: Vec<(String, String)> = meta.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let (kept, other): (Vec<_>, Vec<_>) = render::parse_defs(&meta)
      .into_iter()
      .partition(|(_, d)| stable(d));
    let rank: HashMap<&str, u32, FxBuild> = kept
      .iter()
      .enumerate()
      .map(|(i, (n, _))| (*n, i as u32))
      .collect();
    let others: HashMap<&str, (), FxBuild> = other.iter().map(|(n, _)| (*n, ())).collect();
    fn name_of(f: &str) -> Option<&str> {
      field::split(f).map(|(n, _, _)| n)
    }
    let stable = render::aggregate_defs(
      kept.clone(),
      totals
        .iter()
        .filter(|(f, _)| name_of(f).is_some_and(|n| rank.contains_key(n)))
        .map(|(f, v)| (f.as_str(), *v)),
      totals.len(),
      &[],
    );
    let series: Vec<HashMap<&str, u32, FxBuild>> = stable
      .iter()
      .map(|f| {
        f.labels
          .iter()
          .enumerate()
          .map(|(i, l)| (l.as_str(), i as u32))
          .collect()
      })
      .collect();
    let mut at = HashMap::with_capacity_and_hasher(totals.len(), FxBuild::default());
    let mut volatile = Vec::new();
    for (f, v) in totals {
      let loc = match field::split(f) {
        Some((name, part, labels)) => {
          if let Some(&r) = rank.get(name) {
            let fam = &stable[r as usize];
            match (series[r as usize].get(labels), offset(&fam.def, part)) {
              (Some(&s), Some(o)) => Loc::Value(r, (s as usize * stride(&fam.def) + o) as u32),
              _ => Loc::Unused,
            }
          } else if others.contains_key(name) {
            volatile.push((f.clone(), *v));
            Loc::Volatile(volatile.len() as u32 - 1)
          } else {
            Loc::Unused
          }
        }
        None => Loc::Unused,
      };
      at.insert(f.clone(), loc);
    }
    let volatile_defs = other.into_iter().map(|(n, d)| (n.to_owned(), d)).collect();
    View {
      stable,
      volatile_defs,
      volatile,
      at,
    }
  }

  /// Writes `field`'s new total where it is shown; false when the view has no place for the
  /// field (a new series: the view must be built again).
  pub(in crate::backend) fn set(&mut self, f: &str, v: f64) -> bool {
    match self.at.get(f) {
      Some(Loc::Value(r, i)) => {
        self.stable[*r as usize].values[*i as usize] = v;
        true
      }
      Some(Loc::Volatile(i)) => {
        self.volatile[*i as usize].1 = v;
        true
      }
      Some(Loc::Unused) => true,
      None => false,
    }
  }

  /// The aggregate with the live processes' gauge hashes `procs`, `extra` appended, encoded:
  /// the families kept here where they lie, the others aggregated now.
  pub(in crate::backend) fn encode(
    &self,
    procs: &[(String, Vec<(String, String)>)],
    opts: &super::super::flusher::RenderOpts,
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
    let mut all: Vec<&Family> = Vec::with_capacity(self.stable.len() + now.len() + extra.len());
    let (mut a, mut b) = (self.stable.iter().peekable(), now.iter().peekable());
    loop {
      let next = match (a.peek(), b.peek()) {
        (Some(x), Some(y)) if x.def.name <= y.def.name => a.next(),
        (Some(_), Some(_)) => b.next(),
        (Some(_), None) => a.next(),
        (None, _) => b.next(),
      };
      match next {
        Some(f) => all.push(f),
        None => break,
      }
    }
    let keep = render::unclashed(all.iter().map(|f| &f.def));
    let mut k = keep.iter();
    all.retain(|_| *k.next().unwrap_or(&true));
    all.extend(extra);
    super::super::flusher::encode_refs(&all, opts)
  }
}
