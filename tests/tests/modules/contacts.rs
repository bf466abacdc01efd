use highlevel::contacts::types::DndSettingSchemaResponseStatus;
use highlevel_tests::{Harness, query};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

// The operation under test is deprecated upstream; calling it is the point.
#[allow(deprecated)]
#[tokio::test]
async fn get_contacts_sends_integer_paging_and_decodes_the_page() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/contacts/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "contacts": [{ "id": "c1", "email": "a@example.com", "brandNewField": { "x": 1 } }],
            "count": 1,
            "meta": { "total": 1 }
        })))
        .mount(&h.server)
        .await;

    let page =
        h.hl.contacts()
            .get_contacts()
            .location_id("loc-1")
            .limit(20)
            .start_after(1_700_000_000_000_i64)
            .send()
            .await
            .expect("page decodes")
            .into_inner();

    let request = h.only_request("2021-07-28").await;
    assert_eq!(
        query(&request),
        "limit=20&locationId=loc-1&startAfter=1700000000000"
    );
    let contacts = page.contacts.expect("contacts");
    assert_eq!(contacts[0].id.as_deref(), Some("c1"));
    assert_eq!(page.count, Some(1.0));
}

#[tokio::test]
async fn get_contact_keeps_an_unknown_enum_value_and_tolerates_missing_fields() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/contacts/ocQHyuzHvysMo5N5VsXc"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "contact": {
                "id": "ocQHyuzHvysMo5N5VsXc",
                "dndSettings": {
                    "SMS": { "status": "active" },
                    "Email": { "status": "paused-by-ai", "message": "new value" }
                },
                "someFieldFromTheFuture": [1, 2, 3]
            }
        })))
        .mount(&h.server)
        .await;

    let contact =
        h.hl.contacts()
            .get_contact()
            .contact_id("ocQHyuzHvysMo5N5VsXc")
            .send()
            .await
            .expect("contact decodes")
            .into_inner()
            .contact
            .expect("contact present");

    h.only_request("2021-07-28").await;
    let dnd = contact.dnd_settings.expect("dnd settings");
    assert_eq!(
        dnd.sms.and_then(|s| s.status),
        Some(DndSettingSchemaResponseStatus::Active)
    );
    assert_eq!(
        dnd.email.and_then(|s| s.status),
        Some(DndSettingSchemaResponseStatus::Unrecognized(
            "paused-by-ai".into()
        ))
    );
    assert_eq!(contact.email, None, "a field the server left out is None");
}

