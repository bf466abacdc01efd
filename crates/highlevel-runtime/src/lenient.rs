//! Decoding generated response types leniently, and cheaply to compile.
//!
//! The specs are wrong in places (an array declared where the server sends objects, an object
//! where it sends a string). Each optional field of a generated type decodes through
//! [`optional`] (or [`put_optional`]), so one such field reads as `None` instead of failing
//! the whole response.
//!
//! Most generated structs do not use serde's derive for `Deserialize`: the generator writes a
//! short `visit_map` that finds each key with [`FieldIndex`] and decodes the value in place
//! with [`put`], [`put_optional`] or [`skip`], one call per field so that the impl stays small
//! to check (`xtask/src/codegen/serde_impls.rs`). serde's derive also emits a sequence visitor, a
//! field-name enum and two wrapper types per lenient field; none of that is needed for JSON
//! objects, and it was half of a generated crate's compile time.

use std::fmt;

use serde::de::{DeserializeOwned, DeserializeSeed, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// Decodes an optional field; a value that does not fit the declared type reads as `None`.
///
/// # Errors
///
/// Only when the input is not JSON at all (the surrounding decode fails anyway).
pub fn optional<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let value = Option::<serde_json::Value>::deserialize(deserializer)?;
    Ok(value.and_then(|value| serde_json::from_value(value).ok()))
}

/// Reads a map's next value into `slot` (a written `Deserialize` impl's field).
///
/// # Errors
///
/// The deserializer's, when the value does not decode as `T`.
pub fn put<'de, A, T>(map: &mut A, slot: &mut Option<T>) -> Result<(), A::Error>
where
    A: MapAccess<'de>,
    T: Deserialize<'de>,
{
    *slot = Some(map.next_value()?);
    Ok(())
}

/// Reads a map's next value into `slot` as an optional field, decoded like [`optional`]: a
/// value that does not decode as `T` is `None`.
///
/// # Errors
///
/// The deserializer's, only when the input is not JSON at all.
pub fn put_optional<'de, A, T>(map: &mut A, slot: &mut Option<Option<T>>) -> Result<(), A::Error>
where
    A: MapAccess<'de>,
    T: DeserializeOwned,
{
    *slot = Some(map.next_value::<Lenient<T>>()?.0);
    Ok(())
}

/// Skips a map's next value (a key the type does not have).
///
/// # Errors
///
/// The deserializer's, only when the input is not JSON at all.
pub fn skip<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    map.next_value::<serde::de::IgnoredAny>().map(drop)
}

/// An optional value decoded like [`optional`].
struct Lenient<T>(Option<T>);

impl<'de, T: DeserializeOwned> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        optional(deserializer).map(Lenient)
    }
}

/// Reads an object key as its position in a struct's field names: `Some(index)`, or `None`
/// for a key the struct does not have (its value is skipped).
#[derive(Debug, Clone, Copy)]
pub struct FieldIndex(pub &'static [&'static str]);

impl FieldIndex {
    fn find(self, key: &str) -> Option<usize> {
        self.0.iter().position(|name| *name == key)
    }
}

impl<'de> DeserializeSeed<'de> for FieldIndex {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl Visitor<'_> for FieldIndex {
    type Value = Option<usize>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a field name")
    }

    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.find(key))
    }

    fn visit_bytes<E: serde::de::Error>(self, key: &[u8]) -> Result<Self::Value, E> {
        Ok(std::str::from_utf8(key).ok().and_then(|key| self.find(key)))
    }

    // Formats whose maps have integer keys: no field of a generated type is named by one.
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// A required field that was not in the object: serde's own "missing field" error.
///
/// # Errors
///
/// Always, when `value` is `None`.
pub fn required<T, E: serde::de::Error>(value: Option<T>, name: &'static str) -> Result<T, E> {
    value.ok_or_else(|| E::missing_field(name))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Pipeline {
        #[serde(default, deserialize_with = "super::optional")]
        stages: Option<Vec<Vec<String>>>,
        #[serde(default, deserialize_with = "super::optional")]
        name: Option<String>,
    }

    #[test]
    fn a_mistyped_field_is_none_and_the_rest_decodes() {
        let decoded: Pipeline =
            serde_json::from_str(r#"{"stages":[{"id":"s1"}],"name":"Sales"}"#).expect("decodes");
        assert_eq!(
            decoded,
            Pipeline {
                stages: None,
                name: Some("Sales".into())
            }
        );
        let fitting: Pipeline = serde_json::from_str(r#"{"stages":[["a"]]}"#).expect("decodes");
        assert_eq!(fitting.stages, Some(vec![vec!["a".to_owned()]]));
        let absent: Pipeline = serde_json::from_str(r#"{"name":null}"#).expect("decodes");
        assert_eq!(
            absent,
            Pipeline {
                stages: None,
                name: None
            }
        );
    }
}
