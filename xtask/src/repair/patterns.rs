//! Patterns narrower than the values their own descriptions name: a request the API takes
//! would be refused by the SDK before it left, and the caller could not get around it.

use serde_json::Value;

use crate::openapi::for_each_schema;

/// Upstream's pattern on `timezone` (calendar schedules, Voice AI agents; v2 and v3), described
/// as an "IANA timezone identifier": one slash and letters only, so it refuses
/// `America/Argentina/Buenos_Aires`, `America/Port-au-Prince`, `Etc/GMT+5` and `UTC`.
const NARROW_TIME_ZONE: &str = "^[A-Za-z_]+/[A-Za-z_]+$";

/// What tz database names are made of: letters, digits, `.`, `_`, `+` and `-`, in components
/// split by `/`, starting with a letter. A space, an empty component or a leading digit is
/// still refused.
pub const TIME_ZONE: &str = "^[A-Za-z][A-Za-z0-9._+-]*(/[A-Za-z0-9._+-]+)*$";

/// Every schema with upstream's time zone pattern takes any IANA name instead, wherever the
/// pattern appears (a schema HighLevel adds with it is covered on the next regeneration).
pub fn widen_time_zone_patterns(spec: &mut Value) {
    for_each_schema(spec, &mut |schema| {
        if schema.get("pattern").and_then(Value::as_str) == Some(NARROW_TIME_ZONE) {
            schema.insert("pattern".into(), Value::from(TIME_ZONE));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repair::test_support::json;

    #[test]
    fn the_time_zone_pattern_is_widened_wherever_it_is_and_nothing_else_is() {
        let mut spec = json!({
            "components": { "schemas": {
                "Schedule": { "type": "object", "properties": {
                    "timezone": { "type": "string", "pattern": NARROW_TIME_ZONE,
                                  "example": "^[A-Za-z_]+/[A-Za-z_]+$" },
                    "time": { "type": "string", "pattern": "^([01]?[0-9]|2[0-3]):[0-5][0-9]$" }
                } },
                "Agent": { "type": "object", "properties": {
                    "settings": { "type": "object", "properties": {
                        "timezone": { "type": "string", "pattern": NARROW_TIME_ZONE }
                    } }
                } }
            } },
            "paths": { "/x": { "get": { "parameters": [
                { "name": "timezone", "in": "query", "schema": { "type": "string", "pattern": NARROW_TIME_ZONE } }
            ] } } }
        });
        widen_time_zone_patterns(&mut spec);
        let schemas = &spec["components"]["schemas"];
        let schedule = &schemas["Schedule"]["properties"];
        assert_eq!(schedule["timezone"]["pattern"], TIME_ZONE);
        assert_eq!(
            schedule["timezone"]["example"], NARROW_TIME_ZONE,
            "an example is data, not a schema"
        );
        assert_eq!(
            schedule["time"]["pattern"],
            "^([01]?[0-9]|2[0-3]):[0-5][0-9]$"
        );
        assert_eq!(
            schemas["Agent"]["properties"]["settings"]["properties"]["timezone"]["pattern"],
            TIME_ZONE
        );
        assert_eq!(
            spec["paths"]["/x"]["get"]["parameters"][0]["schema"]["pattern"],
            TIME_ZONE
        );
    }
}
