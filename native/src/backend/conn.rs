//! The Redis connection of one backend: a single node or a cluster, with timeouts, and the two
//! scripts (EVALSHA, loaded again after `NOSCRIPT`, e.g. when Redis restarted).

use std::sync::OnceLock;
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
  /// PEM of the CA that signed the servers' certificates (`rediss://`), instead of the system's.
  pub tls_ca: Option<Vec<u8>>,
}

fn certs(ca: &[u8]) -> redis::TlsCertificates {
  redis::TlsCertificates {
    client_tls: None,
    root_cert: Some(ca.to_vec()),
  }
}

/// An open connection.
pub enum Conn {
  /// One node.
  Single(redis::Connection),
  /// Redis Cluster.
  Cluster(Box<redis::cluster::ClusterConnection>),
  /// The one-host aggregator this process holds, in-process (`embedded::LocalConn`).
  #[cfg(unix)]
  Local(Box<super::embedded::LocalConn>),
}

impl Conn {
  /// Connects.
  pub fn open(t: &Target) -> redis::RedisResult<Conn> {
    #[cfg(unix)]
    if let Some(l) = t.urls.first().and_then(|u| super::embedded::local(u)) {
      return Ok(Conn::Local(Box::new(l)));
    }
    if t.cluster {
      let mut b = redis::cluster::ClusterClient::builder(t.urls.clone())
        .connection_timeout(t.timeout)
        .response_timeout(t.timeout);
      if let Some(ca) = &t.tls_ca {
        b = b.certs(certs(ca));
      }
      let c = b.build()?;
      let conn = c.get_connection()?;
      conn.set_read_timeout(Some(t.timeout))?;
      conn.set_write_timeout(Some(t.timeout))?;
      Ok(Conn::Cluster(Box::new(conn)))
    } else {
      let url = t
        .urls
        .first()
        .map_or("redis://127.0.0.1:6379", String::as_str);
      let c = match &t.tls_ca {
        Some(ca) => redis::Client::build_with_tls(url, certs(ca))?,
        None => redis::Client::open(url)?,
      };
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
      #[cfg(unix)]
      Conn::Local(c) => c.as_mut(),
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

/// The two scripts, hashed once.
fn scripts() -> &'static (Script, Script) {
  static S: OnceLock<(Script, Script)> = OnceLock::new();
  S.get_or_init(|| (Script::new(APPLY_LUA), Script::new(READ_LUA)))
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
  let mut inv = scripts().0.prepare_invoke();
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

fn into_string(v: Value) -> String {
  match v {
    Value::BulkString(b) => {
      String::from_utf8(b).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }
    other => bulk(&other),
  }
}

/// A flat HGETALL reply as pairs, moving the bytes rather than copying them.
fn pairs(v: Value) -> Vec<(String, String)> {
  match v {
    Value::Array(items) => {
      let mut out = Vec::with_capacity(items.len() / 2);
      let mut it = items.into_iter();
      while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((into_string(k), into_string(v)));
      }
      out
    }
    Value::Map(m) => m
      .into_iter()
      .map(|(k, v)| (into_string(k), into_string(v)))
      .collect(),
    _ => Vec::new(),
  }
}

/// Runs the read script.
pub fn read(conn: &mut Conn, keys: &Keys) -> redis::RedisResult<ReadData> {
  let reply: Vec<Value> = scripts()
    .1
    .key(keys.key("meta"))
    .key(keys.key("c"))
    .key(keys.key("procs"))
    .arg(keys.key("g:"))
    .invoke(conn.like())?;
  let mut it = reply.into_iter();
  let now_ms = match it.next() {
    Some(Value::Int(i)) => i as f64,
    _ => 0.0,
  };
  let meta = it.next().map(pairs).unwrap_or_default();
  let totals = it.next().map(pairs).unwrap_or_default();
  let mut procs = Vec::new();
  while let (Some(id), Some(h)) = (it.next(), it.next()) {
    procs.push((into_string(id), pairs(h)));
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
