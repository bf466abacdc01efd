//! Typed webhook events against every example of HighLevel's event docs.

mod examples;

use std::collections::BTreeSet;

use highlevel_webhooks::events::{EVENT_TYPES, Event};
use serde_json::{Value, json};

/// An example as a delivery of its event: the docs leave `type` out of some examples
/// (Invoice*, Product*, ...) and give others a `type` that is not the event's (a copy-paste
/// defect, or a field of the payload itself); see specs/webhooks.toml.
fn as_delivery(wire_type: &str, json: &str) -> (Value, bool) {
    let mut value: Value = serde_json::from_str(json).expect("generated examples are JSON");
    let as_documented = value.get("type").and_then(Value::as_str) == Some(wire_type);
    value
        .as_object_mut()
        .expect("every example is an object")
        .insert("type".into(), Value::from(wire_type));
    (value, as_documented)
}

#[test]
fn every_doc_example_decodes_into_its_event() {
    let mut covered = BTreeSet::new();
    let mut as_documented = 0;
    for (wire_type, json) in examples::EXAMPLES {
        let (value, documented) = as_delivery(wire_type, json);
        as_documented += usize::from(documented);
        let event = Event::from_value(value.clone());
        assert!(
            !matches!(event, Event::Unknown { .. }),
            "{wire_type} example decodes as Unknown: {json}"
        );
        assert_eq!(event.event_type(), Some(*wire_type), "{json}");
        let from_bytes = Event::from_slice(value.to_string().as_bytes()).expect("JSON body");
        assert_eq!(from_bytes.event_type(), Some(*wire_type));
        covered.insert(*wire_type);
    }
    assert_eq!(
        covered.len(),
        58,
        "event types with an example: {covered:?}"
    );
    assert_eq!(covered.len(), EVENT_TYPES.len());
    assert!(covered.iter().all(|t| EVENT_TYPES.contains(t)));
    assert!(as_documented > 0 && as_documented < examples::EXAMPLES.len());
}

#[test]
fn examples_keep_their_fields() {
    let (_, json) = examples::EXAMPLES
        .iter()
        .find(|(t, _)| *t == "INSTALL")
        .expect("an INSTALL example");
    let Event::Install(install) = Event::from_value(serde_json::from_str(json).expect("JSON"))
    else {
        panic!("INSTALL decodes as Install");
    };
    assert_eq!(install.app_id.as_deref(), Some("ve9EPM428h8vShlRW1KT"));
    assert_eq!(install.type_.as_deref(), Some("INSTALL"));
    assert!(install.trial.is_some());
}

#[test]
fn an_unknown_type_keeps_the_raw_json() {
    let body = json!({ "type": "SomethingNew", "locationId": "l1", "n": [1, 2] });
    match Event::from_value(body.clone()) {
        Event::Unknown { event_type, raw } => {
            assert_eq!(event_type.as_deref(), Some("SomethingNew"));
            assert_eq!(raw, body);
        }
        other => panic!("expected Unknown, got {other:?}"),
    }
    let untyped = json!({ "locationId": "l1" });
    let event = Event::from_value(untyped.clone());
    assert!(matches!(&event, Event::Unknown { event_type: None, raw } if *raw == untyped));
    assert_eq!(event.event_type(), None);
}

#[test]
fn a_body_that_is_not_an_object_is_unknown() {
    for body in [json!([1, 2]), json!("INSTALL"), json!(null), json!(3)] {
        assert!(
            matches!(Event::from_value(body.clone()), Event::Unknown { event_type: None, ref raw } if *raw == body),
            "{body}"
        );
    }
    assert!(matches!(
        Event::from_slice(b"[]").expect("JSON"),
        Event::Unknown { .. }
    ));
    assert!(Event::from_slice(b"not json").is_err());
}

#[test]
fn a_wrongly_typed_field_still_decodes() {
    let body = json!({
        "type": "ContactCreate",
        "id": "c1",
        "locationId": 42,
        "tags": "not-an-array",
        "dnd": "yes"
    });
    let Event::ContactCreate(contact) = Event::from_value(body) else {
        panic!("ContactCreate with wrong field types still decodes");
    };
    assert_eq!(contact.id.as_deref(), Some("c1"));
    assert_eq!(contact.location_id, None);
    assert!(contact.tags.is_none());
    assert!(contact.dnd.is_none());
}
