//! The Redis connection of one backend: a single node or a cluster, with timeouts, and the two
//! scripts (EVALSHA, loaded again after `NOSCRIPT`, e.g. when Redis restarted); reads run
//! [`super::reader`] over it.

use std::sync::OnceLock;
use std::time::Duration;

use redis::{ConnectionLike, Script, Value};

use super::writer::{Chunk, Refusal, Status};
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

/// Why talking to Redis failed: what an operator must fix, one throttled storm and one
/// `promsd_backend_flush_errors_total{cause}` series each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cause {
  /// The host name does not resolve.
  Dns,
  /// Wrong or missing password, or an ACL refuses the user (`NOAUTH`, `WRONGPASS`, `NOPERM`).
  Auth,
  /// The TLS handshake failed (certificate, protocol).
  Tls,
  /// No answer within the timeout.
  Timeout,
  /// Nothing listens at the address.
  Refused,
  /// The connection was closed or reset.
  Closed,
  /// The URL does not parse (a configuration error).
  Config,
  /// Redis answered with another error (out of memory, a script error, ...).
  Server,
  /// Anything else.
  Other,
}

impl Cause {
  /// Every cause, in the order of [`Cause::as_str`]'s documentation.
  pub const ALL: [Cause; 9] = [
    Cause::Dns,
    Cause::Auth,
    Cause::Tls,
    Cause::Timeout,
    Cause::Refused,
    Cause::Closed,
    Cause::Config,
    Cause::Server,
    Cause::Other,
  ];

  /// `dns`, `auth`, `tls`, `timeout`, `refused`, `closed`, `config`, `server`, `other`: the
  /// word in log lines and the value of the `cause` label.
  pub fn as_str(self) -> &'static str {
    match self {
      Cause::Dns => "dns",
      Cause::Auth => "auth",
      Cause::Tls => "tls",
      Cause::Timeout => "timeout",
      Cause::Refused => "refused",
      Cause::Closed => "closed",
      Cause::Config => "config",
      Cause::Server => "server",
      Cause::Other => "other",
    }
  }

  /// What the cause means, for the log line.
  fn hint(self) -> &'static str {
    match self {
      Cause::Dns => "the host name does not resolve",
      Cause::Auth => {
        "authentication failed (wrong or missing password, or the ACL user may not do this)"
      }
      Cause::Tls => "the TLS handshake failed",
      Cause::Timeout => "no answer within the timeout",
      Cause::Refused => "connection refused (nothing listens there)",
      Cause::Closed => "the connection was closed",
      Cause::Config => "the URL is not valid",
      Cause::Server => "Redis answered with an error",
      Cause::Other => "unexpected error",
    }
  }
}

/// A failure to talk to Redis, with its cause named.
#[derive(Debug, Clone)]
pub struct Failure {
  /// What to fix.
  pub cause: Cause,
  /// `<cause>: <what it means> (<the library's words>)`.
  pub message: String,
}

impl std::fmt::Display for Failure {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.write_str(&self.message)
  }
}

/// Names the cause of a redis-rs error; `tls` when the target is `rediss://` (a handshake that
/// stalls is still reported as a timeout, since that is what the operator sees).
pub fn classify(e: &redis::RedisError, tls: bool) -> Cause {
  use redis::ErrorKind as K;
  if e.kind() == K::AuthenticationFailed {
    return Cause::Auth;
  }
  if e.kind() == K::InvalidClientConfig {
    return Cause::Config;
  }
  if e.is_timeout() {
    return Cause::Timeout;
  }
  let text = e.to_string();
  let by_text = classify_text(e.code(), &text, tls);
  if by_text != Cause::Other {
    return by_text;
  }
  if e.is_connection_refusal() {
    return Cause::Refused;
  }
  if e.is_connection_dropped() {
    return Cause::Closed;
  }
  if matches!(e.kind(), K::Server(_) | K::Extension) {
    return Cause::Server;
  }
  Cause::Other
}

