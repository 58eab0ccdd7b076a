//! Field names, value strings and metadata JSON (protocol §4–§6).

use std::fmt::Write;

use serde_json::{json, Value};

use crate::store::{Aggregator, FamilyDef, Kind};

/// Whether a counter item's field is the one that makes its series exist at zero: a counter's
/// value (part empty) or a histogram's or summary's `sum`. apply.lua creates such a field at 0
/// when its series has only ever been zero (`HSETNX`), so `inc(0)`, an untouched unlabelled
/// counter or `zero()` show in the aggregate as they do locally; other zero parts stay absent
/// (absent is 0 to readers) and cost nothing.
pub fn marks_series(field: &str) -> bool {
  matches!(split(field), Some((_, "" | "sum", _)))
}

/// `<name>|<part>|<labels>`.
pub fn field(name: &str, part: &str, labels: &str) -> String {
  let mut s = String::with_capacity(name.len() + part.len() + labels.len() + 2);
  s.push_str(name);
  s.push('|');
  s.push_str(part);
  s.push('|');
  s.push_str(labels);
  s
}

/// Splits a field into (name, part, labels).
pub fn split(field: &str) -> Option<(&str, &str, &str)> {
  let (name, rest) = field.split_once('|')?;
  let (part, labels) = rest.split_once('|')?;
  Some((name, part, labels))
}

/// A value as the protocol writes it: shortest round-trip decimal, `NaN`, `+Inf`, `-Inf`.
pub fn value(v: f64) -> String {
  if v.is_nan() {
    "NaN".into()
  } else if v.is_infinite() {
    if v > 0.0 { "+Inf" } else { "-Inf" }.into()
  } else {
    let mut s = String::new();
    let _ = write!(s, "{v}");
    s
  }
}

/// Parses a value string (the text before a space, if any).
pub fn parse(s: &str) -> Option<f64> {
  let s = s.split(' ').next().unwrap_or("");
  match s {
    "NaN" | "nan" => Some(f64::NAN),
    "+Inf" | "inf" | "+inf" | "Inf" => Some(f64::INFINITY),
    "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
    _ => s.parse().ok(),
  }
}

/// The sketch part of a bin key of [`crate::sketch`] (`z`, `p<k>`, `n<k>`).
pub fn bin_part(key: i64) -> String {
  use crate::sketch::SIDE;
  if key == 0 {
    "z".into()
  } else if key > 0 {
    format!("p{}", key - SIDE)
  } else {
    format!("n{}", -key - SIDE)
  }
}

/// The bin key of a sketch part, or `None` when it is not one.
pub fn bin_key(part: &str) -> Option<i64> {
  use crate::sketch::SIDE;
  if part == "z" {
    return Some(0);
  }
  let (sign, k) = part.split_at_checked(1)?;
  let k: i64 = k.parse().ok()?;
  match sign {
    "p" => Some(SIDE + k),
    "n" => Some(-SIDE - k),
    _ => None,
  }
}

/// The part of a native histogram bucket: `np<schema>:<index>` (positive), `nn<schema>:<index>`
/// (negative); the zero bucket is `nz`.
pub fn native_part(negative: bool, schema: i32, index: i32) -> String {
  format!("{}{schema}:{index}", if negative { "nn" } else { "np" })
}

/// (negative, schema, index) of a native bucket part, or `None` when it is not one.
pub fn native_key(part: &str) -> Option<(bool, i32, i32)> {
  let negative = match part.get(..2)? {
    "np" => false,
    "nn" => true,
    _ => return None,
  };
  let (schema, index) = part[2..].split_once(':')?;
  Some((negative, schema.parse().ok()?, index.parse().ok()?))
}

/// Parses an aggregator name of the metadata.
pub fn aggregator(s: &str) -> Option<Aggregator> {
  Aggregator::parse(s)
}

/// Metadata JSON of a family (§5).
pub fn meta_json(def: &FamilyDef) -> String {
  let mut m = json!({
    "v": 1,
    "type": def.kind.as_str(),
    "help": def.help,
    "labelNames": def.label_names,
    "aggregator": def.aggregator.as_str(),
  });
  match def.kind {
    Kind::Histogram => {
      m["buckets"] = json!(def.buckets);
      if let Some(n) = def.native {
        m["native"] = json!({ "schema": n.schema, "zeroThreshold": n.zero_threshold });
      }
    }
    Kind::Summary => {
      m["quantiles"] = json!(def.quantiles);
      m["maxAgeSeconds"] = if def.max_age_ms.is_finite() {
        json!(def.max_age_ms / 1000.0)
      } else {
        Value::Null
      };
      m["ageBuckets"] = json!(def.age_buckets);
    }
    _ => {}
  }
  m.to_string()
}

