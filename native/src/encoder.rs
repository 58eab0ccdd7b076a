//! Prometheus text 0.0.4 and OpenMetrics 1.0 encoders, writing into one caller-owned buffer.
//!
//! Text output mirrors prom-client's layout (families separated by a blank line) so users'
//! snapshot tests keep passing, except that NaN is spelled `NaN` (prom-client prints `Nan`,
//! which Prometheus rejects).

use std::fmt::Write;

use crate::merge::{stride, MergedFamily};
use crate::store::{Exemplar, Kind};

/// Exposition format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
  /// `text/plain; version=0.0.4`.
  Text,
  /// `application/openmetrics-text; version=1.0.0`.
  OpenMetrics,
}

/// Encoding options shared by every family of one scrape.
pub struct EncodeOptions<'a> {
  /// Format.
  pub format: Format,
  /// Registry default labels as (name, raw value); a series' own label wins.
  pub default_labels: &'a [(String, String)],
}

/// Appends `v` as Prometheus writes numbers: integers without a fraction, `NaN`, `±Inf`.
pub fn write_value(out: &mut String, v: f64) {
  if v.is_nan() {
    out.push_str("NaN");
  } else if v.is_infinite() {
    out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
  } else if v == v.trunc() && v.abs() < 1e15 {
    let _ = write!(out, "{}", v as i64);
  } else if (1e-6..1e21).contains(&v.abs()) {
    let _ = write!(out, "{v}");
  } else {
    // JavaScript's spelling (`1e+21`), which prom-client writes and Prometheus parses alike.
    let start = out.len();
    let _ = write!(out, "{v:e}");
    if let Some(e) = out[start..].find('e') {
      if !out[start + e + 1..].starts_with('-') {
        out.insert(start + e + 1, '+');
      }
    }
  }
}

/// Escapes a label value (`\`, `"`, newline).
pub fn escape_label_value(out: &mut String, v: &str) {
  if !v.contains(['\\', '"', '\n']) {
    out.push_str(v);
    return;
  }
  for ch in v.chars() {
    match ch {
      '\\' => out.push_str("\\\\"),
      '"' => out.push_str("\\\""),
      '\n' => out.push_str("\\n"),
      c => out.push(c),
    }
  }
}

/// The stored form of a series' labels: escaped values joined by newlines (an escaped value
/// never contains a raw newline). Names are not repeated per series: memory per series is a
/// target, and the encoder knows the family's names.
pub fn store_values(values: &[String]) -> String {
  let mut s = String::new();
  for (i, v) in values.iter().enumerate() {
    if i > 0 {
      s.push('\n');
    }
    escape_label_value(&mut s, v);
  }
  s
}

/// The stored form of a label a series does not have (prom-client accepts partial label
/// sets). No escaped value is `\a`: escaping doubles every backslash.
pub const ABSENT: &str = "\\a";

/// [`store_values`] for label sets that may lack labels (`None`, stored as [`ABSENT`]).
pub fn store_label_values(values: &[Option<String>]) -> String {
  let mut s = String::new();
  for (i, v) in values.iter().enumerate() {
    if i > 0 {
      s.push('\n');
    }
    match v {
      Some(v) => escape_label_value(&mut s, v),
      None => s.push_str(ABSENT),
    }
  }
  s
}

/// Expands a stored label string (see [`store_values`]) into `name="value"` pairs, skipping
/// absent labels.
pub fn expand_stored(out: &mut String, names: &[String], stored: &str) {
  expand_ordered(out, names, stored, None);
}

/// [`expand_stored`] in the order `order` (positions into `names`; `None`: declaration order).
pub fn expand_ordered(out: &mut String, names: &[String], stored: &str, order: Option<&[usize]>) {
  let mut sep = false;
  let mut pair = |n: &str, v: &str| {
    if v == ABSENT {
      return;
    }
    if std::mem::replace(&mut sep, true) {
      out.push(',');
    }
    out.push_str(n);
    out.push_str("=\"");
    out.push_str(v);
    out.push('"');
  };
  match order {
    None => {
      for (n, v) in names.iter().zip(stored.split('\n')) {
        pair(n, v);
      }
    }
    Some(order) => {
      let values: Vec<&str> = stored.split('\n').collect();
      for &i in order {
        if let (Some(n), Some(v)) = (names.get(i), values.get(i)) {
          pair(n, v);
        }
      }
    }
  }
}

