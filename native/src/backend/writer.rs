//! The writer's state machine (protocol §7), free of I/O so it is tested without Redis.
//!
//! Per counter-like field it keeps `local` (the process's value at the last snapshot), `carry`
//! (what earlier incarnations of a reset series had reached) and `acked` (the cumulative value
//! Redis confirmed). The cumulative value sent is `carry + local`; it never decreases. Memory is
//! bounded by the number of series, whatever the length of an outage.

use std::collections::HashMap;

use super::field;
use super::snapshot::{SeriesView, Snapshot};
use crate::fxhash::FxBuild;

/// Items per script call: bounds the time one call blocks Redis.
pub const MAX_ITEMS: usize = 4096;

#[derive(Debug, Clone, Copy)]
struct Cell {
  local: f64,
  carry: f64,
  /// What the server acknowledged; [`Cell::NEVER`] before it acknowledged anything, so that a
  /// series at zero is sent once and exists in the aggregate as it does locally.
  acked: f64,
}

impl Default for Cell {
  fn default() -> Self {
    Cell {
      local: 0.0,
      carry: 0.0,
      acked: Cell::NEVER,
    }
  }
}

impl Cell {
  /// Not acknowledged yet: `-0.0`, which no cumulative value equals bit for bit (they start at
  /// `+0.0`, and `+0.0 + -0.0` is `+0.0`), and which the server reads as 0.
  const NEVER: f64 = -0.0;

  fn cum(&self) -> f64 {
    self.carry + self.local
  }
}

#[derive(Debug, Default)]
struct SeriesState {
  name: String,
  labels: String,
  count: f64,
  cells: HashMap<String, Cell, FxBuild>,
  /// In [`Writer::pending`].
  pending: bool,
}

impl SeriesState {
  /// True when a cell's cumulative value is not the acknowledged one.
  fn unacked(&self) -> bool {
    self
      .cells
      .values()
      .any(|c| c.cum().to_bits() != c.acked.to_bits())
  }
}

/// One counter item: which cell to acknowledge and what to send.
#[derive(Debug, Clone)]
pub struct CounterItem {
  /// The series' index in the writer's states.
  slot: usize,
  /// The family name.
  name: String,
  part: String,
  /// The field.
  pub field: String,
  /// Cumulative value.
  pub cum: f64,
  /// Last acknowledged cumulative value (sent in seed mode).
  pub acked: f64,
}

/// One script call's worth of items.
#[derive(Debug, Default, Clone)]
pub struct Chunk {
  /// Counter-like items.
  pub counters: Vec<CounterItem>,
  /// Gauge-like items (field, value).
  pub gauges: Vec<(String, f64)>,
  /// Gauge-like fields to delete.
  pub deletes: Vec<String>,
  /// Metadata (name, JSON).
  pub metas: Vec<(String, String)>,
}

impl Chunk {
  fn len(&self) -> usize {
    self.counters.len() + self.gauges.len() + self.deletes.len() + self.metas.len()
  }
}

/// A flush's batch: one or more chunks, all in the same mode.
#[derive(Debug, Default, Clone)]
pub struct Batch {
  /// Seed mode (`s`): every counter-like field with its `acked` value.
  pub seed: bool,
  /// Known epoch (`''` = none).
  pub epoch: String,
  /// The script calls.
  pub chunks: Vec<Chunk>,
}

/// Reply status of one script call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
  /// Applied.
  Ok,
  /// Redis lost its data: resend everything.
  Epoch,
  /// This process's `last_applied` records expired: re-seed.
  Lost,
}

/// A family the aggregate refused (§5): its definition differs from one a live process holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
  /// The metric name.
  pub name: String,
  /// The first metadata key that differs (`type`, `labelNames`, `buckets`, `quantiles`).
  pub key: String,
  /// The stored metadata JSON.
  pub stored: String,
}

/// What changed with one reply, for the log.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RefusalNews {
  /// Messages of families newly refused, or refused for another reason than before: log each
  /// once.
  pub refused: Vec<String>,
  /// Families refused before and accepted now: their series can be sent at once.
  pub accepted: Vec<String>,
}

/// What the flusher should do after a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
  /// Done until the next interval.
  Done,
  /// Flush again at once (after `epoch` or `lost`).
  Again,
}

