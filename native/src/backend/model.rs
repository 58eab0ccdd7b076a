//! The one-host aggregator's model: the scripts (`apply.lua`, `read.lua`, `live.lua`, protocol
//! §7–§8), the `HGETALL`s of a v2 read and the few other commands the flusher sends, executed on an in-memory copy of the keys of
//! protocol §3. `embedded.rs` serves it on a Unix socket.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::field;
use super::{APPLY_LUA, LIVE_LUA, READ_LUA};

mod persist;
mod view;

/// A RESP value, as much of it as the two scripts need.
#[derive(Debug, Clone, PartialEq)]
pub enum Resp {
  /// `$`
  Bulk(String),
  /// `:`
  Int(i64),
  /// `*`
  Array(Vec<Resp>),
  /// `+`
  Simple(&'static str),
  /// `-`
  Error(String),
}

impl Resp {
  /// Appends this value in RESP.
  pub fn write(&self, out: &mut Vec<u8>) {
    match self {
      Resp::Bulk(s) => {
        out.extend_from_slice(format!("${}\r\n", s.len()).as_bytes());
        out.extend_from_slice(s.as_bytes());
        out.extend_from_slice(b"\r\n");
      }
      Resp::Int(i) => out.extend_from_slice(format!(":{i}\r\n").as_bytes()),
      Resp::Array(items) => {
        out.extend_from_slice(format!("*{}\r\n", items.len()).as_bytes());
        for i in items {
          i.write(out);
        }
      }
      Resp::Simple(s) => out.extend_from_slice(format!("+{s}\r\n").as_bytes()),
      Resp::Error(e) => out.extend_from_slice(format!("-{e}\r\n").as_bytes()),
    }
  }
}

fn flat(m: &HashMap<String, String>) -> Resp {
  Resp::Array(
    m.iter()
      .flat_map(|(k, v)| [Resp::Bulk(k.clone()), Resp::Bulk(v.clone())])
      .collect(),
  )
}

struct Expiring {
  fields: HashMap<String, String>,
  expires: f64,
}

/// One prefix's data, mirroring the keys of protocol §3.
#[derive(Default)]
struct Space {
  epoch: Option<String>,
  meta: HashMap<String, String>,
  totals: HashMap<String, f64>,
  procs: HashMap<String, f64>,
  applied: HashMap<String, Expiring>,
  gauges: HashMap<String, Expiring>,
  /// `m:<id>`: the definitions each process holds (name → metadata JSON), live as `g:<id>`.
  owned: HashMap<String, Expiring>,
  /// The aggregation of the totals kept between the holder's scrapes (`model/view.rs`): built
  /// by a scrape, updated in place by applies, dropped when a definition appears or changes.
  view: Option<view::View>,
}

impl Space {
  /// The metadata and each live process's gauges hash (a process with none left out), as a read
  /// returns them.
  #[allow(clippy::type_complexity)]
  fn meta_and_gauges(&self) -> (Vec<(String, String)>, Vec<(String, Vec<(String, String)>)>) {
    let meta = self
      .meta
      .iter()
      .map(|(k, v)| (k.clone(), v.clone()))
      .collect();
    (meta, self.live_gauges())
  }

  /// Each live process's gauges hash (a process with none left out).
  fn live_gauges(&self) -> Vec<(String, Vec<(String, String)>)> {
    let mut procs = Vec::new();
    for id in self.procs.keys() {
      if let Some(g) = self.gauges.get(id).filter(|g| !g.fields.is_empty()) {
        let h = g
          .fields
          .iter()
          .map(|(k, v)| (k.clone(), v.clone()))
          .collect();
        procs.push((id.clone(), h));
      }
    }
    procs
  }

  fn expire(&mut self, now: f64) {
    self.procs.retain(|_, exp| *exp > now);
    self.applied.retain(|_, e| e.expires > now);
    self.gauges.retain(|_, e| e.expires > now);
    self.owned.retain(|_, e| e.expires > now);
  }

