//! The Prometheus protobuf exposition: `application/vnd.google.protobuf;
//! proto=io.prometheus.client.MetricFamily; encoding=delimited`, a stream of `MetricFamily`
//! messages each preceded by its varint length.
//!
//! The messages are hand-written `prost` structs of `native/proto/metrics.proto` (vendored
//! from prometheus/client_model, Apache-2.0), so the build needs no `protoc`. It is the only
//! format that carries native histograms; classic buckets are sent beside them when the
//! histogram has any.

use prost::Message;

use crate::encoder::EncodeOptions;
use crate::merge::{stride, MergedFamily};
use crate::native_histogram::{self, NativeSeries};
use crate::store::{Exemplar as StoredExemplar, Kind};

/// Content type of this format.
pub const CONTENT_TYPE: &str =
  "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

/// `io.prometheus.client.LabelPair`.
#[derive(Clone, PartialEq, Message)]
pub struct LabelPair {
  /// Label name.
  #[prost(string, optional, tag = "1")]
  pub name: Option<String>,
  /// Label value.
  #[prost(string, optional, tag = "2")]
  pub value: Option<String>,
}

/// `google.protobuf.Timestamp`.
#[derive(Clone, PartialEq, Message)]
pub struct Timestamp {
  /// Seconds since the epoch.
  #[prost(int64, tag = "1")]
  pub seconds: i64,
  /// Nanoseconds.
  #[prost(int32, tag = "2")]
  pub nanos: i32,
}

/// `io.prometheus.client.Exemplar`.
#[derive(Clone, PartialEq, Message)]
pub struct Exemplar {
  /// Label pairs, metric labels then default labels (client_model `LabelPair`).
  #[prost(message, repeated, tag = "1")]
  pub label: Vec<LabelPair>,
  /// Value.
  #[prost(double, optional, tag = "2")]
  pub value: Option<f64>,
  /// When it was observed.
  #[prost(message, optional, tag = "3")]
  pub timestamp: Option<Timestamp>,
}

/// `io.prometheus.client.Gauge`.
#[derive(Clone, PartialEq, Message)]
pub struct Gauge {
  /// Value.
  #[prost(double, optional, tag = "1")]
  pub value: Option<f64>,
}

/// `io.prometheus.client.Counter`.
#[derive(Clone, PartialEq, Message)]
pub struct Counter {
  /// Value.
  #[prost(double, optional, tag = "1")]
  pub value: Option<f64>,
  /// Exemplar.
  #[prost(message, optional, tag = "2")]
  pub exemplar: Option<Exemplar>,
}

/// `io.prometheus.client.Quantile`.
#[derive(Clone, PartialEq, Message)]
pub struct Quantile {
  /// Quantile.
  #[prost(double, optional, tag = "1")]
  pub quantile: Option<f64>,
  /// Value.
  #[prost(double, optional, tag = "2")]
  pub value: Option<f64>,
}

/// `io.prometheus.client.Summary`.
#[derive(Clone, PartialEq, Message)]
pub struct Summary {
  /// Count.
  #[prost(uint64, optional, tag = "1")]
  pub sample_count: Option<u64>,
  /// Sum.
  #[prost(double, optional, tag = "2")]
  pub sample_sum: Option<f64>,
  /// Quantiles.
  #[prost(message, repeated, tag = "3")]
  pub quantile: Vec<Quantile>,
}

/// `io.prometheus.client.Bucket` (classic).
#[derive(Clone, PartialEq, Message)]
pub struct Bucket {
  /// Cumulative count.
  #[prost(uint64, optional, tag = "1")]
  pub cumulative_count: Option<u64>,
  /// Upper bound (inclusive).
  #[prost(double, optional, tag = "2")]
  pub upper_bound: Option<f64>,
  /// Exemplar.
  #[prost(message, optional, tag = "3")]
  pub exemplar: Option<Exemplar>,
}

/// `io.prometheus.client.BucketSpan`.
#[derive(Clone, PartialEq, Message)]
pub struct BucketSpan {
  /// Gap to the previous span (or the first index).
  #[prost(sint32, optional, tag = "1")]
  pub offset: Option<i32>,
  /// Consecutive buckets.
  #[prost(uint32, optional, tag = "2")]
  pub length: Option<u32>,
}