/// The writer of one process.
#[derive(Debug, Default)]
pub struct Writer {
  epoch: String,
  seed: bool,
  /// Every series' state (never removed: a series that left the store keeps its cumulative
  /// values, so indices are stable).
  states: Vec<SeriesState>,
  /// The states that may have a cell not acknowledged (every one that has is here): a batch
  /// looks at these rather than at every series, so a flush where few series changed costs
  /// O(changed) past the snapshot.
  pending: Vec<usize>,
  /// Name → labels → index in `states`: looked up by borrowed strings, so a known series costs
  /// no allocation per flush.
  series: HashMap<String, HashMap<String, usize, FxBuild>, FxBuild>,
  /// The state index of each counter-like series of the last snapshot, in the order the store
  /// showed them: the store shows its series in the same order from one flush to the next, so
  /// the series at position k is first compared with `order[k]` (two short string compares),
  /// and only a mismatch is looked up by hashing.
  order: Vec<usize>,
  /// Position in the snapshot being taken in.
  at: usize,
  gauges: HashMap<String, f64>,
  gauges_now: HashMap<String, f64>,
  metas: HashMap<String, String>,
  metas_now: Vec<(String, String)>,
  /// Refused families → the message that says why. Their metadata is offered again on every
  /// flush (accepted once no live process holds the other definition); their series are held
  /// back, never sent under a definition they do not match.
  refused: HashMap<String, String>,
}

impl Writer {
  /// A writer that has never flushed.
  pub fn new() -> Self {
    Self::default()
  }

  /// The epoch of the last `ok` reply (`''` before).
  pub fn epoch(&self) -> &str {
    &self.epoch
  }

  /// The families refused now, with the message of each (sorted by name).
  pub fn refused(&self) -> Vec<(&str, &str)> {
    let mut v: Vec<(&str, &str)> = self
      .refused
      .iter()
      .map(|(n, m)| (n.as_str(), m.as_str()))
      .collect();
    v.sort_unstable();
    v
  }

  /// Records the refusals of the `ok` reply to `chunk` (call for every `ok` reply, before
  /// [`Writer::on_replies`]; when the reply refused families, [`Writer::prune`] the chunks of the
  /// batch from that one on). The chunk's other definitions were accepted.
  pub fn on_refused(&mut self, chunk: &Chunk, refusals: &[Refusal]) -> RefusalNews {
    let mut news = RefusalNews::default();
    for (n, _) in &chunk.metas {
      if !refusals.iter().any(|r| r.name == *n) && self.refused.remove(n).is_some() {
        news.accepted.push(n.clone());
      }
    }
    let fresh = &mut news.refused;
    for r in refusals {
      let mine = self
        .metas_now
        .iter()
        .find(|(n, _)| *n == r.name)
        .map_or("{}", |(_, j)| j.as_str());
      let msg = field::refusal_message(&r.name, &r.key, mine, &r.stored);
      if self.refused.get(&r.name) != Some(&msg) {
        fresh.push(msg.clone());
        self.refused.insert(r.name.clone(), msg);
      }
    }
    news
  }

  /// Removes the items of refused families from a chunk not yet sent (a batch is built before
  /// the replies of its first chunks say what was refused), or from the chunk whose reply
  /// refused them (the script skipped them, so they must not be acknowledged).
  pub fn prune(&self, chunk: &mut Chunk) {
    if self.refused.is_empty() {
      return;
    }
    let ours = |f: &str| !self.refused.contains_key(f.split('|').next().unwrap_or(""));
    chunk
      .counters
      .retain(|it| !self.refused.contains_key(&it.name));
    chunk.gauges.retain(|(f, _)| ours(f));
    chunk.deletes.retain(|f| ours(f));
    chunk.metas.retain(|(n, _)| !self.refused.contains_key(n));
  }

  /// Takes a snapshot in: updates local values, carrying over series that were reset.
  pub fn update(&mut self, snap: Snapshot) {
    self.begin();
    for s in &snap.series {
      self.update_series(s.view());
    }
    self.end(snap.metas);
  }

  /// Starts taking a snapshot in series by series: [`Writer::update_series`] for each, as
  /// [`super::snapshot::visit`] gives them, then [`Writer::end`].
  pub fn begin(&mut self) {
    self.gauges_now.clear();
    self.at = 0;
  }