  /// Whether a live process other than `id` holds a definition of `name` of `stored`'s shape.
  fn held_by_another(&self, id: &str, name: &str, stored: &serde_json::Value) -> bool {
    self.procs.keys().filter(|p| *p != id).any(|p| {
      self
        .owned
        .get(p)
        .and_then(|o| o.fields.get(name))
        .and_then(|j| serde_json::from_str(j).ok())
        .is_some_and(|theirs| field::shape_differs(&theirs, stored).is_none())
    })
  }
}

fn decode(s: Option<&String>) -> Option<serde_json::Value> {
  serde_json::from_str::<serde_json::Value>(s?)
    .ok()
    .filter(serde_json::Value::is_object)
}

/// Every prefix's data.
#[derive(Default)]
pub struct Model {
  spaces: HashMap<String, Space>,
}

fn now_ms() -> f64 {
  // Whole milliseconds, as Redis TIME-derived values are in the Lua scripts this models.
  crate::clock::now_ms().floor()
}

/// `promsd:{p}:epoch` → `promsd:{p}:`.
fn base(key: &str, suffix: &str) -> Option<String> {
  key.strip_suffix(suffix).map(str::to_owned)
}

fn num(s: &str) -> f64 {
  field::parse(s).unwrap_or(0.0)
}

impl Model {
  /// The apply script (apply.lua), line for line.
  pub fn apply(&mut self, keys: &[String], argv: &[String], now: f64) -> Resp {
    let (Some(b), true) = (base(&keys[0], "epoch"), argv.len() >= 11) else {
      return Resp::Error("ERR bad apply call".into());
    };
    let sp = self.spaces.entry(b).or_default();
    sp.expire(now);
    let id = &argv[0];
    let (known, mode) = (&argv[1], argv[3].as_str());
    let (live, retain) = (num(&argv[4]), num(&argv[5]));
    let counts: Vec<usize> = argv[7..11].iter().map(|s| s.parse().unwrap_or(0)).collect();
    let epoch = sp.epoch.get_or_insert_with(|| argv[2].clone()).clone();
    let reply = |status: &str, refused: Vec<Resp>| {
      Resp::Array(vec![
        Resp::Bulk(status.into()),
        Resp::Bulk(epoch.clone()),
        Resp::Int(now as i64),
        Resp::Array(refused),
      ])
    };
    if !known.is_empty() && *known != epoch {
      return reply("epoch", vec![]);
    }
    let has_marker = sp
      .applied
      .get(id)
      .is_some_and(|a| a.fields.contains_key("@"));
    if !known.is_empty() && mode != "s" && (!has_marker || !sp.gauges.contains_key(id)) {
      return reply("lost", vec![]);
    }
    let step = if mode == "s" { 3 } else { 2 };
    let need = 11 + counts[0] * step + counts[1] * 2 + counts[2] + counts[3] * 2;
    if argv.len() < need {
      return Resp::Error("ERR apply call with too few items".into());
    }
    // Definitions first (§5): a refused family's items are skipped below.
    let mut refused: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    let mut im = 11 + counts[0] * step + counts[1] * 2 + counts[2];
    for _ in 0..counts[3] {
      let (name, json) = (&argv[im], &argv[im + 1]);
      let stored_json = sp.meta.get(name).cloned();
      let (differs, differs_at_all) = match (decode(stored_json.as_ref()), decode(Some(json))) {
        (Some(stored), Some(mine)) => {
          let key = field::shape_differs(&mine, &stored);
          (
            key.filter(|_| sp.held_by_another(id, name, &stored)),
            key.is_some(),
          )
        }
        _ => (None, false),
      };
      if let (Some(key), Some(stored_json)) = (differs, stored_json) {
        refused.push(name);
        out.extend([
          Resp::Bulk(name.clone()),
          Resp::Bulk(key.into()),
          Resp::Bulk(stored_json),
        ]);
      } else {
        if differs_at_all {
          // The old definition's totals cannot be read under the new one (apply.lua `forget`).
          let pre = format!("{name}|");
          sp.totals.retain(|f, _| !f.starts_with(&pre));
          if let Some(a) = sp.applied.get_mut(id) {
            a.fields.retain(|f, _| !f.starts_with(&pre));
          }
        }
        if sp.meta.get(name) != Some(json) {
          sp.view = None;
        }
        sp.meta.insert(name.clone(), json.clone());
        let owned = sp.owned.entry(id.clone()).or_insert_with(|| Expiring {
          fields: HashMap::new(),
          expires: 0.0,
        });
        owned.fields.insert(name.clone(), json.clone());
      }
      im += 2;
    }
    let ours =
      |f: &str| refused.is_empty() || !refused.contains(&f.split('|').next().unwrap_or(""));
    let applied = sp.applied.entry(id.clone()).or_insert_with(|| Expiring {
      fields: HashMap::new(),
      expires: 0.0,
    });
    let mut i = 11;
    for _ in 0..counts[0] {
      let (f, cum) = (&argv[i], &argv[i + 1]);
      if !ours(f) {
        i += step;
        continue;
      }
      let last = if mode == "s" {
        num(&argv[i + 2])
      } else {
        applied.fields.get(f).map_or(0.0, |s| num(s))
      };
      let d = num(cum) - last;
      if d != 0.0 && d.is_finite() {
        let t = match sp.totals.get_mut(f) {
          Some(t) => {
            *t += d;
            *t
          }
          None => *sp.totals.entry(f.clone()).or_insert(d),
        };
        if let Some(v) = sp.view.as_mut() {
          v.set(f, t);
        }
      } else if d == 0.0 && num(cum) == 0.0 && field::marks_series(f) && !sp.totals.contains_key(f)
      {
        // A series at zero (`inc(0)`, an untouched unlabelled counter, `zero()`) exists in the
        // aggregate as it does locally (apply.lua's HSETNX).
        sp.totals.insert(f.clone(), 0.0);
        if let Some(v) = sp.view.as_mut() {
          v.set(f, 0.0);
        }
      }
      applied.fields.insert(f.clone(), cum.clone());
      i += step;
    }
    applied.fields.insert("@".into(), epoch.clone());
    applied.expires = now + retain;
    let gauges = sp.gauges.entry(id.clone()).or_insert_with(|| Expiring {
      fields: HashMap::new(),
      expires: 0.0,
    });
    // Protocol v2: only `last` gauges (or those without readable metadata) carry the server
    // time; the metadata is this batch's by now (applied above), as in apply.lua.
    let mut stamped: HashMap<&str, bool> = HashMap::new();
    for _ in 0..counts[1] {
      if ours(&argv[i]) {
        let name = argv[i].split('|').next().unwrap_or("");
        let stamp = *stamped.entry(name).or_insert_with(|| {
          let agg = sp
            .meta
            .get(name)
            .and_then(|m| serde_json::from_str::<serde_json::Value>(m).ok())
            .and_then(|d| d["aggregator"].as_str().map(str::to_owned));
          agg.is_none_or(|a| a == "last")
        });
        let v = if stamp {
          format!("{} {now}", argv[i + 1])
        } else {
          argv[i + 1].clone()
        };
        gauges.fields.insert(argv[i].clone(), v);
      }
      i += 2;
    }
    for _ in 0..counts[2] {
      gauges.fields.remove(&argv[i]);
      i += 1;
    }
    gauges.fields.insert("@".into(), argv[6].clone());
    gauges.expires = now + live;
    if let Some(o) = sp.owned.get_mut(id) {
      o.expires = now + live;
    }
    sp.procs.insert(id.clone(), now + live);
    reply("ok", out)
  }

