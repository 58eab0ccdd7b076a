//! A minimal RESP2 connection for the sidecar's reads (plain TCP or a Unix socket, one node):
//! it writes a round of the reader's commands at once and parses the replies straight into
//! [`Reply`] values, one allocation per string. redis-rs's general parser costs ~40 ms on the
//! 330k strings of a wide read (16 processes × 10k gauges); this one a fraction of that. TLS and
//! clusters keep the redis-rs connection (`conn.rs`), and so do writes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use redis::{ConnectionAddr, IntoConnectionInfo};

use super::reader::Reply;

trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// An open connection, authenticated and on its database.
pub struct RawConn {
  stream: Box<dyn Stream>,
  buf: Vec<u8>,
  pos: usize,
}

fn invalid(msg: String) -> std::io::Error {
  std::io::Error::new(std::io::ErrorKind::InvalidData, msg)
}

impl RawConn {
  /// Connects to `url` when it is a plain `redis://` or Unix-socket URL; `Ok(None)` for any other
  /// (TLS), which the caller reads through redis-rs.
  pub fn open(url: &str, timeout: Duration) -> redis::RedisResult<Option<RawConn>> {
    let info = url.into_connection_info()?;
    let stream: Box<dyn Stream> = match info.addr() {
      ConnectionAddr::Tcp(host, port) => {
        let addrs = std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), *port))?;
        let mut last = None;
        let mut found = None;
        for a in addrs {
          match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => {
              found = Some(s);
              break;
            }
            Err(e) => last = Some(e),
          }
        }
        let s = match (found, last) {
          (Some(s), _) => s,
          (None, Some(e)) => return Err(e.into()),
          (None, None) => {
            return Err(invalid(format!("{host}:{port} resolves to no address")).into())
          }
        };
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(timeout))?;
        s.set_write_timeout(Some(timeout))?;
        Box::new(s)
      }
      #[cfg(unix)]
      ConnectionAddr::Unix(path) => {
        let s = std::os::unix::net::UnixStream::connect(path)?;
        s.set_read_timeout(Some(timeout))?;
        s.set_write_timeout(Some(timeout))?;
        Box::new(s)
      }
      _ => return Ok(None),
    };
    let mut c = RawConn {
      stream,
      buf: Vec::with_capacity(1 << 20),
      pos: 0,
    };
    let r = info.redis_settings();
    let mut hello: Vec<Vec<String>> = Vec::new();
    if let Some(p) = r.password() {
      let mut auth = vec!["AUTH".to_owned()];
      auth.extend(r.username().map(str::to_owned));
      auth.push(p.to_owned());
      hello.push(auth);
    }
    if r.db() != 0 {
      hello.push(vec!["SELECT".into(), r.db().to_string()]);
    }
    // A PING as redis-rs's connection makes: a server that wants a password says so here.
    hello.push(vec!["PING".into()]);
    {
      for reply in c.round(&hello)? {
        if let Reply::Error(e) = reply {
          let (code, detail) = e.split_once(' ').unwrap_or((&e, ""));
          let kind = if code == "WRONGPASS" || code == "NOAUTH" {
            redis::ErrorKind::AuthenticationFailed
          } else {
            redis::ErrorKind::Client
          };
          return Err(redis::RedisError::from((
            kind,
            "connecting",
            format!("{code} {detail}"),
          )));
        }
      }
    }
    Ok(Some(c))
  }

  /// Sends `cmds` in one write and reads one reply per command (error replies as
  /// [`Reply::Error`]).
  pub fn round(&mut self, cmds: &[Vec<String>]) -> std::io::Result<Vec<Reply>> {
    let mut out = Vec::new();
    for argv in cmds {
      out.extend_from_slice(format!("*{}\r\n", argv.len()).as_bytes());
      for a in argv {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a.as_bytes());
        out.extend_from_slice(b"\r\n");
      }
    }
    self.stream.write_all(&out)?;
    self.stream.flush()?;
    (0..cmds.len()).map(|_| self.value(0)).collect()
  }

  /// Makes `n` bytes available at `pos`, reading more (and dropping what was consumed).
  fn need(&mut self, n: usize) -> std::io::Result<()> {
    while self.buf.len() - self.pos < n {
      if self.pos > 0 && self.pos * 2 >= self.buf.len() {
        self.buf.drain(..self.pos);
        self.pos = 0;
      }
      let len = self.buf.len();
      let want = (n - (len - self.pos)).max(256 * 1024);
      self.buf.resize(len + want, 0);
      let got = self.stream.read(&mut self.buf[len..])?;
      self.buf.truncate(len + got);
      if got == 0 {
        return Err(std::io::Error::new(
          std::io::ErrorKind::UnexpectedEof,
          "Redis closed the connection mid-reply",
        ));
      }
    }
    Ok(())
  }

  /// One line without its CRLF.
  fn line(&mut self) -> std::io::Result<String> {
    loop {
      if let Some(i) = self.buf[self.pos..].windows(2).position(|w| w == b"\r\n") {
        let s = String::from_utf8_lossy(&self.buf[self.pos..self.pos + i]).into_owned();
        self.pos += i + 2;
        return Ok(s);
      }
      let have = self.buf.len() - self.pos;
      self.need(have + 1)?;
    }
  }

  fn int(&mut self) -> std::io::Result<i64> {
    let l = self.line()?;
    l.parse()
      .map_err(|_| invalid(format!("not a RESP integer: {l:?}")))
  }

  fn value(&mut self, depth: usize) -> std::io::Result<Reply> {
    if depth > 8 {
      return Err(invalid("RESP reply nested too deep".into()));
    }
    self.need(1)?;
    let t = self.buf[self.pos];
    self.pos += 1;
    match t {
      b'+' => Ok(Reply::Bulk(self.line()?)),
      b'-' => Ok(Reply::Error(self.line()?)),
      b':' => Ok(Reply::Int(self.int()?)),
      b'$' => {
        let n = self.int()?;
        if n < 0 {
          return Ok(Reply::Nil);
        }
        let n = usize::try_from(n).map_err(|_| invalid("bulk length".into()))?;
        self.need(n + 2)?;
        let bytes = &self.buf[self.pos..self.pos + n];
        let s = match std::str::from_utf8(bytes) {
          Ok(s) => s.to_owned(),
          Err(_) => String::from_utf8_lossy(bytes).into_owned(),
        };
        self.pos += n + 2;
        Ok(Reply::Bulk(s))
      }
      b'*' => {
        let n = self.int()?;
        if n < 0 {
          return Ok(Reply::Nil);
        }
        let n = usize::try_from(n).map_err(|_| invalid("array length".into()))?;
        let mut items = Vec::with_capacity(n.min(1 << 20));
        for _ in 0..n {
          items.push(self.value(depth + 1)?);
        }
        Ok(Reply::Array(items))
      }
      other => Err(invalid(format!("unexpected RESP type byte {other:#04x}"))),
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[cfg(unix)]
  #[test]
  fn replies_split_across_reads_parse_whole_and_errors_stay_replies() {
    let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    let mut c = RawConn {
      stream: Box::new(a),
      buf: Vec::new(),
      pos: 0,
    };
    let big = "x".repeat(300_000);
    let body = format!(
      "*3\r\n:7\r\n$2\r\nid\r\n$-1\r\n-NOSCRIPT No matching script.\r\n*2\r\n${}\r\n{big}\r\n+OK\r\n",
      big.len()
    );
    let writer = std::thread::spawn(move || {
      let mut cmds = [0u8; 64];
      let _ = b.read(&mut cmds);
      for chunk in body.as_bytes().chunks(7_001) {
        b.write_all(chunk).unwrap();
      }
    });
    let replies = c
      .round(&[vec!["A".into()], vec!["B".into()], vec!["C".into()]])
      .unwrap();
    writer.join().unwrap();
    assert_eq!(
      replies[0],
      Reply::Array(vec![Reply::Int(7), Reply::Bulk("id".into()), Reply::Nil])
    );
    assert_eq!(
      replies[1],
      Reply::Error("NOSCRIPT No matching script.".into())
    );
    assert_eq!(
      replies[2],
      Reply::Array(vec![Reply::Bulk(big), Reply::Bulk("OK".into())])
    );
  }
}