  /// Ends a snapshot taken in series by series: the families' metadata.
  pub fn end(&mut self, metas: Vec<(String, String)>) {
    self.metas_now = metas;
    self.order.truncate(self.at);
  }

  /// Passes over `n` counter-like series of the snapshot begun with [`Writer::begin`] that are
  /// as this writer last took them in (see [`super::snapshot::visit_changed`]): their state needs
  /// no update; their positions keep their order hints.
  pub fn skip(&mut self, n: usize) {
    self.at += n;
  }

  /// Takes one series of the snapshot begun with [`Writer::begin`] in.
  pub fn update_series(&mut self, s: SeriesView<'_>) {
    for (part, v) in s.gauges {
      self
        .gauges_now
        .insert(field::field(s.name, part, s.labels), *v);
    }
    if s.counters.is_empty() {
      return;
    }
    let k = self.at;
    self.at += 1;
    let hinted = self.order.get(k).copied().filter(|&i| {
      let st = &self.states[i];
      st.labels == s.labels && st.name == s.name
    });
    let i = match hinted {
      Some(i) => i,
      None => {
        let i = self.slot(s.name, s.labels);
        if k < self.order.len() {
          self.order[k] = i;
        } else {
          self.order.push(i);
        }
        i
      }
    };
    if Self::update_cells(&mut self.states[i], s) {
      self.mark(i);
    }
  }

  fn mark(&mut self, i: usize) {
    let st = &mut self.states[i];
    if !st.pending {
      st.pending = true;
      self.pending.push(i);
    }
  }

  /// Keeps in `pending` only the states with a cell not acknowledged (`all`: looks at every
  /// state, after the acknowledged values were reset).
  fn settle(&mut self, all: bool) {
    if all {
      self.pending.clear();
      for (i, st) in self.states.iter_mut().enumerate() {
        st.pending = st.unacked();
        if st.pending {
          self.pending.push(i);
        }
      }
      return;
    }
    let states = &mut self.states;
    self.pending.retain(|&i| {
      let st = &mut states[i];
      st.pending = st.unacked();
      st.pending
    });
  }

  /// The state index of a series, a new state for a series never seen (one lookup per map for a
  /// known series).
  fn slot(&mut self, name: &str, labels: &str) -> usize {
    if let Some(&i) = self.series.get(name).and_then(|by| by.get(labels)) {
      return i;
    }
    let i = self.states.len();
    match self.series.get_mut(name) {
      Some(by) => {
        by.insert(labels.to_owned(), i);
      }
      None => {
        let mut by = HashMap::default();
        by.insert(labels.to_owned(), i);
        self.series.insert(name.to_owned(), by);
      }
    }
    self.states.push(SeriesState {
      name: name.to_owned(),
      labels: labels.to_owned(),
      ..SeriesState::default()
    });
    i
  }

  /// Updates a series' cells; true when a cell's value changed.
  fn update_cells(st: &mut SeriesState, s: SeriesView<'_>) -> bool {
    let mut changed = false;
    if s.count < st.count {
      // The series restarted from zero here: keep what it had reached.
      for c in st.cells.values_mut() {
        c.carry += c.local;
        c.local = 0.0;
      }
      changed = true;
    }
    st.count = s.count;
    // Native histogram buckets are the one part that can vanish from a live series: a schema
    // reduction moves their counts into wider buckets (other parts), so they count zero here.
    for (part, c) in st.cells.iter_mut() {
      if field::native_key(part).is_some() && !s.counters.iter().any(|(p, _)| p == part) {
        changed |= c.local.to_bits() != 0f64.to_bits();
        c.local = 0.0;
      }
    }
    for (part, v) in s.counters {
      match st.cells.get_mut(part.as_str()) {
        Some(c) => {
          changed |= c.local.to_bits() != v.to_bits();
          c.local = *v;
        }
        None => {
          changed = true;
          st.cells.insert(
            part.clone(),
            Cell {
              local: *v,
              ..Cell::default()
            },
          );
        }
      }
    }
    changed
  }