/// `send()` builds its request at once and returns the runtime's future: the future runs on a
/// spawned task (so it is `Send`), and a missing required argument is `InvalidRequest` when
/// awaited, with nothing sent.
#[tokio::test]
async fn a_send_future_runs_on_a_spawned_task_and_a_missing_argument_sends_nothing() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/contacts/c1"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({ "contact": { "id": "c1" } })),
        )
        .mount(&h.server)
        .await;

    let hl = h.hl.clone();
    let found = tokio::spawn(async move {
        let contacts = hl.contacts();
        let response = contacts.get_contact().contact_id("c1").send().await?;
        Ok::<_, highlevel::Error>(response.into_inner().contact.and_then(|c| c.id))
    })
    .await
    .expect("the task ran")
    .expect("200");
    assert_eq!(found.as_deref(), Some("c1"));

    let error =
        h.hl.contacts()
            .get_contact()
            .send()
            .await
            .expect_err("contact_id was never set");
    assert!(
        matches!(error, highlevel::Error::InvalidRequest { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("contact_id"), "{error}");
    h.only_request("2021-07-28").await;
}

/// Generated types decode and encode through written `Deserialize` and `Serialize` impls, not
/// serde's derives (`xtask/src/codegen/serde_impls.rs`); these are the cases a derive handled
/// for free.
#[tokio::test]
async fn written_deserialize_impls_read_escaped_repeated_and_unknown_keys() {
    let h = Harness::start().await;
    // Raw text: `json!` could neither repeat a key nor escape one.
    let body = r#"{"contact": {
        "id": "first-id",
        "first\u004eame": "Ada",
        "tags": ["a", {"not": "a string"}],
        "email": 42,
        "futureObject": {"nested": [1, {"deep": null}]},
        "dndSettings": {"SMS": {"status": "inactive"}, "Call": {"status": 7}},
        "id": "last-id"
    }, "traceId": "t-1"}"#;
    Mock::given(method("GET"))
        .and(path("/contacts/c1"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
        .mount(&h.server)
        .await;

    let contact =
        h.hl.contacts()
            .get_contact()
            .contact_id("c1")
            .send()
            .await
            .expect("contact decodes")
            .into_inner()
            .contact
            .expect("contact present");

    h.only_request("2021-07-28").await;
    assert_eq!(
        contact.id.as_deref(),
        Some("last-id"),
        "a repeated key: the last wins"
    );
    assert_eq!(
        contact.first_name.as_deref(),
        Some("Ada"),
        "an escaped key is unescaped"
    );
    assert_eq!(
        contact.tags, None,
        "an array with a mistyped element: the field is None"
    );
    assert_eq!(
        contact.email, None,
        "a number where a string is declared: None"
    );
    let dnd = contact.dnd_settings.expect("dnd settings");
    assert_eq!(
        dnd.sms.and_then(|s| s.status),
        Some(DndSettingSchemaResponseStatus::Inactive)
    );
    let call = dnd
        .call
        .expect("the object around a mistyped enum still decodes");
    assert_eq!(
        call.status, None,
        "a number where an enum string is declared: None"
    );
}

#[test]
fn a_task_reads_and_writes_its_json_names_and_names_a_missing_field() {
    use highlevel::contacts::types::CreateTaskParams;
    let error = serde_json::from_value::<CreateTaskParams>(json!({
        "title": "Call back", "dueDate": "2026-12-02T10:00:00Z"
    }))
    .expect_err("`completed` is required");
    assert!(
        error.to_string().contains("missing field `completed`"),
        "{error}"
    );
    let task: CreateTaskParams = serde_json::from_value(json!({
        "title": "Call back", "dueDate": "2026-12-02T10:00:00Z", "completed": false,
        "unknown": {"x": 1}
    }))
    .expect("all required fields");
    assert_eq!(task.title, "Call back");
    assert!(!task.completed);
    // Written back under the JSON names, an absent optional field left out.
    assert_eq!(
        serde_json::to_value(&task).expect("serializes"),
        json!({ "title": "Call back", "dueDate": "2026-12-02T10:00:00Z", "completed": false })
    );
    let unlisted = DndSettingSchemaResponseStatus::Unrecognized("paused-by-ai".into());
    assert_eq!(
        serde_json::to_value(&unlisted).expect("serializes"),
        json!("paused-by-ai")
    );
    assert_eq!(
        serde_json::to_value(DndSettingSchemaResponseStatus::Active).expect("serializes"),
        json!("active")
    );
    let not_an_object = serde_json::from_value::<CreateTaskParams>(json!(["Call back"]))
        .expect_err("an array is not a task");
    assert!(
        not_an_object
            .to_string()
            .contains("an object (CreateTaskParams)"),
        "{not_an_object}"
    );
}

#[tokio::test]
async fn search_returns_the_json_body_the_spec_does_not_declare() {
    let h = Harness::start().await;
    Mock::given(method("POST"))
        .and(path("/contacts/search"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "contacts": [{ "id": "c1" }], "total": 1 })),
        )
        .mount(&h.server)
        .await;

    let body = highlevel::contacts::types::SearchBodyV2dto::from(
        json!({ "locationId": "loc-1", "pageLimit": 20 })
            .as_object()
            .cloned()
            .unwrap_or_default(),
    );
    let found =
        h.hl.contacts()
            .search_contacts_advanced()
            .body(body)
            .send()
            .await
            .expect("search decodes")
            .into_inner();

    let request = h.only_request("2021-07-28").await;
    let sent: serde_json::Value = serde_json::from_slice(&request.body).expect("json body");
    assert_eq!(sent["locationId"], "loc-1");
    assert_eq!(sent["pageLimit"], 20);
    assert_eq!(found["total"], 1);
}

