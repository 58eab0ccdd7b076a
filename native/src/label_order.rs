//! The order labels are written in, per metric name: prom-client writes a series' labels in
//! the key order of the call that created it, and users' snapshot tests depend on it. The
//! store keeps values in declaration order (so series from several threads merge by one
//! key); this table only changes how the encoder lays them out.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use napi_derive::napi;

fn table() -> &'static Mutex<HashMap<String, Vec<String>>> {
  static TABLE: OnceLock<Mutex<HashMap<String, Vec<String>>>> = OnceLock::new();
  TABLE.get_or_init(Mutex::default)
}

/// Sets the label order of metric `name` (a permutation of its label names; the latest
/// metric object to create its first labelled series wins).
#[napi]
pub fn label_order_set(name: String, order: Vec<String>) {
  table()
    .lock()
    .unwrap_or_else(|e| e.into_inner())
    .insert(name, order);
}

/// The positions of `names` in the recorded order of `name`, when one is recorded and is a
/// permutation of `names` other than the identity.
pub fn permutation(name: &str, names: &[String]) -> Option<Vec<usize>> {
  if names.len() < 2 {
    return None;
  }
  let t = table().lock().unwrap_or_else(|e| e.into_inner());
  let order = t.get(name)?;
  if order.len() != names.len() {
    return None;
  }
  let perm: Option<Vec<usize>> = order
    .iter()
    .map(|n| names.iter().position(|m| m == n))
    .collect();
  let perm = perm?;
  let identity = perm.iter().enumerate().all(|(i, &p)| i == p);
  let mut seen = vec![false; names.len()];
  for &p in &perm {
    if std::mem::replace(&mut seen[p], true) {
      return None;
    }
  }
  (!identity).then_some(perm)
}

#[cfg(test)]
mod tests {
  use super::*;

  fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
  }

  #[test]
  fn a_recorded_order_becomes_a_permutation() {
    label_order_set("order_test_a".into(), names(&["b", "c", "a"]));
    assert_eq!(
      permutation("order_test_a", &names(&["a", "b", "c"])),
      Some(vec![1, 2, 0])
    );
  }

  #[test]
  fn an_order_of_other_names_is_ignored() {
    label_order_set("order_test_b".into(), names(&["b", "x"]));
    assert_eq!(permutation("order_test_b", &names(&["a", "b"])), None);
    label_order_set("order_test_c".into(), names(&["a", "a"]));
    assert_eq!(permutation("order_test_c", &names(&["a", "b"])), None);
    label_order_set("order_test_d".into(), names(&["a", "b"]));
    assert_eq!(permutation("order_test_d", &names(&["a", "b"])), None);
  }
}