  /// The batch to send now.
  pub fn batch(&self) -> Batch {
    let mut chunks = vec![Chunk::default()];
    let mut push = |f: &mut dyn FnMut(&mut Chunk)| {
      if chunks.last().is_some_and(|c| c.len() >= MAX_ITEMS) {
        chunks.push(Chunk::default());
      }
      f(chunks.last_mut().expect("one chunk at least"));
    };
    for (name, json) in &self.metas_now {
      if self.metas.get(name) != Some(json) {
        push(&mut |c| c.metas.push((name.clone(), json.clone())));
      }
    }
    // Seed mode sends every cell; otherwise only pending states can have a cell to send (in
    // state order, as a pass over every state would give them).
    let mut slots: Vec<usize> = if self.seed {
      (0..self.states.len()).collect()
    } else {
      self.pending.clone()
    };
    slots.sort_unstable();
    for slot in slots {
      let st = &self.states[slot];
      if !self.refused.is_empty() && self.refused.contains_key(&st.name) {
        continue;
      }
      for (part, cell) in &st.cells {
        let cum = cell.cum();
        if self.seed || cum.to_bits() != cell.acked.to_bits() {
          let item = CounterItem {
            slot,
            name: st.name.clone(),
            part: part.clone(),
            field: field::field(&st.name, part, &st.labels),
            cum,
            acked: cell.acked,
          };
          push(&mut |c| c.counters.push(item.clone()));
        }
      }
    }
    for (f, v) in &self.gauges_now {
      if self
        .gauges
        .get(f)
        .is_none_or(|old| old.to_bits() != v.to_bits())
        && (self.refused.is_empty()
          || !self.refused.contains_key(f.split('|').next().unwrap_or("")))
      {
        push(&mut |c| c.gauges.push((f.clone(), *v)));
      }
    }
    for f in self.gauges.keys() {
      if !self.gauges_now.contains_key(f) {
        push(&mut |c| c.deletes.push(f.clone()));
      }
    }
    Batch {
      seed: self.seed,
      epoch: self.epoch.clone(),
      chunks,
    }
  }