/// Renders `name="value"` pairs joined by commas.
pub fn render_labels(names: &[String], values: &[String]) -> String {
  let mut s = String::new();
  for (i, (n, v)) in names.iter().zip(values).enumerate() {
    if i > 0 {
      s.push(',');
    }
    s.push_str(n);
    s.push_str("=\"");
    escape_label_value(&mut s, v);
    s.push('"');
  }
  s
}

fn escape_help(out: &mut String, help: &str, format: Format) {
  for ch in help.chars() {
    match ch {
      '\\' => out.push_str("\\\\"),
      '\n' => out.push_str("\\n"),
      '"' if format == Format::OpenMetrics => out.push_str("\\\""),
      c => out.push(c),
    }
  }
}

/// Encodes every family; the result is a complete exposition.
pub fn encode(families: &[MergedFamily], opts: &EncodeOptions, out: &mut String) {
  for (i, f) in families.iter().enumerate() {
    if i > 0 {
      out.push_str(if opts.format == Format::Text {
        "\n\n"
      } else {
        "\n"
      });
    }
    encode_family(f, opts, out);
  }
  match opts.format {
    Format::Text => out.push('\n'),
    Format::OpenMetrics => {
      if !families.is_empty() {
        out.push('\n');
      }
      out.push_str("# EOF\n");
    }
  }
}

/// Label text common to every sample of a series: its own pairs and the defaults it lacks, in
/// prom-client's order: `le`/`quantile` first; then a histogram's defaults before the series'
/// labels, every other type's after them.
struct SampleLabels<'a> {
  series: &'a str,
  defaults: &'a str,
  defaults_first: bool,
}

impl SampleLabels<'_> {
  fn write(&self, out: &mut String, extra: Option<(&str, &str)>) {
    if self.series.is_empty() && self.defaults.is_empty() && extra.is_none() {
      return;
    }
    out.push('{');
    let mut sep = false;
    if let Some((name, value)) = extra {
      out.push_str(name);
      out.push_str("=\"");
      out.push_str(value);
      out.push('"');
      sep = true;
    }
    let parts = if self.defaults_first {
      [self.defaults, self.series]
    } else {
      [self.series, self.defaults]
    };
    for part in parts {
      if !part.is_empty() {
        if sep {
          out.push(',');
        }
        out.push_str(part);
        sep = true;
      }
    }
    out.push('}');
  }
}

/// The registry's default labels for one series: those it lacks, in the registry's order.
/// `own` holds the defaults the family's label names may override (see `encode_family`).
fn series_defaults(out: &mut String, all: &[(String, String)], names: &[String], stored: &str) {
  let values: Vec<&str> = stored.split('\n').collect();
  for (n, v) in all {
    let has = names
      .iter()
      .position(|m| m == n)
      .is_some_and(|i| values.get(i).is_some_and(|&s| s != ABSENT));
    if !has {
      if !out.is_empty() {
        out.push(',');
      }
      out.push_str(n);
      out.push_str("=\"");
      escape_label_value(out, v);
      out.push('"');
    }
  }
}

fn sample(
  out: &mut String,
  name: &str,
  suffix: &str,
  labels: &SampleLabels,
  extra: Option<(&str, &str)>,
  value: f64,
) {
  out.push('\n');
  out.push_str(name);
  out.push_str(suffix);
  labels.write(out, extra);
  out.push(' ');
  write_value(out, value);
}

fn exemplar(out: &mut String, e: Option<&Exemplar>, format: Format) {
  if let (Some(e), Format::OpenMetrics) = (e, format) {
    out.push_str(" # {");
    out.push_str(&e.labels);
    out.push_str("} ");
    write_value(out, e.value);
    out.push(' ');
    let _ = write!(out, "{:.3}", e.timestamp);
  }
}