  /// The read script (read.lua).
  pub fn read(&mut self, keys: &[String], now: f64) -> Resp {
    let Some(b) = keys.first().and_then(|k| base(k, "meta")) else {
      return Resp::Error("ERR bad read call".into());
    };
    let Some(sp) = self.spaces.get_mut(&b) else {
      return Resp::Array(vec![
        Resp::Int(now as i64),
        Resp::Array(vec![]),
        Resp::Array(vec![]),
      ]);
    };
    sp.expire(now);
    let totals: HashMap<String, String> = sp
      .totals
      .iter()
      .map(|(k, v)| (k.clone(), field::value(*v)))
      .collect();
    let mut out = vec![Resp::Int(now as i64), flat(&sp.meta), flat(&totals)];
    for id in sp.procs.keys() {
      out.push(Resp::Bulk(id.clone()));
      out.push(
        sp.gauges
          .get(id)
          .map_or(Resp::Array(vec![]), |g| flat(&g.fields)),
      );
    }
    Resp::Array(out)
  }

  /// A v2 read of `base` (`promsd:{<prefix>}:`) answered from the model itself: what
  /// [`super::reader::Reader`] ends with after its two rounds against this model (live ids, then
  /// `HGETALL meta`, `c` and each live process's `g:<id>`, a process with no hash left out), with
  /// no command, reply or number formatted in between. The holder's own scrapes read this way.
  pub fn read_data(&mut self, base: &str) -> super::reader::ReadData {
    let now = now_ms();
    let mut out = super::reader::ReadData {
      now_ms: now,
      ..Default::default()
    };
    let Some(sp) = self.spaces.get_mut(base) else {
      return out;
    };
    sp.expire(now);
    (out.meta, out.procs) = sp.meta_and_gauges();
    out.totals = sp.totals.iter().map(|(k, v)| (k.clone(), *v)).collect();
    out
  }

  /// [`render::aggregate`](super::render::aggregate) of [`Model::read_data`], with the totals
  /// aggregated in place: their fields are borrowed from the model (under its lock) rather than
  /// copied into a read and freed after it. What the kept aggregation of [`Model::render`] is
  /// checked against, and what a holder's scrape falls back to while definitions keep changing.
  pub fn aggregate(&mut self, base: &str) -> Vec<super::render::Family> {
    let now = now_ms();
    let Some(sp) = self.spaces.get_mut(base) else {
      return Vec::new();
    };
    sp.expire(now);
    let (meta, procs) = sp.meta_and_gauges();
    super::render::aggregate_from(
      &meta,
      sp.totals.iter().map(|(k, v)| (k.as_str(), *v)),
      sp.totals.len(),
      &procs,
    )
  }

  /// Readies the holder's scrape of `base` ([`Model::render`]): drops what expired and builds
  /// the kept aggregation of the totals if a definition appeared or changed since the last.
  pub fn prepare(&mut self, base: &str) {
    let now = now_ms();
    if let Some(sp) = self.spaces.get_mut(base) {
      sp.expire(now);
      if sp.view.is_none() {
        sp.view = Some(view::View::build(&sp.meta, &sp.totals));
      }
    }
  }

