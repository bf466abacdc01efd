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
use serde::ser::{Error as _, SerializeMap};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

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

/// One variant of an `anyOf` object, read from the whole object: `None` when it does not fit
/// (a written `Deserialize` impl's field, as serde's `flatten` of a lenient `Option` reads it).
pub fn flattened<T: DeserializeOwned>(object: &Value) -> Option<T> {
    T::deserialize(object).ok()
}

/// Writes an `anyOf` variant's fields, when it is present, into the object being written (a
/// written `Serialize` impl's field, as serde's `flatten` writes it).
///
/// # Errors
///
/// The serializer's; or when the variant does not serialize as an object, which no
/// generated `anyOf` variant does.
pub fn flatten_into<M: SerializeMap, T: Serialize>(
    map: &mut M,
    variant: &Option<T>,
) -> Result<(), M::Error> {
    let Some(variant) = variant else {
        return Ok(());
    };
    match serde_json::to_value(variant).map_err(M::Error::custom)? {
        Value::Object(fields) => fields
            .iter()
            .try_for_each(|(key, value)| map.serialize_entry(key, value)),
        _ => Err(M::Error::custom(
            "an anyOf variant that is not an object cannot be merged into one",
        )),
    }
}

#[cfg(test)]
mod tests {
    use serde::ser::{SerializeMap as _, Serializer as _};
    use serde::{Deserialize, Serialize};
    use serde_json::{Value, json};

    use super::{flatten_into, flattened};

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    struct Text {
        id: String,
        value: Option<String>,
    }

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    struct Number {
        id: String,
        number: f64,
    }

    #[test]
    fn an_any_of_variant_is_read_from_the_whole_object_and_written_back_into_one() {
        let object = json!({"id": "f1", "value": "x", "other": true});
        let text = flattened::<Text>(&object);
        assert_eq!(
            text,
            Some(Text {
                id: "f1".into(),
                value: Some("x".into())
            })
        );
        assert_eq!(
            flattened::<Number>(&object),
            None,
            "no `number`: not this variant"
        );

        let mut out = Vec::new();
        let mut serializer = serde_json::Serializer::new(&mut out);
        let mut map = serializer.serialize_map(None).expect("a map");
        flatten_into(&mut map, &text).expect("written");
        flatten_into(&mut map, &None::<Number>).expect("nothing to write");
        map.end().expect("ended");
        let written: Value = serde_json::from_slice(&out).expect("JSON");
        assert_eq!(written, json!({"id": "f1", "value": "x"}));

        let mut out = Vec::new();
        let mut serializer = serde_json::Serializer::new(&mut out);
        let mut map = serializer.serialize_map(None).expect("a map");
        let error = flatten_into(&mut map, &Some(3)).expect_err("a number has no fields");
        assert!(error.to_string().contains("not an object"), "{error}");
    }

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