/// The cause a failure's words name: the rule for every client's errors, redis-rs's (through
/// [`classify`]) and Node's (the ioredis twin's `code` and `message`, e.g. `ENOTFOUND`,
/// `ECONNREFUSED`, `WRONGPASS …`). `code` is the Redis error code or Node's error code.
pub fn classify_text(code: Option<&str>, text: &str, tls: bool) -> Cause {
  let text = text.to_ascii_lowercase();
  let code = code.map(str::to_ascii_uppercase);
  let first = text.split_whitespace().next().unwrap_or("");
  if matches!(code.as_deref(), Some("NOAUTH" | "WRONGPASS" | "NOPERM"))
    || matches!(first, "noauth" | "wrongpass" | "noperm")
  {
    return Cause::Auth;
  }
  if text.contains("timed out")
    || text.contains("etimedout")
    || code.as_deref() == Some("ETIMEDOUT")
  {
    return Cause::Timeout;
  }
  // A Unix socket path with nothing bound (the one-host aggregator's holder is gone) is a refusal
  // too, not a closed connection.
  if text.contains("connection refused")
    || text.contains("econnrefused")
    || text.contains("no such file or directory")
    || text.contains("entity not found")
    || text.contains("enoent")
  {
    return Cause::Refused;
  }
  if text.contains("lookup address")
    || text.contains("name or service not known")
    || text.contains("no such host")
    || text.contains("enotfound")
    || text.contains("eai_again")
  {
    return Cause::Dns;
  }
  if tls
    && (text.contains("certificate")
      || text.contains("tls")
      || text.contains("ssl")
      || text.contains("handshake")
      || text.contains("alert"))
  {
    return Cause::Tls;
  }
  if text.contains("closed")
    || text.contains("broken pipe")
    || text.contains("reset by peer")
    || text.contains("econnreset")
    || text.contains("epipe")
  {
    return Cause::Closed;
  }
  if code.is_some_and(|c| !c.starts_with('E') || c == "ERR" || c == "EXECABORT") {
    return Cause::Server;
  }
  Cause::Other
}

/// `<cause>: <what it means> (<detail>)`, the words of every [`Failure`].
pub fn describe(cause: Cause, detail: &str) -> String {
  format!("{}: {} ({detail})", cause.as_str(), cause.hint())
}