  /// The holder's scrape of `base`, encoded with `extra` appended: the same bytes as
  /// [`Model::aggregate`] encoded, from the aggregation kept since [`Model::prepare`] (shared:
  /// scrapes encode side by side under the read lock). `None` when an apply since then brought
  /// a new definition.
  pub fn render(
    &self,
    base: &str,
    opts: &super::flusher::RenderOpts,
    extra: &[super::render::Family],
  ) -> Option<Vec<u8>> {
    let Some(sp) = self.spaces.get(base) else {
      return Some(super::flusher::encode_refs(
        &extra.iter().collect::<Vec<_>>(),
        opts,
      ));
    };
    Some(sp.view.as_ref()?.encode(&sp.live_gauges(), opts, extra))
  }

  /// The live-ids script (live.lua): server time, then the live processes' ids.
  pub fn live(&mut self, keys: &[String], now: f64) -> Resp {
    let Some(b) = keys.first().and_then(|k| base(k, "procs")) else {
      return Resp::Error("ERR bad live call".into());
    };
    let mut out = vec![Resp::Int(now as i64)];
    if let Some(sp) = self.spaces.get_mut(&b) {
      sp.expire(now);
      out.extend(sp.procs.keys().map(|id| Resp::Bulk(id.clone())));
    }
    Resp::Array(out)
  }

  /// `HGETALL` of the hashes a v2 read asks for (`meta`, `c`, `g:<id>`); any other key is empty,
  /// as a missing key is in Redis.
  pub fn hgetall(&mut self, key: &str, now: f64) -> Resp {
    let empty = Resp::Array(vec![]);
    let (b, rest) = match key.rfind("}:") {
      Some(i) => key.split_at(i + 2),
      None => return empty,
    };
    let Some(sp) = self.spaces.get_mut(b) else {
      return empty;
    };
    sp.expire(now);
    match rest {
      "meta" => flat(&sp.meta),
      "c" => Resp::Array(
        sp.totals
          .iter()
          .flat_map(|(k, v)| [Resp::Bulk(k.clone()), Resp::Bulk(field::value(*v))])
          .collect(),
      ),
      _ => match rest.strip_prefix("g:").and_then(|id| sp.gauges.get(id)) {
        Some(g) => flat(&g.fields),
        None => empty,
      },
    }
  }

  /// Every key of `base` (`promsd:{<prefix>}:`) as a redis-server would show it — strings,
  /// hashes as field → value, the heartbeat sorted set as member → score — for the shared
  /// protocol vectors (`vectors.rs`).
  #[cfg(test)]
  pub(crate) fn dump(&self, base: &str) -> serde_json::Map<String, serde_json::Value> {
    use serde_json::Value;
    let mut out = serde_json::Map::new();
    let Some(sp) = self.spaces.get(base) else {
      return out;
    };
    let mut hash = |key: String, fields: Vec<(String, String)>| {
      if !fields.is_empty() {
        let m = fields.into_iter().map(|(f, v)| (f, Value::String(v)));
        out.insert(key, Value::Object(m.collect()));
      }
    };
    let strings = |m: &HashMap<String, String>| -> Vec<(String, String)> {
      m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    };
    let numbers = |m: &HashMap<String, f64>| -> Vec<(String, String)> {
      m.iter()
        .map(|(k, v)| (k.clone(), field::value(*v)))
        .collect()
    };
    hash(format!("{base}c"), numbers(&sp.totals));
    hash(format!("{base}meta"), strings(&sp.meta));
    hash(format!("{base}procs"), numbers(&sp.procs));
    for (id, e) in &sp.applied {
      hash(format!("{base}a:{id}"), strings(&e.fields));
    }
    for (id, e) in &sp.gauges {
      hash(format!("{base}g:{id}"), strings(&e.fields));
    }
    for (id, e) in &sp.owned {
      hash(format!("{base}m:{id}"), strings(&e.fields));
    }
    if let Some(e) = &sp.epoch {
      out.insert(format!("{base}epoch"), Value::String(e.clone()));
    }
    out
  }

  /// `ZREM procs id` / `DEL g:<id>` of a closing process.
  fn goodbye(&mut self, cmd: &str, args: &[String]) -> Resp {
    match cmd {
      "ZREM" if args.len() == 2 => {
        if let Some(sp) = base(&args[0], "procs").and_then(|b| self.spaces.get_mut(&b)) {
          sp.procs.remove(&args[1]);
        }
      }
      "DEL" if !args.is_empty() => {
        for key in args {
          let (b, id, gauges) = match (key.rsplit_once(":g:"), key.rsplit_once(":m:")) {
            (Some((b, id)), _) => (b, id, true),
            (None, Some((b, id))) => (b, id, false),
            (None, None) => continue,
          };
          if let Some(sp) = self.spaces.get_mut(&format!("{b}:")) {
            if gauges {
              sp.gauges.remove(id);
            } else {
              sp.owned.remove(id);
            }
          }
        }
      }
      _ => return Resp::Error("ERR wrong number of arguments".into()),
    }
    Resp::Int(1)
  }

