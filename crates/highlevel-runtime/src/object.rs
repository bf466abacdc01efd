//! The runtime's own types are read from JSON objects by hand, not through serde's derive.
//!
//! serde's `derive` feature compiles `serde_derive` (and runs it) in every build of an
//! application using the SDK: about 2 s of a 47 s cold `contacts` build's CPU (issue 15).
//! The module crates write their impls out (`xtask/src/codegen/serde_impls.rs`); these few
//! types, read only when a session is loaded, an install is listed or an error body arrives,
//! go through a `serde_json::Value` instead, which keeps each impl a few lines.

use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, Error};
use serde_json::{Map, Value};

/// A JSON object whose fields are being taken out, one by one, into a type's fields; `E` is
/// the error of the deserializer it came from.
pub(crate) struct Object<E> {
    fields: Map<String, Value>,
    error: PhantomData<E>,
}

impl<E: Error> Object<E> {
    /// Reads an object; anything else is an error naming `what` was expected.
    pub(crate) fn read<'de, D>(deserializer: D, what: &'static str) -> Result<Self, E>
    where
        D: Deserializer<'de, Error = E>,
    {
        Self::from_value(Value::deserialize(deserializer)?, what)
    }

    /// The object `value` is; anything else is an error naming `what` was expected.
    pub(crate) fn from_value(value: Value, what: &'static str) -> Result<Self, E> {
        match value {
            Value::Object(fields) => Ok(Self {
                fields,
                error: PhantomData,
            }),
            _ => Err(E::custom(format_args!("expected {what}"))),
        }
    }

    /// A field that must be there: its absence is serde's "missing field" error.
    pub(crate) fn required<T: DeserializeOwned>(&mut self, name: &'static str) -> Result<T, E> {
        let value = self
            .fields
            .remove(name)
            .ok_or_else(|| E::missing_field(name))?;
        decode(name, value)
    }

    /// A field that may be absent or `null` (`None`); a value of another type is an error.
    pub(crate) fn optional<T: DeserializeOwned>(
        &mut self,
        name: &'static str,
    ) -> Result<Option<T>, E> {
        match self.fields.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => decode(name, value).map(Some),
        }
    }

    /// A field's value as it came, for a reader that takes whatever it finds.
    pub(crate) fn take(&mut self, name: &str) -> Option<Value> {
        self.fields.remove(name)
    }
}

fn decode<T: DeserializeOwned, E: Error>(name: &str, value: Value) -> Result<T, E> {
    T::deserialize(value).map_err(|error| E::custom(format_args!("field `{name}`: {error}")))
}

/// Reads a string and matches it against `names`: the position of the one it is.
pub(crate) fn one_of<'de, D: Deserializer<'de>>(
    deserializer: D,
    names: &'static [&'static str],
) -> Result<usize, D::Error> {
    let text = String::deserialize(deserializer)?;
    names
        .iter()
        .position(|name| *name == text)
        .ok_or_else(|| D::Error::unknown_variant(&text, names))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(json: &str) -> Object<serde_json::Error> {
        Object::read(&mut serde_json::Deserializer::from_str(json), "an object").expect("object")
    }

    #[test]
    fn fields_are_required_optional_or_taken_as_they_came() {
        let mut fields = object(r#"{"a":"x","b":null,"c":7,"d":[1]}"#);
        assert_eq!(fields.required::<String>("a").ok(), Some("x".into()));
        assert_eq!(fields.optional::<u64>("b").ok(), Some(None));
        assert_eq!(fields.optional::<u64>("c").ok(), Some(Some(7)));
        assert_eq!(fields.optional::<u64>("absent").ok(), Some(None));
        assert_eq!(fields.take("d"), Some(serde_json::json!([1])));
        let missing = fields.required::<String>("a").err();
        assert_eq!(
            missing.map(|e| e.to_string()),
            Some("missing field `a`".into())
        );
    }

    #[test]
    fn a_value_of_another_type_names_its_field() {
        let mut fields = object(r#"{"n":"seven"}"#);
        let error = fields.optional::<u64>("n").expect_err("not a number");
        assert!(
            error.to_string().starts_with("field `n`: invalid type"),
            "{error}"
        );
    }

    #[test]
    fn not_an_object_and_unknown_names_are_errors() {
        let error = Object::read(&mut serde_json::Deserializer::from_str("[1]"), "a session")
            .err()
            .map(|e| e.to_string());
        assert_eq!(error.as_deref(), Some("expected a session"));
        let names = &["Location", "Company"];
        let read = |json: &str| one_of(&mut serde_json::Deserializer::from_str(json), names);
        assert_eq!(read(r#""Company""#).ok(), Some(1));
        assert!(read(r#""Agency""#).is_err());
        assert!(read("1").is_err());
    }
}