/// A redis-rs error as a [`Failure`] of a target.
pub fn failure(e: &redis::RedisError, t: &Target) -> Failure {
  let tls = t.urls.iter().any(|u| u.starts_with("rediss://"));
  let cause = classify(e, tls);
  let detail = match cause {
    Cause::Timeout => format!("{} ms", t.timeout.as_millis()),
    _ => e.to_string(),
  };
  Failure {
    cause,
    message: describe(cause, &detail),
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
  /// Connects and checks the connection is usable (a `PING`, so that a missing password shows
  /// here as `auth` rather than as a failed flush after a "connected"). The holder of the
  /// one-host aggregator runs its own commands on its model in-process (`embedded::local`).
  pub fn open(t: &Target) -> Result<Conn, Failure> {
    #[cfg(unix)]
    if let Some(l) = t.urls.first().and_then(|u| super::embedded::local(u)) {
      return Ok(Conn::Local(Box::new(l)));
    }
    let mut c = Self::connect(t).map_err(|e| failure(&e, t))?;
    c.query::<String>(&redis::cmd("PING"))
      .map_err(|e| failure(&e, t))?;
    Ok(c)
  }

  fn connect(t: &Target) -> redis::RedisResult<Conn> {
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

/// The reply of one apply call.
#[derive(Debug, Clone)]
pub struct Applied {
  /// Status.
  pub status: Status,
  /// The prefix's epoch.
  pub epoch: String,
  /// Families refused by this call (§5).
  pub refused: Vec<Refusal>,
}

/// Applies one chunk (protocol §7 step 2).
pub fn apply(
  conn: &mut Conn,
  keys: &Keys,
  a: &ApplyArgs,
  chunk: &Chunk,
) -> redis::RedisResult<Applied> {
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
  let mut refused = Vec::new();
  if let Some(Value::Array(items)) = reply.get(3) {
    for r in items.chunks_exact(3) {
      refused.push(Refusal {
        name: bulk(&r[0]),
        key: bulk(&r[1]),
        stored: bulk(&r[2]),
      });
    }
  }
  Ok(Applied {
    status,
    epoch: reply.get(1).map(bulk).unwrap_or_default(),
    refused,
  })
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
  if let (Conn::Local(l), Version::V2) = (&*conn, version) {
    return Ok(l.read_data(&keys.base)?);
  }
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
  pub fn open(t: &Target) -> Result<ReadConn, Failure> {
    let url = t
      .urls
      .first()
      .map_or("redis://127.0.0.1:6379", String::as_str);
    #[cfg(unix)]
    if let Some(l) = super::embedded::local(url) {
      return Ok(ReadConn::Rs(Conn::Local(Box::new(l))));
    }
    if !t.cluster && t.urls.len() <= 1 && t.tls_ca.is_none() {
      match super::resp::RawConn::open(url, t.timeout) {
        Ok(Some(raw)) => return Ok(ReadConn::Raw(raw)),
        Ok(None) => {}
        Err(e) => return Err(failure(&e, t)),
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
    // One node, or the one-host aggregator this process holds.
    _ => {
      let mut p = redis::pipe();
      p.ignore_errors();
      for argv in cmds {
        p.add_command(command(argv));
      }
      let replies: Vec<Value> = p.query(conn.like())?;
      Ok(replies.into_iter().map(reply).collect())
    }
  }
}

/// The commands of `close()` (name, then arguments): the process's heartbeat, gauges and held
/// definitions vanish at once (protocol §7 step 4).
pub fn goodbye_commands(keys: &Keys, id: &str) -> [Vec<String>; 2] {
  [
    vec!["ZREM".into(), keys.key("procs"), id.to_owned()],
    vec![
      "DEL".into(),
      keys.key(&format!("g:{id}")),
      keys.key(&format!("m:{id}")),
    ],
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
        vec!["DEL", "promsd:{p}:g:id1", "promsd:{p}:m:id1"]
      ]
    );
  }

  use std::io;

  fn io_err(kind: io::ErrorKind, msg: &str) -> redis::RedisError {
    redis::RedisError::from(io::Error::new(kind, msg.to_owned()))
  }

  #[test]
  fn errors_are_classified_by_what_an_operator_fixes() {
    let auth = redis::RedisError::from((
      redis::ErrorKind::AuthenticationFailed,
      "Password authentication failed",
    ));
    assert_eq!(classify(&auth, false), Cause::Auth);
    let refused = redis::RedisError::from(io::Error::from(io::ErrorKind::ConnectionRefused));
    assert_eq!(classify(&refused, false), Cause::Refused);
    let no_socket = redis::RedisError::from(io::Error::from(io::ErrorKind::NotFound));
    assert_eq!(classify(&no_socket, false), Cause::Refused);
    let timeout = redis::RedisError::from(io::Error::from(io::ErrorKind::WouldBlock));
    assert_eq!(classify(&timeout, false), Cause::Timeout);
    let dns = io_err(
      io::ErrorKind::Other,
      "failed to lookup address information: Name or service not known",
    );
    assert_eq!(classify(&dns, false), Cause::Dns);
    let cert = io_err(
      io::ErrorKind::InvalidData,
      "invalid peer certificate: UnknownIssuer",
    );
    assert_eq!(classify(&cert, true), Cause::Tls);
    let reset = redis::RedisError::from(io::Error::from(io::ErrorKind::ConnectionReset));
    assert_eq!(classify(&reset, false), Cause::Closed);
    let bad_url = redis::RedisError::from((
      redis::ErrorKind::InvalidClientConfig,
      "Redis URL did not parse",
    ));
    assert_eq!(classify(&bad_url, false), Cause::Config);
    let t = Target {
      urls: vec!["redis://h:1".into()],
      cluster: false,
      timeout: Duration::from_millis(250),
      tls_ca: None,
    };
    assert_eq!(
      failure(&timeout, &t).message,
      "timeout: no answer within the timeout (250 ms)"
    );
    assert_eq!(Cause::ALL.map(Cause::as_str).len(), 9);
  }
}