  /// Executes one command.
  pub fn command(&mut self, args: &[String]) -> Resp {
    let Some(name) = args.first() else {
      return Resp::Error("ERR empty command".into());
    };
    let now = now_ms();
    let upper = name.to_ascii_uppercase();
    const SCRIPTS: [&str; 3] = [APPLY_LUA, READ_LUA, LIVE_LUA];
    static SHAS: OnceLock<[String; 3]> = OnceLock::new();
    let shas = SHAS.get_or_init(|| SCRIPTS.map(|l| redis::Script::new(l).get_hash().to_owned()));
    // The index in SCRIPTS of a script given by source or SHA1.
    let script = |s: &str| -> Option<usize> {
      SCRIPTS
        .iter()
        .zip(shas)
        .position(|(l, sha)| s == *l || s == sha.as_str())
    };
    match upper.as_str() {
      "EVALSHA" | "EVAL" if args.len() >= 3 => {
        let Some(which) = script(&args[1]) else {
          return Resp::Error("NOSCRIPT No matching script. Please use EVAL.".into());
        };
        let n: usize = args[2].parse().unwrap_or(usize::MAX);
        if n > args.len() - 3 {
          return Resp::Error("ERR Number of keys can't be greater than number of args".into());
        }
        let (keys, argv) = args[3..].split_at(n);
        if which == 0 {
          if keys.len() != 6 {
            return Resp::Error("ERR apply takes 6 keys".into());
          }
          self.apply(keys, argv, now)
        } else if which == 2 {
          self.live(keys, now)
        } else {
          self.read(keys, now)
        }
      }
      "SCRIPT" if args.len() == 3 && args[1].eq_ignore_ascii_case("LOAD") => match script(&args[2])
      {
        Some(i) => Resp::Bulk(shas[i].clone()),
        None => Resp::Error("ERR only promsd's scripts run here".into()),
      },
      "HGETALL" if args.len() == 2 => self.hgetall(&args[1], now),
      "ZREM" | "DEL" => self.goodbye(&upper, &args[1..]),
      "PING" => Resp::Simple("PONG"),
      "CLIENT" | "SELECT" => Resp::Simple("OK"),
      _ => Resp::Error(format!(
        "ERR unknown command '{name}' (promsd embedded aggregator)"
      )),
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  /// Owned strings.
  pub(super) fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
  }

  /// The six keys of an apply call of process `id` under prefix `t` (the flusher's layout).
  pub(super) fn keys(id: &str) -> Vec<String> {
    crate::backend::conn::apply_keys(&crate::backend::conn::Keys::new("t"), id).to_vec()
  }

  fn status(r: &Resp) -> String {
    match r {
      Resp::Array(v) => match &v[0] {
        Resp::Bulk(s) => s.clone(),
        _ => String::new(),
      },
      _ => format!("{r:?}"),
    }
  }

  #[test]
  fn a_retried_batch_is_applied_once_and_a_new_epoch_is_reported() {
    let mut m = Model::default();
    let argv = s(&[
      "p1", "", "E", "n", "1000", "5000", "{}", "1", "0", "0", "0", "c||", "5",
    ]);
    assert_eq!(status(&m.apply(&keys("p1"), &argv, 0.0)), "ok");
    assert_eq!(status(&m.apply(&keys("p1"), &argv, 1.0)), "ok");
    let sp = m.spaces.get("promsd:{t}:").unwrap();
    assert_eq!(sp.totals["c||"], 5.0);
    let stale = s(&[
      "p1", "OLD", "E2", "n", "1000", "5000", "{}", "0", "0", "0", "0",
    ]);
    assert_eq!(status(&m.apply(&keys("p1"), &stale, 2.0)), "epoch");
    // Bookkeeping expired (retain 5000 ms): the process must re-seed.
    let later = s(&[
      "p1", "E", "E3", "n", "1000", "5000", "{}", "0", "0", "0", "0",
    ]);
    assert_eq!(status(&m.apply(&keys("p1"), &later, 10_000.0)), "lost");
  }

  fn refused(r: &Resp) -> Vec<Resp> {
    match r {
      Resp::Array(v) => match &v[3] {
        Resp::Array(x) => x.clone(),
        _ => vec![],
      },
      _ => vec![],
    }
  }

  #[test]
  fn a_definition_held_by_a_live_process_refuses_a_different_one_until_it_is_gone() {
    let mut m = Model::default();
    let old = r#"{"v":1,"type":"histogram","labelNames":[],"buckets":[1,2]}"#;
    let new = r#"{"v":1,"type":"histogram","labelNames":[],"buckets":[10,100]}"#;
    let call = |id: &str, epoch: &str, meta: &str, bucket: &str| {
      s(&[
        id, epoch, "E", "n", "1000", "5000", "{}", "1", "0", "0", "1", bucket, "1", "h", meta,
      ])
    };
    assert_eq!(
      status(&m.apply(&keys("p1"), &call("p1", "", old, "h|b0|"), 0.0)),
      "ok"
    );
    let r = m.apply(&keys("p2"), &call("p2", "", new, "h|b1|"), 1.0);
    assert_eq!(status(&r), "ok");
    assert_eq!(
      refused(&r),
      vec![
        Resp::Bulk("h".into()),
        Resp::Bulk("buckets".into()),
        Resp::Bulk(old.into())
      ]
    );
    let sp = m.spaces.get("promsd:{t}:").unwrap();
    assert_eq!(
      sp.totals.get("h|b1|"),
      None,
      "a refused family's items are skipped"
    );
    assert_eq!(sp.meta["h"], old);
    // p1 dies (no flush for 1 s): its definition no longer holds the name.
    let r = m.apply(&keys("p2"), &call("p2", "E", new, "h|b1|"), 1000.0);
    assert_eq!((status(&r), refused(&r)), ("ok".into(), vec![]));
    let sp = m.spaces.get("promsd:{t}:").unwrap();
    assert_eq!(sp.meta["h"], new);
    assert_eq!(
      sp.totals.get("h|b0|"),
      None,
      "the old definition's totals went with it"
    );
    assert_eq!(sp.totals["h|b1|"], 1.0);
    // p1 comes back: it was seen dead, so it must resend everything (and is then refused).
    assert_eq!(
      status(&m.apply(&keys("p1"), &call("p1", "E", old, "h|b0|"), 1600.0)),
      "lost"
    );
  }
}

#[cfg(test)]
mod kept_view {
  //! The holder's scrape from the aggregation kept between scrapes (`model/view.rs`) against a
  //! new aggregation of the same model, after every step of random applies.
  use super::tests::{keys, s};
  use super::*;
  use crate::backend::flusher::{encode_families, RenderOpts};

