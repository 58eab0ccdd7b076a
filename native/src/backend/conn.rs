//! The Redis connection of one backend: a single node or a cluster, with timeouts, and the two
//! scripts (EVALSHA, loaded again after `NOSCRIPT`, e.g. when Redis restarted); reads run
//! [`super::reader`] over it.

use std::sync::OnceLock;
use std::time::Duration;

use redis::{ConnectionLike, Script, Value};

use super::writer::{Chunk, Status};
use super::APPLY_LUA;

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
}

impl Conn {
  /// Connects.
  pub fn open(t: &Target) -> redis::RedisResult<Conn> {
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

/// The apply script, hashed once.
fn apply_script() -> &'static Script {
  static S: OnceLock<Script> = OnceLock::new();
  S.get_or_init(|| Script::new(APPLY_LUA))
}

/// SHA1 of the apply script (what EVALSHA names).
pub fn apply_sha() -> &'static str {
  apply_script().get_hash()
}

/// SHA1 of the v1 read script.
pub fn read_sha() -> &'static str {
  super::reader::read_sha()
}

fn bulk(v: &Value) -> String {
  match v {
    Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
    Value::SimpleString(s) => s.clone(),
    Value::Int(i) => i.to_string(),
    _ => String::new(),
  }
}

/// The six keys of an apply call (protocol §7 step 2).
pub fn apply_keys(keys: &Keys, id: &str) -> [String; 6] {
  [
    keys.key("epoch"),
    keys.key("c"),
    keys.key("meta"),
    keys.key("procs"),
    keys.key(&format!("a:{id}")),
    keys.key(&format!("g:{id}")),
  ]
}

/// The ARGV of an apply call for one chunk (protocol §7 step 2): the eleven header values, then
/// the items.
pub fn apply_argv(a: &ApplyArgs, chunk: &Chunk) -> Vec<String> {
  let step = if a.seed { 3 } else { 2 };
  let mut argv = Vec::with_capacity(
    11 + chunk.counters.len() * step
      + chunk.gauges.len() * 2
      + chunk.deletes.len()
      + chunk.metas.len() * 2,
  );
  argv.extend([
    a.id.to_owned(),
    a.epoch.to_owned(),
    a.candidate.to_owned(),
    if a.seed { "s" } else { "n" }.to_owned(),
    a.live_ms.to_string(),
    a.retain_ms.to_string(),
    a.info.to_owned(),
    chunk.counters.len().to_string(),
    chunk.gauges.len().to_string(),
    chunk.deletes.len().to_string(),
    chunk.metas.len().to_string(),
  ]);
  for it in &chunk.counters {
    argv.push(it.field.clone());
    argv.push(super::field::value(it.cum));
    if a.seed {
      argv.push(super::field::value(it.acked));
    }
  }
  for (f, v) in &chunk.gauges {
    argv.push(f.clone());
    argv.push(super::field::value(*v));
  }
  argv.extend(chunk.deletes.iter().cloned());
  for (n, j) in &chunk.metas {
    argv.push(n.clone());
    argv.push(j.clone());
  }
  argv
}

/// The status of an apply reply's first element (`ok`, `epoch`, `lost`), or `None`.
pub fn apply_status(s: &str) -> Option<Status> {
  match s {
    "ok" => Some(Status::Ok),
    "epoch" => Some(Status::Epoch),
    "lost" => Some(Status::Lost),
    _ => None,
  }
}

/// Applies one chunk (protocol §7 step 2); returns the status and the epoch.
pub fn apply(
  conn: &mut Conn,
  keys: &Keys,
  a: &ApplyArgs,
  chunk: &Chunk,
) -> redis::RedisResult<(Status, String)> {
  let mut inv = apply_script().prepare_invoke();
  for k in apply_keys(keys, a.id) {
    inv.key(k);
  }
  for arg in apply_argv(a, chunk) {
    inv.arg(arg);
  }
  let reply: Vec<Value> = inv.invoke(conn.like())?;
  let first = reply.first().map(bulk);
  let Some(status) = first.as_deref().and_then(apply_status) else {
    return Err(redis::RedisError::from((
      redis::ErrorKind::Parse,
      "unexpected reply of the apply script",
      format!("{first:?}"),
    )));
  };
  Ok((status, reply.get(1).map(bulk).unwrap_or_default()))
}

pub use super::reader::ReadData;
use super::reader::{Reader, Reply, Version};

fn into_string(v: Value) -> String {
  match v {
    Value::BulkString(b) => {
      String::from_utf8(b).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }
    other => bulk(&other),
  }
}

