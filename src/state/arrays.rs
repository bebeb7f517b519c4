//! Serde for fixed-size arrays longer than serde's built-in 32 elements,
//! written as a sequence and read back only at the exact length.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Writes the array as a sequence.
///
/// # Errors
/// Returns the serializer's error.
pub fn serialize<S, T, const N: usize>(array: &[T; N], serializer: S) -> Result<S::Ok, S::Error>
where
    S: Serializer,
    T: Serialize,
{
    serializer.collect_seq(array.iter())
}

/// Reads a sequence of exactly `N` elements.
///
/// # Errors
/// Returns the deserializer's error, or a length error.
pub fn deserialize<'de, D, T, const N: usize>(deserializer: D) -> Result<[T; N], D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let items = Vec::<T>::deserialize(deserializer)?;
    let found = items.len();
    items
        .try_into()
        .map_err(|_| D::Error::invalid_length(found, &format!("{N} elements").as_str()))
}