  const META: [(&str, &str); 8] = [
    (
      "c_total",
      r#"{"v":1,"type":"counter","help":"C.","labelNames":["k"],"aggregator":"sum"}"#,
    ),
    (
      "h",
      r#"{"v":1,"type":"histogram","help":"H.","labelNames":["k"],"buckets":[1,2],"aggregator":"sum"}"#,
    ),
    (
      "g",
      r#"{"v":1,"type":"gauge","help":"G.","labelNames":["k"],"aggregator":"sum"}"#,
    ),
    (
      "p",
      r#"{"v":1,"type":"gauge","help":"P.","labelNames":[],"aggregator":"perProcess"}"#,
    ),
    (
      "s",
      r#"{"v":1,"type":"summary","help":"S.","labelNames":[],"quantiles":[0.5],"aggregator":"sum"}"#,
    ),
    (
      "x",
      r#"{"v":1,"type":"counter","help":"X.","labelNames":[],"aggregator":"sum"}"#,
    ),
    (
      "x_total",
      r#"{"v":1,"type":"gauge","help":"Y.","labelNames":[],"aggregator":"sum"}"#,
    ),
    (
      "h",
      r#"{"v":1,"type":"histogram","help":"H.","labelNames":["k"],"buckets":[1,2,5],"aggregator":"sum"}"#,
    ),
  ];

  /// xorshift64: the same steps every run.
  struct Rng(u64);
  impl Rng {
    fn below(&mut self, n: u64) -> u64 {
      self.0 ^= self.0 << 13;
      self.0 ^= self.0 >> 7;
      self.0 ^= self.0 << 17;
      self.0 % n
    }
  }

