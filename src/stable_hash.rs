//! A hash that is the same on every machine, run and version of vigil.
//!
//! Shard routing and incident ids must not change between runs, so they use
//! xxh3 with its fixed default seed rather than the std hasher (which is
//! randomly keyed).

use xxhash_rust::xxh3::xxh3_64;

/// The stable 64-bit hash of `bytes`.
#[must_use]
pub fn stable_hash(bytes: &[u8]) -> u64 {
    xxh3_64(bytes)
}

/// The shard, out of `shards`, that owns records with this routing key.
#[must_use]
pub fn shard_of(route_key: &[u8], shards: usize) -> usize {
    let shards = u64::try_from(shards.max(1)).unwrap_or(1);
    usize::try_from(stable_hash(route_key) % shards).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_values_are_fixed_across_runs() {
        assert_eq!(stable_hash(b"user123"), xxh3_64(b"user123"));
        assert_eq!(stable_hash(b""), 0x2d06_8005_38d3_94c2);
    }

    #[test]
    fn shard_is_always_in_range() {
        for shards in 1..8 {
            for user in ["a", "b", "user-42", "ü"] {
                assert!(shard_of(user.as_bytes(), shards) < shards);
            }
        }
    }
}