/// A redis-rs value as the reader takes it, moving the bytes rather than copying them.
fn reply(v: Value) -> Reply {
  match v {
    Value::Nil => Reply::Nil,
    Value::Int(i) => Reply::Int(i),
    Value::BulkString(_) | Value::SimpleString(_) | Value::Okay => Reply::Bulk(into_string(v)),
    Value::Array(items) | Value::Set(items) => Reply::Array(items.into_iter().map(reply).collect()),
    Value::Map(m) => Reply::Array(
      m.into_iter()
        .flat_map(|(k, v)| [reply(k), reply(v)])
        .collect(),
    ),
    Value::ServerError(e) => Reply::Error(match e.details() {
      Some(d) => format!("{} {d}", e.code()),
      None => e.code().to_owned(),
    }),
    other => Reply::Bulk(bulk(&other)),
  }
}

/// Reads the prefix's aggregate (protocol §8) in protocol v2.
pub fn read(conn: &mut Conn, keys: &Keys) -> redis::RedisResult<ReadData> {
  read_version(conn, keys, Version::V2)
}

/// Reads the prefix's aggregate in the given protocol version: runs [`Reader`] over the
/// connection, one pipeline per round.
pub fn read_version(
  conn: &mut Conn,
  keys: &Keys,
  version: Version,
) -> redis::RedisResult<ReadData> {
  read_with(keys, version, |cmds| round(conn, cmds))
}

/// Runs [`Reader`] with `round` as the transport: each round's commands in, their replies out.
pub fn read_with(
  keys: &Keys,
  version: Version,
  mut round: impl FnMut(&[Vec<String>]) -> redis::RedisResult<Vec<Reply>>,
) -> redis::RedisResult<ReadData> {
  let mut r = Reader::with_version(&keys.base, version);
  loop {
    let replies = round(&r.commands())?;
    let done = r
      .feed(replies)
      .map_err(|e| redis::RedisError::from((redis::ErrorKind::Parse, "read", e.0)))?;
    if done {
      return Ok(r.finish());
    }
  }
}

/// A connection of a reader's own (the sidecar's): the lean RESP connection of
/// [`super::resp`] for a plain single node, else redis-rs.
pub enum ReadConn {
  /// Plain TCP or a Unix socket, one node.
  Raw(super::resp::RawConn),
  /// TLS or a cluster.
  Rs(Conn),
}

impl ReadConn {
  /// Connects (and authenticates).
  pub fn open(t: &Target) -> redis::RedisResult<ReadConn> {
    if !t.cluster && t.urls.len() <= 1 && t.tls_ca.is_none() {
      let url = t
        .urls
        .first()
        .map_or("redis://127.0.0.1:6379", String::as_str);
      if let Some(raw) = super::resp::RawConn::open(url, t.timeout)? {
        return Ok(ReadConn::Raw(raw));
      }
    }
    Ok(ReadConn::Rs(Conn::open(t)?))
  }

  /// Reads a prefix's aggregate.
  pub fn read(&mut self, keys: &Keys, version: Version) -> redis::RedisResult<ReadData> {
    match self {
      ReadConn::Raw(raw) => read_with(keys, version, |cmds| Ok(raw.round(cmds)?)),
      ReadConn::Rs(c) => read_version(c, keys, version),
    }
  }
}

fn command(argv: &[String]) -> redis::Cmd {
  let mut c = redis::cmd(&argv[0]);
  for a in &argv[1..] {
    c.arg(a);
  }
  c
}

/// One round of the reader: one pipeline on a single node, error replies kept as replies. A
/// cluster pipelines only the `HGETALL`s (redis-rs routes no `EVALSHA` in a cluster pipeline);
/// the script goes alone, its error reply kept as one too.
fn round(conn: &mut Conn, cmds: &[Vec<String>]) -> redis::RedisResult<Vec<Reply>> {
  match conn {
    Conn::Single(c) => {
      let mut p = redis::pipe();
      p.ignore_errors();
      for argv in cmds {
        p.add_command(command(argv));
      }
      let replies: Vec<Value> = p.query(c)?;
      Ok(replies.into_iter().map(reply).collect())
    }
    Conn::Cluster(c) => {
      let mut out = Vec::with_capacity(cmds.len());
      let (scripts, hashes): (Vec<_>, Vec<_>) = cmds.iter().partition(|a| a[0] != "HGETALL");
      // The reader puts the script first, then the HGETALLs: the order is kept.
      for argv in scripts {
        match command(argv).query::<Value>(c.as_mut()) {
          Ok(v) => out.push(reply(v)),
          Err(e) if e.code().is_some() => out.push(Reply::Error(match e.detail() {
            Some(d) => format!("{} {d}", e.code().unwrap_or_default()),
            None => e.code().unwrap_or_default().to_owned(),
          })),
          Err(e) => return Err(e),
        }
      }
      if !hashes.is_empty() {
        let mut p = redis::cluster::cluster_pipe();
        for argv in hashes {
          p.add_command(command(argv));
        }
        let replies: Vec<Value> = p.query(c)?;
        out.extend(replies.into_iter().map(reply));
      }
      Ok(out)
    }
  }
}