  /// Records the replies of a batch's chunks (`None` for a chunk with no reply).
  pub fn on_replies(&mut self, batch: &Batch, replies: &[(Status, String)]) -> Next {
    let mut next = Next::Done;
    for (chunk, (status, epoch)) in batch.chunks.iter().zip(replies) {
      match status {
        Status::Ok => {
          self.epoch = epoch.clone();
          self.seed = false;
          for it in &chunk.counters {
            if let Some(c) = self
              .states
              .get_mut(it.slot)
              .and_then(|s| s.cells.get_mut(&it.part))
            {
              c.acked = it.cum;
            }
          }
          for (f, v) in &chunk.gauges {
            self.gauges.insert(f.clone(), *v);
          }
          for f in &chunk.deletes {
            self.gauges.remove(f);
          }
          for (n, j) in &chunk.metas {
            self.metas.insert(n.clone(), j.clone());
            self.refused.remove(n);
          }
        }
        Status::Epoch => {
          self.epoch.clear();
          self.seed = false;
          for st in &mut self.states {
            for c in st.cells.values_mut() {
              c.acked = Cell::NEVER;
            }
          }
          self.gauges.clear();
          self.metas.clear();
          self.settle(true);
          return Next::Again;
        }
        Status::Lost => {
          self.seed = true;
          self.gauges.clear();
          self.metas.clear();
          next = Next::Again;
        }
      }
    }
    self.settle(false);
    next
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::backend::snapshot::SeriesSnap;

  fn counter(v: f64) -> Snapshot {
    Snapshot {
      metas: vec![("c".into(), "{}".into())],
      series: vec![SeriesSnap {
        name: "c".into(),
        labels: "x".into(),
        count: v,
        counters: vec![(String::new(), v)],
        gauges: vec![],
      }],
    }
  }

  fn ok(b: &Batch) -> Vec<(Status, String)> {
    b.chunks.iter().map(|_| (Status::Ok, "E".into())).collect()
  }

  #[test]
  fn only_changes_are_sent_and_resets_carry_over() {
    let mut w = Writer::new();
    w.update(counter(5.0));
    let b = w.batch();
    assert_eq!(b.chunks[0].counters[0].field, "c||x");
    assert_eq!(b.chunks[0].metas.len(), 1);
    assert_eq!(w.on_replies(&b, &ok(&b)), Next::Done);
    w.update(counter(5.0));
    assert_eq!(w.batch().chunks[0].len(), 0);
    w.update(counter(2.0)); // reset, then 2 more
    let b = w.batch();
    assert_eq!(b.chunks[0].counters[0].cum, 7.0);
  }

  #[test]
  fn series_shown_in_another_order_keep_their_own_state() {
    let snap = |vals: &[(&str, f64)]| Snapshot {
      metas: vec![("c".into(), "{}".into())],
      series: vals
        .iter()
        .map(|&(l, v)| SeriesSnap {
          name: "c".into(),
          labels: l.into(),
          count: v,
          counters: vec![(String::new(), v)],
          gauges: vec![],
        })
        .collect(),
    };
    let sent = |b: &Batch| {
      let mut v: Vec<(String, f64)> = b.chunks[0]
        .counters
        .iter()
        .map(|c| (c.field.clone(), c.cum))
        .collect();
      v.sort_by(|a, b| a.0.cmp(&b.0));
      v
    };
    let mut w = Writer::new();
    w.update(snap(&[("a", 1.0), ("b", 2.0)]));
    let b = w.batch();
    w.on_replies(&b, &ok(&b));
    // Reordered, one series new in the middle, one reset: each value lands on its own series.
    w.update(snap(&[("b", 1.0), ("n", 4.0), ("a", 3.0)]));
    let b = w.batch();
    assert_eq!(
      sent(&b),
      [
        ("c||a".into(), 3.0),
        ("c||b".into(), 3.0),
        ("c||n".into(), 4.0)
      ]
    );
    w.on_replies(&b, &ok(&b));
    // Back to a shorter snapshot in the first order: nothing changed, nothing sent.
    w.update(snap(&[("a", 3.0), ("b", 1.0)]));
    assert_eq!(sent(&w.batch()), []);
    w.update(snap(&[("a", 3.0), ("b", 1.0), ("n", 5.0)]));
    assert_eq!(sent(&w.batch()), [("c||n".into(), 5.0)]);
  }

  #[test]
  fn a_series_at_zero_is_sent_once_and_again_after_an_epoch_change() {
    let snap = || Snapshot {
      metas: vec![("c".into(), "{}".into())],
      series: vec![SeriesSnap {
        name: "c".into(),
        labels: "a".into(),
        count: 0.0,
        counters: vec![(String::new(), 0.0)],
        gauges: vec![],
      }],
    };
    let sent = |b: &Batch| -> Vec<(String, f64, f64)> {
      b.chunks[0]
        .counters
        .iter()
        .map(|c| (c.field.clone(), c.cum, c.acked))
        .collect()
    };
    let mut w = Writer::new();
    w.update(snap());
    let b = w.batch();
    let items = sent(&b);
    assert_eq!(items.len(), 1);
    assert_eq!((items[0].0.as_str(), items[0].1), ("c||a", 0.0));
    assert!(
      items[0].2 == 0.0 && items[0].2.is_sign_negative(),
      "never acknowledged"
    );
    w.on_replies(&b, &ok(&b));
    w.update(snap());
    assert_eq!(sent(&w.batch()), []);
    // The server lost its data: the zero series is sent again.
    let b = w.batch();
    w.on_replies(&b, &[(Status::Epoch, String::new())]);
    w.update(snap());
    assert_eq!(sent(&w.batch()).len(), 1);
  }

  #[test]
  fn native_buckets_gone_with_a_schema_reduction_count_zero() {
    let native = |parts: &[(&str, f64)]| Snapshot {
      metas: vec![],
      series: vec![SeriesSnap {
        name: "h".into(),
        labels: String::new(),
        count: 3.0,
        counters: parts.iter().map(|&(p, v)| (p.to_owned(), v)).collect(),
        gauges: vec![],
      }],
    };
    let mut w = Writer::new();
    w.update(native(&[("b0", 3.0), ("np0:1", 1.0), ("np0:2", 2.0)]));
    let b = w.batch();
    w.on_replies(&b, &ok(&b));
    // Schema 0 → -1: buckets 1 and 2 become bucket 1.
    w.update(native(&[("b0", 3.0), ("np-1:1", 3.0)]));
    let mut sent: Vec<(String, f64)> = w.batch().chunks[0]
      .counters
      .iter()
      .map(|c| (c.field.clone(), c.cum))
      .collect();
    sent.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
      sent,
      vec![
        ("h|np-1:1|".to_owned(), 3.0),
        ("h|np0:1|".to_owned(), 0.0),
        ("h|np0:2|".to_owned(), 0.0)
      ]
    );
  }

