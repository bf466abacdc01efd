//! Field-level leniency for generated response types.
//!
//! The specs are wrong in places (an array declared where the server sends objects, an object
//! where it sends a string). Generated types decode each optional field through [`optional`],
//! so one such field reads as `None` instead of failing the whole response.

use serde::de::DeserializeOwned;
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
