//! Maps keyed by request id.
//!
//! Both sides keep the requests in flight in a map from their id. The standard hasher (SipHash)
//! resists keys chosen to collide, which ids are not: the host hands them out in sequence. One
//! multiplication by an odd constant (Fibonacci hashing) spreads sequential ids over the whole
//! range at a fraction of the cost.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` from request id to `V`.
pub type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

/// Hashes one `u64` by multiplying it by 2^64 / φ. See the [module docs](self).
#[derive(Debug, Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(byte)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u64(&mut self, id: u64) {
        self.0 = id.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_ids_differ_in_their_top_bits() {
        use std::hash::BuildHasher;
        let build = BuildHasherDefault::<IdHasher>::default();
        let tops: std::collections::HashSet<u64> =
            (0..128u64).map(|id| build.hash_one(id) >> 57).collect();
        assert!(tops.len() > 64, "only {} distinct", tops.len());
    }

    #[test]
    fn a_map_finds_what_it_holds() {
        let mut map = IdMap::default();
        for id in 0..10_000u64 {
            map.insert(id << 3, id);
        }
        assert!((0..10_000u64).all(|id| map.get(&(id << 3)) == Some(&id)));
    }
}