/// `io.prometheus.client.Histogram`.
#[derive(Clone, PartialEq, Message)]
pub struct Histogram {
  /// Count.
  #[prost(uint64, optional, tag = "1")]
  pub sample_count: Option<u64>,
  /// Sum.
  #[prost(double, optional, tag = "2")]
  pub sample_sum: Option<f64>,
  /// Classic buckets, without +Inf.
  #[prost(message, repeated, tag = "3")]
  pub bucket: Vec<Bucket>,
  /// Native schema.
  #[prost(sint32, optional, tag = "5")]
  pub schema: Option<i32>,
  /// Zero bucket breadth.
  #[prost(double, optional, tag = "6")]
  pub zero_threshold: Option<f64>,
  /// Zero bucket count.
  #[prost(uint64, optional, tag = "7")]
  pub zero_count: Option<u64>,
  /// Negative spans.
  #[prost(message, repeated, tag = "9")]
  pub negative_span: Vec<BucketSpan>,
  /// Negative count deltas.
  #[prost(sint64, repeated, packed = "true", tag = "10")]
  pub negative_delta: Vec<i64>,
  /// Positive spans.
  #[prost(message, repeated, tag = "12")]
  pub positive_span: Vec<BucketSpan>,
  /// Positive count deltas.
  #[prost(sint64, repeated, packed = "true", tag = "13")]
  pub positive_delta: Vec<i64>,
  /// Exemplars of a native histogram (with timestamps).
  #[prost(message, repeated, tag = "16")]
  pub exemplars: Vec<Exemplar>,
}

/// `io.prometheus.client.Metric`.
#[derive(Clone, PartialEq, Message)]
pub struct Metric {
  /// Label pairs of an exemplar (trace_id, span_id…).
  #[prost(message, repeated, tag = "1")]
  pub label: Vec<LabelPair>,
  /// Gauge value.
  #[prost(message, optional, tag = "2")]
  pub gauge: Option<Gauge>,
  /// Counter value.
  #[prost(message, optional, tag = "3")]
  pub counter: Option<Counter>,
  /// Summary.
  #[prost(message, optional, tag = "4")]
  pub summary: Option<Summary>,
  /// Histogram.
  #[prost(message, optional, tag = "7")]
  pub histogram: Option<Histogram>,
}

/// `io.prometheus.client.MetricType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, prost::Enumeration)]
#[repr(i32)]
pub enum MetricType {
  /// Counter.
  Counter = 0,
  /// Gauge.
  Gauge = 1,
  /// Summary.
  Summary = 2,
  /// Untyped.
  Untyped = 3,
  /// Histogram.
  Histogram = 4,
}

/// `io.prometheus.client.MetricFamily`.
#[derive(Clone, PartialEq, Message)]
pub struct MetricFamily {
  /// Name (counters keep their `_total`).
  #[prost(string, optional, tag = "1")]
  pub name: Option<String>,
  /// Help text (raw).
  #[prost(string, optional, tag = "2")]
  pub help: Option<String>,
  /// The family's type (client_model `MetricType`).
  #[prost(enumeration = "MetricType", optional, tag = "3")]
  pub r#type: Option<i32>,
  /// Series.
  #[prost(message, repeated, tag = "4")]
  pub metric: Vec<Metric>,
}

/// Unescapes one stored label value (see [`crate::encoder::escape_label_value`]).
fn unescape(v: &str) -> String {
  if !v.contains('\\') {
    return v.to_owned();
  }
  let mut out = String::with_capacity(v.len());
  let mut chars = v.chars();
  while let Some(c) = chars.next() {
    if c == '\\' {
      match chars.next() {
        Some('n') => out.push('\n'),
        Some(o) => out.push(o),
        None => {}
      }
    } else {
      out.push(c);
    }
  }
  out
}

/// Parses rendered pairs `a="x",b="y"` (escaped values) back into label pairs.
fn parse_pairs(rendered: &str) -> Vec<LabelPair> {
  let mut out = Vec::new();
  let mut rest = rendered;
  while let Some(eq) = rest.find("=\"") {
    let name = rest[..eq].trim_start_matches(',');
    let body = &rest[eq + 2..];
    let mut end = None;
    let mut escaped = false;
    for (i, ch) in body.char_indices() {
      match (escaped, ch) {
        (true, _) => escaped = false,
        (false, '\\') => escaped = true,
        (false, '"') => {
          end = Some(i);
          break;
        }
        _ => {}
      }
    }
    let Some(end) = end else { break };
    out.push(LabelPair {
      name: Some(name.to_owned()),
      value: Some(unescape(&body[..end])),
    });
    rest = &body[end + 1..];
  }
  out
}

fn exemplar(e: Option<&StoredExemplar>) -> Option<Exemplar> {
  let e = e?;
  // Exemplar times are taken in milliseconds (`Date.now()`).
  let ms = (e.timestamp * 1000.0).round() as i64;
  Some(Exemplar {
    label: parse_pairs(&e.labels),
    value: Some(e.value),
    timestamp: Some(Timestamp {
      seconds: ms.div_euclid(1000),
      nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }),
  })
}