#[tokio::test]
async fn a_body_builder_with_unset_fields_names_the_first_and_sends_nothing() {
    use highlevel::contacts::types::{ContactsBusinessUpdate, ContactsBusinessUpdateIdsItem};

    let h = Harness::start().await;
    Mock::given(method("POST"))
        .and(path("/contacts/bulk/business"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "success": true })))
        .mount(&h.server)
        .await;

    // `ids` is set; `businessId` and `locationId` (declared before and after it) are not.
    let id: ContactsBusinessUpdateIdsItem = "c1".parse().expect("a short id");
    let incomplete = ContactsBusinessUpdate::builder().ids(vec![id]);
    let error =
        h.hl.contacts()
            .add_remove_contact_from_business()
            .body(incomplete.clone())
            .send()
            .await
            .expect_err("a required field is unset");
    match &error {
        highlevel::Error::InvalidRequest {
            operation_id,
            message,
        } => {
            assert_eq!(*operation_id, "add_remove_contact_from_business");
            assert!(
                message.contains("no value supplied for business_id"),
                "{message}"
            );
            assert!(
                !message.contains("location_id"),
                "only the first: {message}"
            );
        }
        other => panic!("expected InvalidRequest, got {other:?}"),
    }
    assert!(
        h.server
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty(),
        "nothing is sent"
    );

    let body = incomplete
        .business_id(Some("b1".to_owned()))
        .location_id("loc-1");
    let built = ContactsBusinessUpdate::try_from(body.clone()).expect("every field set");
    assert_eq!(built.location_id, "loc-1");
    assert_eq!(built.ids.len(), 1);
    assert_eq!(built.ids[0].as_str(), "c1");
    h.hl.contacts()
        .add_remove_contact_from_business()
        .body(body)
        .send()
        .await
        .expect("sent");
    let request = h.only_request("2021-07-28").await;
    let sent: serde_json::Value = serde_json::from_slice(&request.body).expect("json body");
    assert_eq!(
        sent,
        json!({ "businessId": "b1", "ids": ["c1"], "locationId": "loc-1" })
    );
}

/// A contact's custom field is an `anyOf` of ten field kinds, and its serde impls are written by
/// the generator (no derive): what is set goes out as one object, and each kind is read back
/// from the whole object, `None` where it does not fit.
#[tokio::test]
async fn an_any_of_custom_field_is_sent_as_one_object_and_read_back_kind_by_kind() {
    use highlevel::contacts::types::{
        CreateContactDto, CreateContactDtoCustomFieldsItem, TextField,
    };

    let h = Harness::start().await;
    Mock::given(method("POST"))
        .and(path("/contacts/"))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({ "contact": { "id": "c1" } })),
        )
        .mount(&h.server)
        .await;
    let field = CreateContactDtoCustomFieldsItem {
        subtype_0: Some(TextField {
            field_value: Some("Gold".into()),
            id: "f1".into(),
            key: Some("tier".into()),
        }),
        ..Default::default()
    };
    let body = CreateContactDto::builder()
        .location_id("loc-1")
        .custom_fields(vec![field]);
    h.hl.contacts()
        .create_contact()
        .body(body)
        .send()
        .await
        .expect("sent");
    let request = h.only_request("2021-07-28").await;
    let sent: serde_json::Value = serde_json::from_slice(&request.body).expect("json body");
    assert_eq!(
        sent["customFields"],
        json!([{ "id": "f1", "key": "tier", "field_value": "Gold" }])
    );

    let read: CreateContactDtoCustomFieldsItem =
        serde_json::from_value(sent["customFields"][0].clone()).expect("reads");
    let text = read.subtype_0.expect("a text field");
    assert_eq!(
        (text.id.as_str(), text.field_value.as_deref()),
        ("f1", Some("Gold"))
    );
    assert!(
        read.subtype_4.is_none(),
        "a numeric field's required value is an object, not a string"
    );
    let odd: CreateContactDtoCustomFieldsItem =
        serde_json::from_value(json!(["not", "an", "object"])).expect("lenient");
    assert!(odd.subtype_0.is_none() && odd.subtype_4.is_none());
}
