//! The Redis connection of one backend: a single node or a cluster, with timeouts, and the two
//! scripts (EVALSHA, loaded again after `NOSCRIPT`, e.g. when Redis restarted).

use std::time::Duration;

use redis::{ConnectionLike, Script, Value};

use super::writer::{Chunk, Status};
use super::{APPLY_LUA, READ_LUA};

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct Target {
  /// `redis://[user:pass@]host:port[/db]` (or `rediss://` when built with TLS); several for a
  /// cluster.
  pub urls: Vec<String>,
  /// Redis Cluster.
  pub cluster: bool,
  /// Connect and per-command timeout.
  pub timeout: Duration,
}

/// An open connection.
pub enum Conn {
  /// One node.
  Single(redis::Connection),
  /// Redis Cluster.
  Cluster(Box<redis::cluster::ClusterConnection>),
}

impl Conn {
  /// Connects.
  pub fn open(t: &Target) -> redis::RedisResult<Conn> {
    if t.cluster {
      let c = redis::cluster::ClusterClient::builder(t.urls.clone())
        .connection_timeout(t.timeout)
        .response_timeout(t.timeout)
        .build()?;
      let conn = c.get_connection()?;
      conn.set_read_timeout(Some(t.timeout))?;
      conn.set_write_timeout(Some(t.timeout))?;
      Ok(Conn::Cluster(Box::new(conn)))
    } else {
      let url = t
        .urls
        .first()
        .map_or("redis://127.0.0.1:6379", String::as_str);
      let c = redis::Client::open(url)?;
      let conn = c.get_connection_with_timeout(t.timeout)?;
      conn.set_read_timeout(Some(t.timeout))?;
      conn.set_write_timeout(Some(t.timeout))?;
      Ok(Conn::Single(conn))
    }
  }

  fn like(&mut self) -> &mut dyn ConnectionLike {
    match self {
      Conn::Single(c) => c,
      Conn::Cluster(c) => c.as_mut(),
    }
  }

  /// Runs a raw command.
  pub fn query<T: redis::FromRedisValue>(&mut self, cmd: &redis::Cmd) -> redis::RedisResult<T> {
    cmd.query(self.like())
  }
}

/// Keys of a prefix (protocol §3).
#[derive(Debug, Clone)]
pub struct Keys {
  /// `promsd:{<prefix>}:`.
  pub base: String,
}

impl Keys {
  /// Keys of `prefix`.
  pub fn new(prefix: &str) -> Self {
    Keys {
      base: format!("promsd:{{{prefix}}}:"),
    }
  }

  /// One key.
  pub fn key(&self, suffix: &str) -> String {
    format!("{}{suffix}", self.base)
  }
}

/// What one apply call needs besides its items.
pub struct ApplyArgs<'a> {
  /// Process id.
  pub id: &'a str,
  /// Known epoch.
  pub epoch: &'a str,
  /// A fresh epoch candidate.
  pub candidate: &'a str,
  /// Seed mode.
  pub seed: bool,
  /// Heartbeat TTL.
  pub live_ms: u64,
  /// Bookkeeping retention.
  pub retain_ms: u64,
  /// Process info JSON.
  pub info: &'a str,
}

fn bulk(v: &Value) -> String {
  match v {
    Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
    Value::SimpleString(s) => s.clone(),
    Value::Int(i) => i.to_string(),
    _ => String::new(),
  }
}

/// Applies one chunk (protocol §7 step 2); returns the status and the epoch.
pub fn apply(
  conn: &mut Conn,
  keys: &Keys,
  a: &ApplyArgs,
  chunk: &Chunk,
) -> redis::RedisResult<(Status, String)> {
  let script = Script::new(APPLY_LUA);
  let mut inv = script.prepare_invoke();
  for k in ["epoch", "c", "meta", "procs"] {
    inv.key(keys.key(k));
  }
  inv.key(keys.key(&format!("a:{}", a.id)));
  inv.key(keys.key(&format!("g:{}", a.id)));
  inv
    .arg(a.id)
    .arg(a.epoch)
    .arg(a.candidate)
    .arg(if a.seed { "s" } else { "n" })
    .arg(a.live_ms)
    .arg(a.retain_ms)
    .arg(a.info)
    .arg(chunk.counters.len())
    .arg(chunk.gauges.len())
    .arg(chunk.deletes.len())
    .arg(chunk.metas.len());
  for it in &chunk.counters {
    inv.arg(&it.field).arg(super::field::value(it.cum));
    if a.seed {
      inv.arg(super::field::value(it.acked));
    }
  }
  for (f, v) in &chunk.gauges {
    inv.arg(f).arg(super::field::value(*v));
  }
  for f in &chunk.deletes {
    inv.arg(f);
  }
  for (n, j) in &chunk.metas {
    inv.arg(n).arg(j);
  }
  let reply: Vec<Value> = inv.invoke(conn.like())?;
  let status = match reply.first().map(bulk).as_deref() {
    Some("ok") => Status::Ok,
    Some("epoch") => Status::Epoch,
    Some("lost") => Status::Lost,
    other => {
      return Err(redis::RedisError::from((
        redis::ErrorKind::Parse,
        "unexpected reply of the apply script",
        format!("{other:?}"),
      )))
    }
  };
  Ok((status, reply.get(1).map(bulk).unwrap_or_default()))
}

/// What the read script returns (protocol §8), as strings.
#[derive(Debug, Default)]
pub struct ReadData {
  /// Server time, ms.
  pub now_ms: f64,
  /// Metric name → metadata JSON.
  pub meta: Vec<(String, String)>,
  /// Totals.
  pub totals: Vec<(String, String)>,
  /// Live processes: (id, their `g:` hash).
  pub procs: Vec<(String, Vec<(String, String)>)>,
}

fn pairs(v: &Value) -> Vec<(String, String)> {
  match v {
    Value::Array(items) => items
      .chunks_exact(2)
      .map(|p| (bulk(&p[0]), bulk(&p[1])))
      .collect(),
    Value::Map(m) => m.iter().map(|(k, v)| (bulk(k), bulk(v))).collect(),
    _ => Vec::new(),
  }
}

/// Runs the read script.
pub fn read(conn: &mut Conn, keys: &Keys) -> redis::RedisResult<ReadData> {
  let script = Script::new(READ_LUA);
  let reply: Vec<Value> = script
    .key(keys.key("meta"))
    .key(keys.key("c"))
    .key(keys.key("procs"))
    .arg(keys.key("g:"))
    .invoke(conn.like())?;
  let mut it = reply.iter();
  let now_ms = match it.next() {
    Some(Value::Int(i)) => *i as f64,
    _ => 0.0,
  };
  let meta = it.next().map(pairs).unwrap_or_default();
  let totals = it.next().map(pairs).unwrap_or_default();
  let mut procs = Vec::new();
  while let (Some(id), Some(h)) = (it.next(), it.next()) {
    procs.push((bulk(id), pairs(h)));
  }
  Ok(ReadData {
    now_ms,
    meta,
    totals,
    procs,
  })
}

/// `close()`: the process's gauges vanish at once (protocol §7 step 4).
pub fn goodbye(conn: &mut Conn, keys: &Keys, id: &str) -> redis::RedisResult<()> {
  conn.query::<()>(redis::cmd("ZREM").arg(keys.key("procs")).arg(id))?;
  conn.query::<()>(redis::cmd("DEL").arg(keys.key(&format!("g:{id}"))))
}