fn native_fields(h: &mut Histogram, nh: &NativeSeries, zero_threshold: f64) {
  let (pos, pd) = native_histogram::spans(&nh.positive);
  let (neg, nd) = native_histogram::spans(&nh.negative);
  let span = |(offset, length): (i32, u32)| BucketSpan {
    offset: Some(offset),
    length: Some(length),
  };
  h.schema = Some(nh.schema);
  h.zero_threshold = Some(zero_threshold);
  h.zero_count = Some(nh.zero_count as u64);
  h.positive_span = pos.into_iter().map(span).collect();
  h.positive_delta = pd;
  h.negative_span = neg.into_iter().map(span).collect();
  h.negative_delta = nd;
  // Without any of these a native histogram would look like a classic one (client_golang).
  if zero_threshold == 0.0
    && nh.zero_count == 0.0
    && h.positive_span.is_empty()
    && h.negative_span.is_empty()
  {
    h.positive_span.push(span((0, 0)));
  }
}

fn family(f: &MergedFamily, opts: &EncodeOptions) -> MetricFamily {
  let def = f.def;
  let defaults: Vec<LabelPair> = opts
    .default_labels
    .iter()
    .filter(|(n, _)| !def.label_names.contains(n))
    .filter(|(n, _)| {
      !matches!(
        (def.kind, n.as_str()),
        (Kind::Histogram, "le") | (Kind::Summary, "quantile")
      )
    })
    .map(|(n, v)| LabelPair {
      name: Some(n.clone()),
      value: Some(v.clone()),
    })
    .collect();
  let st = stride(def);
  let metric = (0..f.len())
    .map(|n| {
      let mut label: Vec<LabelPair> = if def.label_names.is_empty() {
        Vec::new()
      } else {
        def
          .label_names
          .iter()
          .zip(f.labels[n].split('\n'))
          .map(|(name, v)| LabelPair {
            name: Some(name.clone()),
            value: Some(unescape(v)),
          })
          .collect()
      };
      label.extend(defaults.iter().cloned());
      let v = &f.values[n * st..(n + 1) * st];
      let mut m = Metric {
        label,
        ..Default::default()
      };
      match def.kind {
        Kind::Counter => {
          m.counter = Some(Counter {
            value: Some(v[0]),
            exemplar: exemplar(f.exemplars[n]),
          })
        }
        Kind::Gauge => m.gauge = Some(Gauge { value: Some(v[0]) }),
        Kind::Summary => {
          let nq = def.quantiles.len();
          m.summary = Some(Summary {
            sample_count: Some(v[nq + 1] as u64),
            sample_sum: Some(v[nq]),
            quantile: def
              .quantiles
              .iter()
              .zip(v)
              .map(|(&q, &x)| Quantile {
                quantile: Some(q),
                value: Some(x),
              })
              .collect(),
          })
        }
        Kind::Histogram => {
          let nb = def.buckets.len();
          let ex = &f.exemplars[n * (nb + 1)..(n + 1) * (nb + 1)];
          let mut cum = 0.0;
          let mut h = Histogram {
            bucket: def
              .buckets
              .iter()
              .enumerate()
              .map(|(i, &b)| {
                cum += v[i];
                Bucket {
                  cumulative_count: Some(cum as u64),
                  upper_bound: Some(b),
                  exemplar: exemplar(ex[i]),
                }
              })
              .collect(),
            ..Default::default()
          };
          cum += v[nb];
          h.sample_count = Some(cum as u64);
          h.sample_sum = Some(v[nb + 1]);
          if let (Some(nd), Some(nh)) = (def.native, f.native.get(n)) {
            native_fields(&mut h, nh, nd.zero_threshold);
            h.exemplars = ex.iter().filter_map(|e| exemplar(*e)).collect();
          }
          m.histogram = Some(h);
        }
      }
      m
    })
    .collect();
  MetricFamily {
    name: Some(def.name.clone()),
    help: Some(def.help.clone()),
    r#type: Some(match def.kind {
      Kind::Counter => MetricType::Counter,
      Kind::Gauge => MetricType::Gauge,
      Kind::Summary => MetricType::Summary,
      Kind::Histogram => MetricType::Histogram,
    } as i32),
    metric,
  }
}

/// Encodes every family as a length-delimited stream. A family without series is skipped
/// (Prometheus' parser refuses a family with no metrics).
pub fn encode(families: &[MergedFamily], opts: &EncodeOptions, out: &mut Vec<u8>) {
  for f in families.iter().filter(|f| !f.is_empty()) {
    let m = family(f, opts);
    // Writing into a Vec cannot fail.
    let _ = m.encode_length_delimited(out);
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn rendered_exemplar_labels_parse_back() {
    let p = parse_pairs(r#"trace_id="a\"b",span="x\\y\nz""#);
    assert_eq!(p.len(), 2);
    assert_eq!(p[0].name.as_deref(), Some("trace_id"));
    assert_eq!(p[0].value.as_deref(), Some("a\"b"));
    assert_eq!(p[1].name.as_deref(), Some("span"));
    assert_eq!(p[1].value.as_deref(), Some("x\\y\nz"));
  }
}