/// The process info JSON of a process's gauges hash (§6): keys in serde_json's (sorted) order.
pub fn process_info(label: &str, host: &str, lib: &str) -> String {
  json!({
    "v": 1,
    "label": label,
    "host": host,
    "pid": std::process::id(),
    "started": std::time::SystemTime::now()
      .duration_since(std::time::UNIX_EPOCH)
      .map_or(0, |d| d.as_millis() as u64),
    "lib": lib,
  })
  .to_string()
}

fn floats(v: &Value) -> Option<Vec<f64>> {
  v.as_array()?.iter().map(Value::as_f64).collect()
}

/// Parses metadata JSON into a definition; `None` for an unknown version or a bad document.
pub fn parse_meta(name: &str, json: &str) -> Option<FamilyDef> {
  let m: Value = serde_json::from_str(json).ok()?;
  if m["v"].as_u64()? != 1 {
    return None;
  }
  let kind = match m["type"].as_str()? {
    "counter" => Kind::Counter,
    "gauge" => Kind::Gauge,
    "histogram" => Kind::Histogram,
    "summary" => Kind::Summary,
    _ => return None,
  };
  let label_names = m["labelNames"]
    .as_array()?
    .iter()
    .map(|v| v.as_str().map(str::to_owned))
    .collect::<Option<Vec<_>>>()?;
  Some(FamilyDef {
    name: name.to_owned(),
    help: m["help"].as_str().unwrap_or("").to_owned(),
    kind,
    label_names,
    buckets: if kind == Kind::Histogram {
      floats(&m["buckets"])?
    } else {
      Vec::new()
    },
    quantiles: if kind == Kind::Summary {
      floats(&m["quantiles"])?
    } else {
      Vec::new()
    },
    max_age_ms: m["maxAgeSeconds"]
      .as_f64()
      .map_or(f64::INFINITY, |s| s * 1000.0),
    age_buckets: m["ageBuckets"].as_u64().unwrap_or(1) as u32,
    aggregator: m["aggregator"]
      .as_str()
      .and_then(aggregator)
      .unwrap_or(Aggregator::Sum),
    native: match (kind, m["native"].is_object()) {
      (Kind::Histogram, true) => Some(crate::store::NativeDef {
        schema: m["native"]["schema"].as_i64().unwrap_or(8) as i32,
        zero_threshold: m["native"]["zeroThreshold"].as_f64().unwrap_or(0.0),
        max_buckets: 0,
        min_reset_ms: 0.0,
      }),
      _ => None,
    },
  })
}

/// The metadata keys whose difference would merge series wrongly (§5), in the order they are
/// compared; `apply.lua` compares the same keys.
pub const SHAPE_KEYS: [&str; 4] = ["type", "labelNames", "buckets", "quantiles"];

fn shape_list(v: &Value) -> &[Value] {
  v.as_array().map_or(&[], Vec::as_slice)
}

/// The first key of [`SHAPE_KEYS`] on which two metadata documents differ; `None` when a series
/// of one may be merged with a series of the other. Absent lists count as empty, numbers
/// compare as numbers (`1` = `1.0`), as in the script.
pub fn shape_differs(mine: &Value, stored: &Value) -> Option<&'static str> {
  if mine["type"] != stored["type"] {
    return Some("type");
  }
  SHAPE_KEYS[1..].iter().copied().find(|k| {
    let (a, b) = (shape_list(&mine[*k]), shape_list(&stored[*k]));
    a.len() != b.len()
      || a
        .iter()
        .zip(b)
        .any(|(x, y)| match (x.as_f64(), y.as_f64()) {
          (Some(x), Some(y)) => x != y,
          _ => x != y,
        })
  })
}

/// A metadata key's value as the refusal message shows it: numbers in the protocol's spelling
/// (`[10,100]`, not `[10.0,100.0]`), strings quoted.
pub fn shape_text(v: &Value) -> String {
  match v {
    Value::Array(items) => {
      let parts: Vec<String> = items.iter().map(shape_text).collect();
      format!("[{}]", parts.join(","))
    }
    Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), value),
    Value::Null => "[]".into(),
    other => other.to_string(),
  }
}