  #[test]
  fn only_changed_or_unacknowledged_series_are_looked_at_and_sent() {
    let snap = |vals: &[f64]| Snapshot {
      metas: vec![("c".into(), "{}".into())],
      series: vals
        .iter()
        .enumerate()
        .map(|(i, &v)| SeriesSnap {
          name: "c".into(),
          labels: format!("l{i}"),
          count: v,
          counters: vec![(String::new(), v)],
          gauges: vec![],
        })
        .collect(),
    };
    let fields = |b: &Batch| -> Vec<(String, f64)> {
      b.chunks
        .iter()
        .flat_map(|c| c.counters.iter().map(|it| (it.field.clone(), it.cum)))
        .collect()
    };
    let mut w = Writer::new();
    w.update(snap(&[1.0, 2.0, 3.0]));
    let b = w.batch();
    assert_eq!(fields(&b).len(), 3);
    w.on_replies(&b, &ok(&b));
    assert!(w.pending.is_empty());
    w.update(snap(&[1.0, 5.0, 3.0]));
    assert_eq!(w.pending, vec![1]);
    let lost = w.batch();
    assert_eq!(fields(&lost), vec![("c||l1".into(), 5.0)]);
    // No reply: the series stays pending though it does not change again.
    w.on_replies(&lost, &[]);
    w.update(snap(&[1.0, 5.0, 4.0]));
    let b = w.batch();
    assert_eq!(
      fields(&b),
      vec![("c||l1".into(), 5.0), ("c||l2".into(), 4.0)]
    );
    w.on_replies(&b, &ok(&b));
    assert!(w.pending.is_empty());
    // Redis lost everything: every series is sent again, unchanged ones too.
    w.update(snap(&[1.0, 5.0, 4.0]));
    let b = w.batch();
    assert!(fields(&b).is_empty());
    assert_eq!(
      w.on_replies(&b, &[(Status::Epoch, "F".into())]),
      Next::Again
    );
    w.update(snap(&[1.0, 5.0, 4.0]));
    let b = w.batch();
    assert_eq!(
      fields(&b),
      vec![
        ("c||l0".into(), 1.0),
        ("c||l1".into(), 5.0),
        ("c||l2".into(), 4.0)
      ]
    );
  }

  #[test]
  fn failed_flush_keeps_cumulative_values_and_epoch_resends_all() {
    let mut w = Writer::new();
    w.update(counter(5.0));
    let b = w.batch();
    w.on_replies(&b, &ok(&b));
    w.update(counter(9.0));
    let _lost_in_transit = w.batch();
    w.update(counter(12.0));
    let b = w.batch();
    assert_eq!(b.chunks[0].counters[0].cum, 12.0);
    assert_eq!(
      w.on_replies(&b, &[(Status::Epoch, "F".into())]),
      Next::Again
    );
    let b = w.batch();
    assert_eq!(b.epoch, "");
    assert_eq!(b.chunks[0].counters[0].cum, 12.0);
    assert_eq!(b.chunks[0].metas.len(), 1);
  }

  #[test]
  fn lost_reseeds_every_field_with_its_acked_value() {
    let mut w = Writer::new();
    w.update(counter(5.0));
    let b = w.batch();
    w.on_replies(&b, &ok(&b));
    w.update(counter(8.0));
    let b = w.batch();
    assert_eq!(w.on_replies(&b, &[(Status::Lost, "E".into())]), Next::Again);
    let b = w.batch();
    assert!(b.seed);
    let it = &b.chunks[0].counters[0];
    assert_eq!((it.cum, it.acked), (8.0, 5.0));
  }

