//! The one-host aggregator's model: the two scripts (`apply.lua`, `read.lua`, protocol §7–§8)
//! and the few other commands the flusher sends, executed on an in-memory copy of the keys of
//! protocol §3. `embedded.rs` serves it on a Unix socket.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::field;
use super::{APPLY_LUA, READ_LUA};

mod persist;

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
}

impl Space {
  fn expire(&mut self, now: f64) {
    self.procs.retain(|_, exp| *exp > now);
    self.applied.retain(|_, e| e.expires > now);
    self.gauges.retain(|_, e| e.expires > now);
  }
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
    let reply = |status: &str| {
      Resp::Array(vec![
        Resp::Bulk(status.into()),
        Resp::Bulk(epoch.clone()),
        Resp::Int(now as i64),
      ])
    };
    if !known.is_empty() && *known != epoch {
      return reply("epoch");
    }
    let has_marker = sp
      .applied
      .get(id)
      .is_some_and(|a| a.fields.contains_key("@"));
    if !known.is_empty() && mode != "s" && !has_marker {
      return reply("lost");
    }
    let step = if mode == "s" { 3 } else { 2 };
    let need = 11 + counts[0] * step + counts[1] * 2 + counts[2] + counts[3] * 2;
    if argv.len() < need {
      return Resp::Error("ERR apply call with too few items".into());
    }
    let applied = sp.applied.entry(id.clone()).or_insert_with(|| Expiring {
      fields: HashMap::new(),
      expires: 0.0,
    });
    let mut i = 11;
    for _ in 0..counts[0] {
      let (f, cum) = (&argv[i], &argv[i + 1]);
      let last = if mode == "s" {
        num(&argv[i + 2])
      } else {
        applied.fields.get(f).map_or(0.0, |s| num(s))
      };
      let d = num(cum) - last;
      if d != 0.0 && d.is_finite() {
        *sp.totals.entry(f.clone()).or_default() += d;
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
    for _ in 0..counts[1] {
      gauges
        .fields
        .insert(argv[i].clone(), format!("{} {now}", argv[i + 1]));
      i += 2;
    }
    for _ in 0..counts[2] {
      gauges.fields.remove(&argv[i]);
      i += 1;
    }
    for _ in 0..counts[3] {
      sp.meta.insert(argv[i].clone(), argv[i + 1].clone());
      i += 2;
    }
    gauges.fields.insert("@".into(), argv[6].clone());
    gauges.expires = now + live;
    sp.procs.insert(id.clone(), now + live);
    reply("ok")
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

  /// `ZREM procs id` / `DEL g:<id>` of a closing process.
  fn goodbye(&mut self, cmd: &str, args: &[String]) -> Resp {
    match cmd {
      "ZREM" if args.len() == 2 => {
        if let Some(sp) = base(&args[0], "procs").and_then(|b| self.spaces.get_mut(&b)) {
          sp.procs.remove(&args[1]);
        }
      }
      "DEL" if !args.is_empty() => {
        let Some((b, id)) = args[0].rsplit_once(":g:") else {
          return Resp::Int(0);
        };
        if let Some(sp) = self.spaces.get_mut(&format!("{b}:")) {
          sp.gauges.remove(id);
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
    static SHAS: OnceLock<[String; 2]> = OnceLock::new();
    let shas = SHAS
      .get_or_init(|| [APPLY_LUA, READ_LUA].map(|l| redis::Script::new(l).get_hash().to_owned()));
    let script = |s: &str| -> Option<&'static str> {
      [APPLY_LUA, READ_LUA]
        .into_iter()
        .zip(shas)
        .find(|(l, sha)| s == *l || s == sha.as_str())
        .map(|(l, _)| l)
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
        if which == APPLY_LUA {
          if keys.len() != 6 {
            return Resp::Error("ERR apply takes 6 keys".into());
          }
          self.apply(keys, argv, now)
        } else {
          self.read(keys, now)
        }
      }
      "SCRIPT" if args.len() == 3 && args[1].eq_ignore_ascii_case("LOAD") => match script(&args[2])
      {
        Some(l) => Resp::Bulk(shas[usize::from(l == READ_LUA)].clone()),
        None => Resp::Error("ERR only promsd's scripts run here".into()),
      },
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

  fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
  }

  fn keys(id: &str) -> Vec<String> {
    ["epoch", "c", "meta", "procs"]
      .iter()
      .map(|k| format!("promsd:{{t}}:{k}"))
      .chain([
        format!("promsd:{{t}}:a:{id}"),
        format!("promsd:{{t}}:g:{id}"),
      ])
      .collect()
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
}