  #[test]
  fn the_kept_aggregation_renders_the_bytes_of_a_new_one_after_every_apply() {
    let mut m = Model::default();
    let base = "promsd:{t}:";
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut cum: HashMap<(usize, String), f64> = HashMap::new();
    let opts =
      [(false, false), (true, false), (false, true)].map(|(open_metrics, protobuf)| RenderOpts {
        open_metrics,
        default_labels: vec![("env".into(), "t".into())],
        protobuf,
      });
    let mut kept = 0;
    for step in 0..400 {
      let pid = rng.below(3) as usize;
      let id = format!("p{pid}");
      let mut counters: Vec<(String, String)> = Vec::new();
      let mut gauges: Vec<(String, String)> = Vec::new();
      let mut metas: Vec<(&str, &str)> = Vec::new();
      if step < 3 {
        metas.extend(META[..7].iter().copied());
      } else if step == 200 {
        metas.push(META[7]); // h's buckets change: p0 alone holds it by then?
      }
      for _ in 0..rng.below(4) {
        let k = rng.below(if step < 100 { 50 } else { 60 });
        let f = match rng.below(9) {
          0 => format!("c_total||{k}"),
          1 => format!("h|b{}|{k}", rng.below(4)),
          2 => format!("h|sum|{k}"),
          3 => format!("s|p{}|", rng.below(5)),
          4 => "s|count|".into(),
          5 => "x||".into(),
          6 => format!("c_total||{k}\nextra"), // a label count c_total has no place for
          7 => format!("c_total|junk|{k}"),
          _ => format!("nodef||{k}"),
        };
        let c = cum.entry((pid, f.clone())).or_default();
        *c += (1 + rng.below(5)) as f64;
        counters.push((f, field::value(*c)));
      }
      for _ in 0..rng.below(3) {
        let f = match rng.below(3) {
          0 => format!("g||{}", rng.below(5)),
          1 => "p||".into(),
          _ => "x_total||".into(),
        };
        gauges.push((f, rng.below(100).to_string()));
      }
      let mut argv = s(&[&id, "", "E", "n", "100000", "100000"]);
      argv.push(format!(r#"{{"label":"host:{pid}","started":{pid}}}"#));
      for n in [counters.len(), gauges.len(), 0, metas.len()] {
        argv.push(n.to_string());
      }
      for (f, v) in counters.into_iter().chain(gauges) {
        argv.extend([f, v]);
      }
      for (n, j) in metas {
        argv.extend([n.to_owned(), j.to_owned()]);
      }
      // The model's own clock: a process not heard from for 100 s expires (none here).
      m.apply(&keys(&id), &argv, now_ms());
      if step % 3 == 0 {
        m.prepare(base);
        kept += 1;
      }
      for o in &opts {
        let want = encode_families(m.aggregate(base), o, Vec::new());
        m.prepare(base);
        let got = m.render(base, o, &[]).expect("prepared");
        assert_eq!(
          String::from_utf8_lossy(&got),
          String::from_utf8_lossy(&want),
          "step {step}"
        );
      }
    }
    assert!(kept > 100);
    let text = String::from_utf8(m.render(base, &opts[0], &[]).unwrap()).unwrap();
    for shown in [
      "c_total{k=\"",
      "h_bucket{le=\"+Inf\",env=\"t\",k=\"",
      "g{k=\"",
      "p{process=\"host:1\"",
      "s{quantile=\"0.5\"",
      "# TYPE x counter\n",
    ] {
      assert!(text.contains(shown), "{shown} in\n{text}");
    }
    // The gauge whose name clashes with counter x's is left out, as a new aggregation does.
    assert!(!text.contains("# TYPE x_total gauge"), "{text}");
    assert!(!text.contains("nodef") && !text.contains("extra"));
  }

  #[test]
  fn an_apply_writes_a_series_in_place_a_new_one_in_order_and_a_new_definition_drops_the_whole() {
    let mut m = Model::default();
    let base = "promsd:{t}:";
    let call = |cum: &str, f: &str, meta: Option<(&str, &str)>| {
      let mut a = s(&["p1", "", "E", "n", "100000", "100000", "{}", "1", "0", "0"]);
      a.push(if meta.is_some() { "1" } else { "0" }.into());
      a.extend([f.to_owned(), cum.to_owned()]);
      if let Some((n, j)) = meta {
        a.extend(s(&[n, j]));
      }
      a
    };
    m.apply(
      &keys("p1"),
      &call("5", "c_total||b", Some(META[0])),
      now_ms(),
    );
    m.prepare(base);
    let kept = |m: &Model| m.spaces[base].view.is_some();
    m.apply(&keys("p1"), &call("7", "c_total||b", None), now_ms());
    m.apply(&keys("p1"), &call("1", "c_total||a", None), now_ms());
    m.apply(&keys("p1"), &call("2", "c_total||c", None), now_ms());
    assert!(kept(&m), "series, new or not, are written into it");
    let opts = RenderOpts {
      open_metrics: false,
      default_labels: vec![],
      protobuf: false,
    };
    assert_eq!(
      String::from_utf8(m.render(base, &opts, &[]).unwrap()).unwrap(),
      "# HELP c_total C.\n# TYPE c_total counter\nc_total{k=\"a\"} 1\nc_total{k=\"b\"} 7\nc_total{k=\"c\"} 2\n"
    );
    m.apply(&keys("p1"), &call("1", "x||", Some(META[5])), now_ms());
    assert!(!kept(&m), "a new definition drops it");
    assert_eq!(m.render(base, &opts, &[]), None);
    m.prepare(base);
    assert!(String::from_utf8(m.render(base, &opts, &[]).unwrap())
      .unwrap()
      .ends_with("c_total{k=\"c\"} 2\n\n# HELP x X.\n# TYPE x counter\nx 1\n"));
  }
}

#[cfg(test)]
mod read_vectors {
  //! The read side of the shared protocol vectors (`test/fixtures/read-vectors.json`, run on a
  //! real redis-server by `test/read-vectors.test.ts`), answered by the model.
  use super::*;
  use crate::backend::flusher::{render_bytes, RenderOpts};
  use crate::backend::reader::{Reader, Reply, Version};
  use serde_json::Value;

  fn reply(r: Resp) -> Reply {
    match r {
      Resp::Bulk(s) => Reply::Bulk(s),
      Resp::Int(i) => Reply::Int(i),
      Resp::Array(a) => Reply::Array(a.into_iter().map(reply).collect()),
      Resp::Simple(s) => Reply::Bulk(s.into()),
      Resp::Error(e) => Reply::Error(e),
    }
  }

  fn strings(v: &Value) -> HashMap<String, String> {
    v.as_object()
      .expect("an object")
      .iter()
      .map(|(k, v)| (k.clone(), v.as_str().expect("a string").to_owned()))
      .collect()
  }

  fn store(m: &mut Model, prefix: &str, stored: &Value) {
    let sp = m.spaces.entry(format!("promsd:{{{prefix}}}:")).or_default();
    sp.meta = strings(&stored["meta"]);
    sp.totals = strings(&stored["c"])
      .into_iter()
      .map(|(k, v)| (k, field::parse(&v).unwrap_or(f64::NAN)))
      .collect();
    for (id, p) in stored["procs"].as_object().expect("procs") {
      let expires = if p["live"].as_bool() == Some(true) {
        9_999_999_999_999.0
      } else {
        1.0
      };
      sp.procs.insert(id.clone(), expires);
      sp.gauges.insert(
        id.clone(),
        Expiring {
          fields: strings(&p["g"]),
          expires,
        },
      );
    }
  }

  fn read(m: &mut Model, prefix: &str, version: Version) -> Vec<u8> {
    let mut r = Reader::with_version(&format!("promsd:{{{prefix}}}:"), version);
    loop {
      let replies = r.commands().iter().map(|c| reply(m.command(c))).collect();
      if r.feed(replies).expect("a well-formed read") {
        break;
      }
    }
    render_bytes(
      &r.finish(),
      &RenderOpts {
        open_metrics: false,
        default_labels: vec![],
        protobuf: false,
      },
      Vec::new(),
    )
  }

  #[test]
  fn the_model_renders_every_read_vector_through_both_read_protocols() {
    let file: Value =
      serde_json::from_str(include_str!("../../../test/fixtures/read-vectors.json")).expect("JSON");
    let cases = file["read"].as_array().expect("read cases");
    assert!(cases.len() >= 6);
    let mut m = Model::default();
    for (i, case) in cases.iter().enumerate() {
      let prefix = format!("rv{i}");
      store(&mut m, &prefix, &case["stored"]);
      let want = case["expect"]["text"].as_str().expect("text");
      for v in [Version::V1, Version::V2] {
        let got = String::from_utf8(read(&mut m, &prefix, v)).expect("UTF-8");
        assert_eq!(got, want, "{} ({v:?})", case["name"]);
      }
      // The holder's direct read: the same data as the v2 reader's, so the same bytes.
      let base = format!("promsd:{{{prefix}}}:");
      let mut direct = m.read_data(&base);
      let mut r = Reader::new(&base);
      loop {
        let replies = r.commands().iter().map(|c| reply(m.command(c))).collect();
        if r.feed(replies).expect("a well-formed read") {
          break;
        }
      }
      let mut via = r.finish();
      (direct.now_ms, via.now_ms) = (0.0, 0.0);
      let bits = |d: &mut crate::backend::reader::ReadData| {
        d.meta.sort();
        d.totals.sort_by(|a, b| a.0.cmp(&b.0));
        d.procs.sort();
        for p in &mut d.procs {
          p.1.sort();
        }
        d.totals
          .iter()
          .map(|(k, v)| (k.clone(), v.to_bits()))
          .collect::<Vec<_>>()
      };
      assert_eq!(bits(&mut direct), bits(&mut via), "{}", case["name"]);
      (direct.totals, via.totals) = (vec![], vec![]);
      assert_eq!(direct, via, "{}", case["name"]);
      let opts = RenderOpts {
        open_metrics: false,
        default_labels: vec![],
        protobuf: false,
      };
      let got = render_bytes(&m.read_data(&base), &opts, Vec::new());
      assert_eq!(
        String::from_utf8(got).expect("UTF-8"),
        want,
        "{} (direct)",
        case["name"]
      );
      let got = super::super::flusher::encode_families(m.aggregate(&base), &opts, Vec::new());
      assert_eq!(
        String::from_utf8(got).expect("UTF-8"),
        want,
        "{} (aggregated in place)",
        case["name"]
      );
    }
  }
}