/// Whether a histogram accepts negative observations (metrics/histogram.ts `#min` is the same
/// rule): a negative bucket bound, or native buckets only. OpenMetrics then forbids its `_sum` (it
/// would not be a counter), and parsers accept `_count` only beside `_sum`; `+Inf` is the count.
fn may_hold_negatives(def: &crate::store::FamilyDef) -> bool {
  // A native-only histogram accepts negative values (its native buckets hold them), so its
  // classic rendering counts as one with a negative bucket.
  def.buckets.first().is_some_and(|b| *b < 0.0) || (def.buckets.is_empty() && def.native.is_some())
}

fn encode_family(f: &MergedFamily, opts: &EncodeOptions, out: &mut String) {
  let def = f.def;
  let om = opts.format == Format::OpenMetrics;
  let name: &str = if om {
    def.open_metrics_name()
  } else {
    &def.name
  };
  out.push_str("# HELP ");
  out.push_str(name);
  out.push(' ');
  escape_help(out, &def.help, opts.format);
  out.push_str("\n# TYPE ");
  out.push_str(name);
  out.push(' ');
  out.push_str(def.kind.as_str());

  // `le`/`quantile` belong to the type's samples.
  let applicable: Vec<(String, String)> = opts
    .default_labels
    .iter()
    .filter(|(n, _)| {
      !matches!(
        (def.kind, n.as_str()),
        (Kind::Histogram, "le") | (Kind::Summary, "quantile")
      )
    })
    .cloned()
    .collect();
  // A series' own label wins. Only when a default shares a name with one of the family's
  // labels does it depend on the series (which may lack that label).
  let per_series = applicable.iter().any(|(n, _)| def.label_names.contains(n));
  let (dn, dv): (Vec<String>, Vec<String>) = applicable.iter().cloned().unzip();
  let mut defaults = render_labels(&dn, &dv);
  let order = crate::label_order::permutation(&def.name, &def.label_names);

  let stride = stride(def);
  let mut le = String::new();
  let mut pairs = String::new();
  for n in 0..f.len() {
    pairs.clear();
    expand_ordered(&mut pairs, &def.label_names, &f.labels[n], order.as_deref());
    if per_series {
      defaults.clear();
      series_defaults(&mut defaults, &applicable, &def.label_names, &f.labels[n]);
    }
    let labels = SampleLabels {
      series: &pairs,
      defaults: &defaults,
      defaults_first: def.kind == Kind::Histogram,
    };
    let v = &f.values[n * stride..(n + 1) * stride];
    match def.kind {
      Kind::Counter => {
        sample(
          out,
          name,
          if om { "_total" } else { "" },
          &labels,
          None,
          v[0],
        );
        exemplar(out, f.exemplars[n], opts.format);
      }
      Kind::Gauge => sample(out, name, "", &labels, None, v[0]),
      Kind::Histogram => {
        let nb = def.buckets.len();
        let ex = &f.exemplars[n * (nb + 1)..(n + 1) * (nb + 1)];
        let mut cum = 0.0;
        for (i, b) in def.buckets.iter().enumerate() {
          cum += v[i];
          le.clear();
          write_value(&mut le, *b);
          sample(out, name, "_bucket", &labels, Some(("le", &le)), cum);
          exemplar(out, ex[i], opts.format);
        }
        cum += v[nb];
        sample(out, name, "_bucket", &labels, Some(("le", "+Inf")), cum);
        exemplar(out, ex[nb], opts.format);
        if !om || !may_hold_negatives(def) {
          sample(out, name, "_sum", &labels, None, v[nb + 1]);
          sample(out, name, "_count", &labels, None, cum);
        }
      }
      Kind::Summary => {
        let nq = def.quantiles.len();
        for (i, q) in def.quantiles.iter().enumerate() {
          le.clear();
          write_value(&mut le, *q);
          sample(out, name, "", &labels, Some(("quantile", &le)), v[i]);
        }
        sample(out, name, "_sum", &labels, None, v[nq]);
        sample(out, name, "_count", &labels, None, v[nq + 1]);
      }
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn v(x: f64) -> String {
    let mut s = String::new();
    write_value(&mut s, x);
    s
  }

  #[test]
  fn values_are_written_like_prometheus() {
    assert_eq!(v(f64::NAN), "NaN");
    assert_eq!(v(f64::INFINITY), "+Inf");
    assert_eq!(v(f64::NEG_INFINITY), "-Inf");
    assert_eq!(v(-0.0), "0");
    assert_eq!(v(42.0), "42");
    assert_eq!(v(0.005), "0.005");
    assert_eq!(v(2.5), "2.5");
    assert_eq!(v(1e-9), "1e-9");
    assert_eq!(v(1.5e300), "1.5e+300");
    assert_eq!(v(1e21), "1e+21");
  }

  #[test]
  fn stored_labels_expand_to_pairs() {
    let names = vec!["a".to_string(), "b".to_string()];
    let stored = store_values(&["x\ny".to_string(), String::new()]);
    assert_eq!(stored, "x\\ny\n");
    let mut out = String::new();
    expand_stored(&mut out, &names, &stored);
    assert_eq!(out, r#"a="x\ny",b="""#);
  }

  #[test]
  fn absent_labels_are_skipped_and_order_is_applied() {
    let names = vec!["a".to_string(), "b".to_string(), "c".to_string()];
    let stored = store_label_values(&[Some("1".into()), None, Some("3".into())]);
    let mut out = String::new();
    expand_stored(&mut out, &names, &stored);
    assert_eq!(out, r#"a="1",c="3""#);
    out.clear();
    expand_ordered(&mut out, &names, &stored, Some(&[2, 1, 0]));
    assert_eq!(out, r#"c="3",a="1""#);
    out.clear();
    let all = vec![
      ("b".to_string(), "d".to_string()),
      ("a".to_string(), "e".to_string()),
    ];
    series_defaults(&mut out, &all, &names, &stored);
    assert_eq!(out, r#"b="d""#);
  }

  #[test]
  fn label_values_are_escaped() {
    let names = vec!["a".to_string(), "b".to_string()];
    let values = vec!["x\"y\\z\nw".to_string(), "ünï".to_string()];
    assert_eq!(render_labels(&names, &values), r#"a="x\"y\\z\nw",b="ünï""#);
  }

  fn histogram(buckets: Vec<f64>) -> crate::store::FamilyDef {
    crate::store::FamilyDef {
      name: "h".into(),
      help: "x".into(),
      kind: Kind::Histogram,
      label_names: vec![],
      buckets,
      quantiles: vec![],
      max_age_ms: 0.0,
      age_buckets: 1,
      aggregator: crate::store::Aggregator::Sum,
      native: None,
    }
  }

  fn render(def: &crate::store::FamilyDef, values: Vec<f64>, format: Format) -> String {
    let f = MergedFamily {
      def,
      values,
      labels: [""].into_iter().collect(),
      exemplars: vec![None; def.buckets.len() + 1],
      native: vec![],
    };
    let opts = EncodeOptions {
      format,
      default_labels: &[],
    };
    let mut out = String::new();
    encode(&[f], &opts, &mut out);
    out
  }

  #[test]
  fn open_metrics_histograms_with_a_negative_bucket_have_no_sum_or_count() {
    let def = histogram(vec![-1.0, 1.0]);
    assert_eq!(
      render(&def, vec![1.0, 0.0, 1.0, -4.0], Format::OpenMetrics),
      "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"-1\"} 1\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n# EOF\n"
    );
    assert_eq!(
      render(&def, vec![1.0, 0.0, 1.0, -4.0], Format::Text),
      "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"-1\"} 1\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum -4\nh_count 2\n"
    );
    let def = histogram(vec![0.0, 1.0]);
    assert!(render(&def, vec![1.0, 0.0, 0.0, 0.0], Format::OpenMetrics)
      .contains("\nh_sum 0\nh_count 1\n"));
  }

  #[test]
  fn help_escapes_depend_on_format() {
    let mut s = String::new();
    escape_help(&mut s, "a\\b\n\"c\"", Format::Text);
    assert_eq!(s, "a\\\\b\\n\"c\"");
    s.clear();
    escape_help(&mut s, "a\\b\n\"c\"", Format::OpenMetrics);
    assert_eq!(s, "a\\\\b\\n\\\"c\\\"");
  }
}