  #[test]
  fn a_refused_family_is_held_back_and_offered_again_until_accepted() {
    let mut w = Writer::new();
    let mut s = counter(5.0);
    s.series[0].gauges.push(("".into(), 1.0));
    s.series.push(SeriesSnap {
      name: "g".into(),
      labels: String::new(),
      count: 0.0,
      counters: vec![],
      gauges: vec![(String::new(), 2.0)],
    });
    s.metas = vec![
      (
        "c".into(),
        r#"{"type":"counter","labelNames":["x"]}"#.into(),
      ),
      ("g".into(), r#"{"type":"gauge","labelNames":[]}"#.into()),
    ];
    w.update(s);
    let mut b = w.batch();
    let refusal = Refusal {
      name: "c".into(),
      key: "labelNames".into(),
      stored: r#"{"type":"counter","labelNames":["y"]}"#.into(),
    };
    let fresh = w.on_refused(&b.chunks[0], std::slice::from_ref(&refusal));
    assert_eq!(
      fresh.refused,
      vec![
        "promsd: metric \"c\" refused by the aggregate: labelNames [\"x\"] differ from [\"y\"] stored by another process"
          .to_string()
      ]
    );
    assert!(
      w.on_refused(&b.chunks[0], &[refusal]).refused.is_empty(),
      "logged once"
    );
    w.prune(&mut b.chunks[0]);
    assert_eq!(b.chunks[0].counters.len(), 0);
    assert_eq!(b.chunks[0].gauges, vec![("g||".to_string(), 2.0)]);
    assert_eq!(b.chunks[0].metas.len(), 1);
    w.on_replies(&b, &ok(&b));
    // Next flush: the definition is offered again, its series are not sent.
    let mut b = w.batch();
    assert_eq!(b.chunks[0].metas.len(), 1);
    assert_eq!(b.chunks[0].counters.len() + b.chunks[0].gauges.len(), 0);
    // Accepted (no refusal in the reply): the series follow at once, in full.
    assert_eq!(
      w.on_refused(&b.chunks[0], &[]),
      RefusalNews {
        refused: vec![],
        accepted: vec!["c".into()]
      }
    );
    w.prune(&mut b.chunks[0]);
    w.on_replies(&b, &ok(&b));
    assert!(w.refused().is_empty());
    let b = w.batch();
    assert_eq!(b.chunks[0].counters[0].cum, 5.0);
    assert_eq!(b.chunks[0].gauges, vec![("c||x".to_string(), 1.0)]);
  }

  #[test]
  fn a_refusal_in_the_first_chunk_prunes_the_family_from_the_later_ones() {
    let mut w = Writer::new();
    let mut s = counter(1.0);
    s.metas.push(("g".into(), "{}".into()));
    s.series.push(SeriesSnap {
      name: "g".into(),
      labels: String::new(),
      count: 0.0,
      counters: vec![],
      gauges: (0..MAX_ITEMS + 10)
        .map(|i| (format!("p{i}"), 1.0))
        .collect(),
    });
    w.update(s);
    let mut b = w.batch();
    assert_eq!(b.chunks.len(), 2);
    let r = Refusal {
      name: "g".into(),
      key: "type".into(),
      stored: r#"{"type":"counter"}"#.into(),
    };
    let news = w.on_refused(&b.chunks[0], &[r]);
    assert_eq!(news.refused.len(), 1);
    for c in &mut b.chunks {
      w.prune(c);
    }
    assert!(b.chunks[1].gauges.iter().all(|(f, _)| !f.starts_with("g|")));
    assert!(b.chunks[1].gauges.is_empty());
    assert_eq!(b.chunks[0].counters.len(), 1, "the other family stays");
  }

  #[test]
  fn removed_gauges_are_deleted() {
    let mut w = Writer::new();
    let mut s = counter(1.0);
    s.series[0].gauges.push(("z".into(), 3.0));
    w.update(s);
    let b = w.batch();
    assert_eq!(b.chunks[0].gauges, vec![("c|z|x".to_string(), 3.0)]);
    w.on_replies(&b, &ok(&b));
    w.update(counter(1.0));
    assert_eq!(w.batch().chunks[0].deletes, vec!["c|z|x".to_string()]);
  }

  #[test]
  fn large_batches_are_split() {
    let mut w = Writer::new();
    let mut s = counter(1.0);
    for i in 0..(MAX_ITEMS + 10) {
      s.series[0].gauges.push((format!("g{i}"), 1.0));
    }
    w.update(s);
    let b = w.batch();
    assert_eq!(b.chunks.len(), 2);
    assert_eq!(
      b.chunks.iter().map(Chunk::len).sum::<usize>(),
      MAX_ITEMS + 12
    );
  }
}