/// The commands of `close()` (name, then arguments): the process's heartbeat and gauges vanish
/// at once (protocol §7 step 4).
pub fn goodbye_commands(keys: &Keys, id: &str) -> [Vec<String>; 2] {
  [
    vec!["ZREM".into(), keys.key("procs"), id.to_owned()],
    vec!["DEL".into(), keys.key(&format!("g:{id}"))],
  ]
}

/// `close()`: the process's gauges vanish at once (protocol §7 step 4).
pub fn goodbye(conn: &mut Conn, keys: &Keys, id: &str) -> redis::RedisResult<()> {
  for argv in goodbye_commands(keys, id) {
    let mut cmd = redis::cmd(&argv[0]);
    for a in &argv[1..] {
      cmd.arg(a);
    }
    conn.query::<()>(&cmd)?;
  }
  Ok(())
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::backend::snapshot::{SeriesSnap, Snapshot};
  use crate::backend::writer::Writer;

  fn snap(c: f64, gauges: &[(&str, f64)]) -> Snapshot {
    Snapshot {
      metas: vec![("c".into(), "{}".into())],
      series: vec![SeriesSnap {
        name: "c".into(),
        labels: "x".into(),
        count: c,
        counters: vec![(String::new(), c)],
        gauges: gauges.iter().map(|&(p, v)| (p.to_owned(), v)).collect(),
      }],
    }
  }

  #[test]
  fn apply_calls_are_laid_out_as_the_protocol_says() {
    let keys = Keys::new("p");
    assert_eq!(
      apply_keys(&keys, "id1"),
      [
        "promsd:{p}:epoch",
        "promsd:{p}:c",
        "promsd:{p}:meta",
        "promsd:{p}:procs",
        "promsd:{p}:a:id1",
        "promsd:{p}:g:id1"
      ]
    );
    let a = |seed| ApplyArgs {
      id: "id1",
      epoch: "E",
      candidate: "F",
      seed,
      live_ms: 15000,
      retain_ms: 3_600_000,
      info: "{\"v\":1}",
    };
    let mut w = Writer::new();
    w.update(snap(5.5, &[("a", 1.0), ("b", 2.0)]));
    let b = w.batch();
    let ok: Vec<_> = b.chunks.iter().map(|_| (Status::Ok, "E".into())).collect();
    w.on_replies(&b, &ok);
    w.update(snap(8.0, &[("a", f64::NEG_INFINITY)]));
    let chunk = &w.batch().chunks[0];
    let head = [
      "id1",
      "E",
      "F",
      "n",
      "15000",
      "3600000",
      "{\"v\":1}",
      "1",
      "1",
      "1",
      "0",
    ];
    let items = ["c||x", "8", "c|a|x", "-Inf", "c|b|x"];
    assert_eq!(
      apply_argv(&a(false), chunk),
      [&head[..], &items[..]].concat()
    );
    // Lost: seed mode, every counter item with its acknowledged value, gauges and metadata again.
    let b = w.batch();
    w.on_replies(&b, &[(Status::Lost, "E".into())]);
    let chunk = &w.batch().chunks[0];
    let head = [
      "id1",
      "E",
      "F",
      "s",
      "15000",
      "3600000",
      "{\"v\":1}",
      "1",
      "1",
      "0",
      "1",
    ];
    let items = ["c||x", "8", "5.5", "c|a|x", "-Inf", "c", "{}"];
    assert_eq!(
      apply_argv(&a(true), chunk),
      [&head[..], &items[..]].concat()
    );
    assert_eq!(apply_status("lost"), Some(Status::Lost));
    assert_eq!(apply_status("OK"), None);
    assert_eq!(
      goodbye_commands(&keys, "id1"),
      [
        vec!["ZREM", "promsd:{p}:procs", "id1"],
        vec!["DEL", "promsd:{p}:g:id1"]
      ]
    );
  }
}
