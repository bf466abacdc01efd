//! What a generated `send()` writes its query parameters with: `.query(&Param::new("limit",
//! &limit))` on the request builder, one call per parameter.
//!
//! OpenAPI's default for a query parameter is `style: form, explode: true`: a scalar is one
//! `name=value` pair, an array one pair per item under the parameter's name, an object one pair
//! per property under the property's name, and an absent (`None`) parameter nothing. The value
//! goes through `serde_json::Value` first, so an enum is written as the string it is sent as in
//! JSON bodies; a nested array or object inside an array or object, which form style cannot
//! express, is written as its JSON text.

use serde::ser::{Error as _, Serialize, Serializer};
use serde_json::Value;

/// One query parameter, serialized as its `(name, value)` pairs.
pub struct Param<'a, T: ?Sized> {
    name: &'a str,
    value: &'a T,
}

impl<'a, T: ?Sized> Param<'a, T> {
    /// The parameter `name` with `value` (an `Option`, a scalar, an enum, an array, an
    /// object).
    #[inline]
    pub fn new(name: &'a str, value: &'a T) -> Self {
        Self { name, value }
    }
}

impl<T: ?Sized> std::fmt::Debug for Param<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Param")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<T: Serialize + ?Sized> Serialize for Param<'_, T> {
    /// The parameter's `(name, text)` pairs, written as they are made (no list of them).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let value = serde_json::to_value(self.value).map_err(|error| {
            S::Error::custom(format_args!("query parameter `{}`: {error}", self.name))
        })?;
        match value {
            Value::Null => serializer.collect_seq(std::iter::empty::<(&str, String)>()),
            Value::Array(items) => serializer.collect_seq(
                items
                    .into_iter()
                    .filter(|item| !item.is_null())
                    .map(|item| (self.name, text(item))),
            ),
            Value::Object(properties) => serializer.collect_seq(
                properties
                    .into_iter()
                    .filter(|(_, item)| !item.is_null())
                    .map(|(key, item)| (key, text(item))),
            ),
            scalar => serializer.collect_seq([(self.name, text(scalar))]),
        }
    }
}

/// A value as it is written after `=`: a string as itself, anything else as its JSON text.
fn text(value: Value) -> String {
    match value {
        Value::String(text) => text,
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn client() -> reqwest::Client {
        crate::tls::install_crypto_provider().expect("the default ring provider");
        reqwest::Client::new()
    }

    /// The query string reqwest writes for these parameters, in order.
    fn query(build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder) -> String {
        let client = client();
        let request = build(client.get("http://h/x")).build().expect("a request");
        request.url().query().unwrap_or_default().to_owned()
    }

    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    enum Sort {
        Asc,
        DateAdded,
    }

    #[test]
    fn scalars_are_one_pair_each_and_none_is_left_out() {
        let limit = Some(20_i64);
        let skip: Option<i64> = None;
        let location = "loc 1&2=3".to_owned();
        let ratio = 0.5_f64;
        let active = true;
        assert_eq!(
            query(|r| r
                .query(&Param::new("limit", &limit))
                .query(&Param::new("skip", &skip))
                .query(&Param::new("locationId", &location))
                .query(&Param::new("ratio", &ratio))
                .query(&Param::new("active", &Some(active)))),
            "limit=20&locationId=loc+1%262%3D3&ratio=0.5&active=true"
        );
    }

    #[test]
    fn an_enum_is_the_string_it_is_sent_as() {
        assert_eq!(
            query(|r| r
                .query(&Param::new("sort", &Some(Sort::DateAdded)))
                .query(&Param::new("order", &Sort::Asc))),
            "sort=dateAdded&order=asc"
        );
    }

    #[test]
    fn an_array_repeats_the_name() {
        let ids = Some(vec!["a".to_owned(), "b c".to_owned()]);
        let empty: Vec<String> = Vec::new();
        let sorts = vec![Sort::Asc, Sort::DateAdded];
        assert_eq!(
            query(|r| r
                .query(&Param::new("ids", &ids))
                .query(&Param::new("none", &empty))
                .query(&Param::new("sort", &sorts))),
            "ids=a&ids=b+c&sort=asc&sort=dateAdded"
        );
    }

    #[test]
    fn an_object_is_exploded_into_its_properties() {
        let filter = BTreeMap::from([("from", Some(1)), ("skipped", None), ("to", Some(9))]);
        assert_eq!(
            query(|r| r.query(&Param::new("filter", &filter))),
            "from=1&to=9"
        );
    }

    #[test]
    fn nested_values_are_written_as_json() {
        let nested = vec![vec![1, 2]];
        assert_eq!(
            query(|r| r.query(&Param::new("n", &nested))),
            "n=%5B1%2C2%5D"
        );
    }

    #[test]
    fn a_value_json_cannot_hold_fails_the_build_not_the_process() {
        // A map with non-string keys has no JSON form.
        let odd = BTreeMap::from([((1, 2), 3)]);
        let client = client();
        let error = client
            .get("http://h/x")
            .query(&Param::new("odd", &odd))
            .build()
            .expect_err("no JSON form");
        assert!(error.is_builder(), "{error:?}");
    }
}
