//! The shared protocol vectors (`test/fixtures/protocol-vectors.json`) against the core's model
//! of the scripts ([`super::model::Model`]). The same file runs against the real `apply.lua` on
//! a real redis-server (`test/protocol-vectors.test.ts`), so the model and the scripts cannot
//! drift apart unnoticed.

use serde_json::Value;

use super::model::{Model, Resp};

const VECTORS: &str = include_str!("../../../test/fixtures/protocol-vectors.json");

/// The model's clock at a case's start (`at` is added).
const T0: f64 = 1_700_000_000_000.0;

fn strings(v: &Value) -> Vec<String> {
  v.as_array()
    .expect("an array of strings")
    .iter()
    .map(|s| s.as_str().expect("a string").to_owned())
    .collect()
}

/// `{tK}` / `{tK+N}` in `s` → step K's time (+ N).
fn resolve(s: &str, times: &[Option<f64>]) -> String {
  let mut out = String::new();
  let mut rest = s;
  while let Some(i) = rest.find("{t") {
    let Some(j) = rest[i..].find('}') else { break };
    let token = &rest[i + 2..i + j];
    let (k, n) = token.split_once('+').unwrap_or((token, "0"));
    let (Ok(k), Ok(n)) = (k.parse::<usize>(), n.parse::<f64>()) else {
      out.push_str(&rest[..i + 2]);
      rest = &rest[i + 2..];
      continue;
    };
    let t = times[k].unwrap_or_else(|| panic!("{{t{k}}} names a step without a time"));
    out.push_str(&rest[..i]);
    out.push_str(&super::field::value(t + n));
    rest = &rest[i + j + 1..];
  }
  out.push_str(rest);
  out
}

fn resolved(v: &Value, times: &[Option<f64>]) -> Value {
  match v {
    Value::String(s) => Value::String(resolve(s, times)),
    Value::Object(m) => Value::Object(
      m.iter()
        .map(|(k, v)| (k.clone(), resolved(v, times)))
        .collect(),
    ),
    other => other.clone(),
  }
}

#[test]
fn the_apply_vectors_hold_on_the_model() {
  let doc: Value = serde_json::from_str(VECTORS).expect("valid JSON");
  let cases = doc["apply"].as_array().expect("apply cases");
  assert_eq!(cases.len(), 8);
  assert!(doc["read"].is_array());
  for case in cases {
    let name = case["name"].as_str().expect("a name");
    let prefix = case["prefix"].as_str().expect("a prefix");
    let mut m = Model::default();
    let mut times = Vec::new();
    for (i, step) in case["steps"].as_array().expect("steps").iter().enumerate() {
      let now = T0 + step["at"].as_f64().expect("at");
      if step["wipe"].as_bool() == Some(true) {
        m = Model::default();
        times.push(None);
      } else if step["command"].is_array() {
        let reply = m.command(&strings(&step["command"]));
        let want = step["reply"].as_i64().expect("an integer reply");
        assert_eq!(reply, Resp::Int(want), "{name}: step {i}");
        times.push(None);
      } else {
        let reply = m.apply(&strings(&step["keys"]), &strings(&step["argv"]), now);
        let want = strings(&step["reply"]);
        let Resp::Array(mut got) = reply else {
          panic!("{name}: step {i}: not an array: {reply:?}");
        };
        // The fourth element lists refused families (protocol §5): none in these cases.
        if got.len() == 4 {
          assert_eq!(got.pop(), Some(Resp::Array(vec![])), "{name}: step {i}");
        }
        assert_eq!(
          got,
          vec![
            Resp::Bulk(want[0].clone()),
            Resp::Bulk(want[1].clone()),
            Resp::Int(now as i64),
          ],
          "{name}: step {i}"
        );
        times.push(Some(now));
      }
    }
    let want = resolved(&case["expect"], &times);
    let got = Value::Object(m.dump(&format!("promsd:{{{prefix}}}:")));
    assert_eq!(got, want, "{name}");
  }
}