/// The message of a family refused by the aggregate: which key differs, ours and the stored one.
pub fn refusal_message(name: &str, key: &str, mine: &str, stored: &str) -> String {
  let parse = |s: &str| serde_json::from_str::<Value>(s).unwrap_or(Value::Null);
  let (m, s) = (parse(mine), parse(stored));
  let verb = if key == "type" { "differs" } else { "differ" };
  format!(
    "promsd: metric {name:?} refused by the aggregate: {key} {} {verb} from {} stored by another process",
    shape_text(&m[key]),
    shape_text(&s[key])
  )
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn fields_split_at_the_first_two_bars() {
    let f = field("h", "b3", "a|b\nc");
    assert_eq!(f, "h|b3|a|b\nc");
    assert_eq!(split(&f), Some(("h", "b3", "a|b\nc")));
  }

  #[test]
  fn values_round_trip() {
    for v in [
      0.1,
      1e300,
      -2.5,
      3.0,
      1e-9,
      f64::INFINITY,
      f64::NEG_INFINITY,
    ] {
      assert_eq!(parse(&value(v)), Some(v));
    }
    assert!(parse("NaN 123").unwrap().is_nan());
    assert_eq!(parse("4.5 1700000000000"), Some(4.5));
  }

  #[test]
  fn bin_parts_round_trip() {
    use crate::sketch::SIDE;
    for key in [0, SIDE + 5, SIDE - 12, -SIDE - 7, -SIDE + 3] {
      assert_eq!(bin_key(&bin_part(key)), Some(key));
    }
    assert_eq!(bin_part(SIDE - 12), "p-12");
    assert_eq!(bin_key("sum"), None);
  }

  #[test]
  fn native_parts_round_trip() {
    assert_eq!(native_part(false, 3, -16), "np3:-16");
    assert_eq!(native_key("np3:-16"), Some((false, 3, -16)));
    assert_eq!(native_key(&native_part(true, -2, 7)), Some((true, -2, 7)));
    assert_eq!(native_key("nz"), None);
    assert_eq!(native_key("sum"), None);
  }

  #[test]
  fn metadata_round_trips() {
    let def = FamilyDef {
      name: "s".into(),
      help: "a \"b\"\n".into(),
      kind: Kind::Summary,
      label_names: vec!["x".into()],
      buckets: vec![],
      quantiles: vec![0.5, 0.9],
      max_age_ms: f64::INFINITY,
      age_buckets: 1,
      aggregator: Aggregator::PerProcess,
      native: None,
    };
    let back = parse_meta("s", &meta_json(&def)).unwrap();
    assert!(back.compatible(&def));
    assert_eq!(back.help, def.help);
    assert!(meta_json(&def).contains("\"maxAgeSeconds\":null"));
  }

  #[test]
  fn shapes_differ_on_type_labels_buckets_and_quantiles_only() {
    let v = |s: &str| serde_json::from_str::<Value>(s).unwrap();
    let h = v(r#"{"type":"histogram","help":"a","labelNames":["r"],"buckets":[1,2]}"#);
    let same = v(r#"{"type":"histogram","help":"b","labelNames":["r"],"buckets":[1.0,2.0]}"#);
    assert_eq!(shape_differs(&h, &same), None);
    let other = v(r#"{"type":"histogram","labelNames":["r"],"buckets":[10,100]}"#);
    assert_eq!(shape_differs(&other, &h), Some("buckets"));
    assert_eq!(
      shape_differs(&v(r#"{"type":"gauge","labelNames":["r"]}"#), &h),
      Some("type")
    );
    assert_eq!(
      shape_differs(
        &v(r#"{"type":"histogram","labelNames":[],"buckets":[1,2]}"#),
        &h
      ),
      Some("labelNames")
    );
    assert_eq!(
      refusal_message(
        "http_seconds",
        "buckets",
        &other.to_string(),
        &h.to_string()
      ),
      "promsd: metric \"http_seconds\" refused by the aggregate: buckets [10,100] differ from [1,2] stored by another process"
    );
    assert_eq!(
      refusal_message("x", "type", r#"{"type":"gauge"}"#, r#"{"type":"counter"}"#),
      "promsd: metric \"x\" refused by the aggregate: type \"gauge\" differs from \"counter\" stored by another process"
    );
  }
}
