//! The napi surface of the protocol reader ([`crate::backend::reader`]) for JS transports (the
//! ioredis twin, `backend/ioredis.ts`): JS sends the commands it is given and feeds back the
//! replies; the reader, the aggregation and the encoders are the core's, so the twin renders
//! byte for byte what the Rust backend renders, protobuf included.

use napi::bindgen_prelude::{AsyncTask, Buffer, Either};
use napi::{Env, Error, Result, Status, Task};
use napi_derive::napi;

use crate::backend::conn::Keys;
use crate::backend::flusher::{self, RenderOpts};
use crate::backend::reader::{ReadData, Reader, Reply, Version};

/// Options of a [`ProtocolReader`].
#[napi(object)]
pub struct ProtocolReaderOptions {
  /// Namespace (`[A-Za-z0-9_.:-]{1,64}`).
  pub prefix: String,
  /// Read protocol: 2 (default; the live-ids script, then pipelined `HGETALL`s) or 1 (the v1
  /// read script).
  pub protocol: Option<u32>,
}

/// One reply from JS: its items (strings, or arrays of strings one level down), or an error
/// reply's message.
type JsReply = Either<Vec<Either<String, Vec<String>>>, String>;

/// How to render a completed read.
#[napi(object)]
pub struct ProtocolRenderOptions {
  /// OpenMetrics instead of text 0.0.4.
  pub open_metrics: Option<bool>,
  /// The Prometheus protobuf format instead of text (overrides `openMetrics`).
  pub protobuf: Option<bool>,
  /// Default labels as `[name, value, …]`.
  pub default_labels: Option<Vec<String>>,
  /// gzip the result (only from 1 KiB: smaller results come back plain; tell by the magic bytes).
  pub gzip: Option<bool>,
}

/// One read of a prefix's aggregate (protocol §8), as a state machine with no I/O.
///
/// ```ts
/// const r = new ProtocolReader({ prefix: 'checkout' });
/// for (let cmds = r.commands(); cmds.length > 0; cmds = r.commands()) {
///   if (r.feed(await sendPipelined(cmds))) break;
/// }
/// const text = await r.render({ openMetrics: false });
/// ```
#[napi]
pub struct ProtocolReader {
  reader: Option<Reader>,
  data: Option<ReadData>,
}

fn err(msg: String) -> Error {
  Error::new(Status::GenericFailure, msg)
}

#[napi]
impl ProtocolReader {
  /// A new read of `options.prefix`.
  #[napi(constructor)]
  pub fn new(options: ProtocolReaderOptions) -> Result<Self> {
    crate::backend_api::check_prefix(&options.prefix)?;
    let version = match options.protocol {
      None | Some(2) => Version::V2,
      Some(1) => Version::V1,
      Some(v) => {
        return Err(Error::new(
          Status::InvalidArg,
          format!("protocol must be 1 or 2, got {v}"),
        ))
      }
    };
    Ok(ProtocolReader {
      reader: Some(Reader::with_version(
        &Keys::new(&options.prefix).base,
        version,
      )),
      data: None,
    })
  }

  /// The commands to send next, pipelined and in order, each as its argv (empty once done).
  #[napi]
  pub fn commands(&self) -> Vec<Vec<String>> {
    self
      .reader
      .as_ref()
      .map(Reader::commands)
      .unwrap_or_default()
  }

  /// Takes the replies to the last `commands()`, in order: a reply is its array of items, each a
  /// string (numbers as decimal strings) or an array of strings (the v1 script's nested
  /// `HGETALL`s; an `HGETALL` reply is field, value, …), or a string for an error reply (its
  /// message, e.g. `NOSCRIPT …`). True once the read is complete.
  #[napi(ts_args_type = "replies: Array<Array<string | string[]> | string>")]
  pub fn feed(&mut self, replies: Vec<JsReply>) -> Result<bool> {
    let Some(reader) = self.reader.as_mut() else {
      return Err(err("promsd: the read is already complete".into()));
    };
    let replies = replies
      .into_iter()
      .map(|r| match r {
        Either::A(items) => Reply::Array(
          items
            .into_iter()
            .map(|i| match i {
              Either::A(s) => Reply::Bulk(s),
              Either::B(a) => Reply::Array(a.into_iter().map(Reply::Bulk).collect()),
            })
            .collect(),
        ),
        Either::B(e) => Reply::Error(e),
      })
      .collect();
    let done = reader
      .feed(replies)
      .map_err(|e| err(format!("promsd: reading the aggregate failed: {e}")))?;
    if done {
      self.data = self.reader.take().map(Reader::finish);
    }
    Ok(done)
  }

  /// Aggregates and encodes the completed read off the JS thread (once).
  #[napi(ts_return_type = "Promise<Buffer>")]
  ///
  /// With `selfMetrics` (the twin's writer, when its `selfMetrics` option is on), the backend's
  /// own metrics are appended; a read that did not complete (Redis is down) then renders those
  /// alone, so the scrape says `promsd_backend_up 0`.
  pub fn render(
    &mut self,
    options: ProtocolRenderOptions,
    self_metrics: Option<&crate::twin_api::ProtocolWriter>,
  ) -> Result<AsyncTask<RenderTask>> {
    let extra = self_metrics
      .map(|w| w.stats().families())
      .unwrap_or_default();
    let data = match (self.data.take(), self_metrics) {
      (Some(d), _) => d,
      (None, Some(_)) => ReadData::default(),
      (None, None) => {
        return Err(err(
          "promsd: render() needs a complete read (feed() returned true), once".into(),
        ))
      }
    };
    let labels = options.default_labels.unwrap_or_default();
    Ok(AsyncTask::new(RenderTask {
      data,
      opts: RenderOpts {
        open_metrics: options.open_metrics == Some(true),
        default_labels: labels
          .chunks(2)
          .map(|p| (p[0].clone(), p.get(1).cloned().unwrap_or_default()))
          .collect(),
        protobuf: options.protobuf == Some(true),
      },
      gzip: options.gzip == Some(true),
      extra,
    }))
  }
}

/// The task of [`ProtocolReader::render`].
pub struct RenderTask {
  data: ReadData,
  opts: RenderOpts,
  gzip: bool,
  extra: Vec<crate::backend::render::Family>,
}

impl Task for RenderTask {
  type Output = Vec<u8>;
  type JsValue = Buffer;

  fn compute(&mut self) -> Result<Vec<u8>> {
    let bytes = flusher::render_bytes(&self.data, &self.opts, std::mem::take(&mut self.extra));
    if !self.gzip || bytes.len() < 1024 {
      return Ok(bytes);
    }
    crate::api::gzip(&bytes).map_err(|e| err(format!("gzip: {e}")))
  }

  fn resolve(&mut self, _env: Env, output: Vec<u8>) -> Result<Buffer> {
    Ok(Buffer::from(output))
  }
}
