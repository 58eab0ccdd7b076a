//! The core's one hasher for maps whose keys need no protection against chosen collisions.

/// FxHash (rustc's): a multiply and a rotate per word. Used for maps keyed by field bytes (the
/// render's aggregation, the writer's series, the one-host view), which are read from Redis or
/// are this process's own names and labels: SipHash's protection against chosen collisions costs
/// ~2× there and buys little, since whoever can write those keys can already write any value.
/// And for the store's maps keyed by numbers that are already hashes or ids (a label value's
/// 32-bit hash, a registry [`Key`](crate::store)'s seeded hash, family ids): one multiply spreads
/// them over the 64 bits (hash maps take the bucket from the low bits and a tag from the high).
#[derive(Default, Clone, Copy)]
pub struct Fx(u64);

impl std::hash::Hasher for Fx {
  fn write(&mut self, bytes: &[u8]) {
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
      self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
      let mut b = [0u8; 8];
      b[..rest.len()].copy_from_slice(rest);
      self.add(u64::from_le_bytes(b));
    }
  }
  fn write_u8(&mut self, i: u8) {
    self.add(u64::from(i));
  }
  fn write_u32(&mut self, i: u32) {
    self.add(u64::from(i));
  }
  fn write_u64(&mut self, i: u64) {
    self.add(i);
  }
  fn write_usize(&mut self, i: usize) {
    self.add(i as u64);
  }
  fn finish(&self) -> u64 {
    self.0
  }
}

impl Fx {
  #[inline]
  fn add(&mut self, w: u64) {
    self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
  }
}

/// Builds [`Fx`] hashers.
pub type FxBuild = std::hash::BuildHasherDefault<Fx>;
