use highlevel::voice_ai::types::{CallActionSchemaActionType, GetCallLogsSort};
use highlevel_tests::{Harness, query};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn get_call_logs_sends_integer_paging_and_keeps_an_unknown_action_type() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/voice-ai/dashboard/call-logs"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "total": 41,
            "page": 2,
            "pageSize": 20,
            "callLogs": [
                {
                    "id": "507f1f77bcf86cd799439011",
                    "contactId": "507f1f77bcf86cd799439012",
                    "agentId": "507f1f77bcf86cd799439013",
                    "isAgentDeleted": false,
                    "fromNumber": "+1234567890",
                    "createdAt": "2024-01-15T10:30:00.000Z",
                    "duration": 180,
                    "trialCall": false,
                    "executedCallActions": [
                        {
                            "actionId": "507f1f77bcf86cd799439015",
                            "actionType": "CALL_TRANSFER",
                            "actionName": "Transfer to Manager",
                            "actionParameters": {
                                "transferToType": "number",
                                "transferToValue": "+12345678901",
                                "triggerMessage": "Let me transfer you to a manager right away",
                                "hearWhisperMessage": true
                            },
                            "executedAt": "2024-01-15T10:32:00.000Z"
                        },
                        {
                            "actionId": "507f1f77bcf86cd799439030",
                            "actionType": "SEND_EMAIL",
                            "actionName": "Email the quote",
                            "executedAt": "2024-01-15T10:33:00.000Z"
                        }
                    ],
                    "summary": "Caller asked for a manager.",
                    "transcript": "bot: Hi!\nhuman: Manager please.",
                    "extractedData": { "email": "caller@example.com" },
                    "sentiment": "neutral"
                },
                { "id": "507f1f77bcf86cd799439040", "agentId": "507f1f77bcf86cd799439013", "duration": 12 }
            ]
        })))
        .mount(&h.server)
        .await;

    let logs =
        h.hl.voice_ai()
            .get_call_logs()
            .location_id("ve9EPM428h8vShlRW1KT")
            .agent_id("507f1f77bcf86cd799439013")
            .start_date(1_704_067_200_000_i64)
            .sort(GetCallLogsSort::Descend)
            .page(2)
            .page_size(20)
            .send()
            .await
            .expect("call logs decode")
            .into_inner();

    let request = h.only_request("2021-04-15").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), "/voice-ai/dashboard/call-logs");
    assert_eq!(
        query(&request),
        "agentId=507f1f77bcf86cd799439013&locationId=ve9EPM428h8vShlRW1KT&page=2&pageSize=20&sort=descend&startDate=1704067200000"
    );
    assert_eq!(logs.total, Some(41.0));
    let calls = logs.call_logs.expect("callLogs");
    let actions = calls[0].executed_call_actions.as_ref().expect("actions");
    assert_eq!(
        actions[0].action_type,
        Some(CallActionSchemaActionType::CallTransfer)
    );
    let params = actions[0].action_parameters.as_ref().expect("parameters");
    assert_eq!(params.transfer_to_value.as_deref(), Some("+12345678901"));
    assert_eq!(
        actions[1].action_type,
        Some(CallActionSchemaActionType::Unrecognized(
            "SEND_EMAIL".into()
        ))
    );
    assert!(
        actions[1].action_parameters.is_none(),
        "declared but omitted"
    );
    assert_eq!(calls[0].extracted_data["email"], "caller@example.com");
    assert_eq!(calls[1].duration, Some(12.0));
    assert_eq!(calls[1].summary, None, "declared but omitted");
    assert!(
        calls[1].executed_call_actions.is_none(),
        "declared but omitted"
    );
}

/// `actionParameters` is a `oneOf` of parameter objects; the generator merges them into one
/// object so no variant's fields are lost (an untagged enum of all-optional structs would
/// decode everything as its first variant).
#[tokio::test]
async fn sms_action_parameters_keep_their_fields() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path(
            "/voice-ai/dashboard/call-logs/507f1f77bcf86cd799439011",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "507f1f77bcf86cd799439011",
            "executedCallActions": [{
                "actionId": "507f1f77bcf86cd799439016",
                "actionType": "SMS",
                "actionName": "Send Confirmation SMS",
                "actionParameters": {
                    "triggerPrompt": "When caller asks for booking confirmation",
                    "triggerMessage": "I'll send you a confirmation text",
                    "messageBody": "Your appointment is confirmed for tomorrow at 2 PM"
                }
            }]
        })))
        .mount(&h.server)
        .await;

    let call =
        h.hl.voice_ai()
            .get_call_log()
            .call_id("507f1f77bcf86cd799439011")
            .location_id("ve9EPM428h8vShlRW1KT")
            .send()
            .await
            .expect("call log decodes")
            .into_inner();

    let actions = call.executed_call_actions.expect("actions");
    let params = actions[0].action_parameters.as_ref().expect("parameters");
    assert_eq!(
        params.message_body.as_deref(),
        Some("Your appointment is confirmed for tomorrow at 2 PM")
    );
    assert_eq!(
        params.trigger_prompt.as_deref(),
        Some("When caller asks for booking confirmation")
    );
}

/// Every request type that upstream gave the one-slash time zone pattern, v2 and v3, takes
/// IANA names with two slashes, hyphens and digits (`xtask/src/repair/patterns.rs`).
#[test]
fn agent_and_schedule_time_zones_take_iana_names_in_both_sets() {
    /// Whether the type parses a zone name.
    type Takes = fn(&str) -> bool;
    fn takes<T: for<'a> TryFrom<&'a str>>(zone: &str) -> bool {
        T::try_from(zone).is_ok()
    }
    use highlevel::calendars::types as calendars;
    use highlevel::v3::calendars::types as v3_calendars;
    use highlevel::v3::voice_ai::types as v3_voice_ai;
    use highlevel::voice_ai::types as voice_ai;
    // The v2 calendars' create type is sent end to end in `calendars.rs`.
    let types: [(&str, Takes); 9] = [
        (
            "v2 agent creation",
            takes::<voice_ai::AgentCreationRequestDtoTimezone>,
        ),
        ("v2 agent patch", takes::<voice_ai::PatchAgentDtoTimezone>),
        (
            "v3 agent creation",
            takes::<v3_voice_ai::AgentCreationRequestDtoTimezone>,
        ),
        (
            "v3 agent patch",
            takes::<v3_voice_ai::PatchAgentDtoTimezone>,
        ),
        (
            "v2 schedule update",
            takes::<calendars::UpdateScheduleDtoTimezone>,
        ),
        (
            "v3 schedule creation",
            takes::<v3_calendars::CreateScheduleDtoTimezone>,
        ),
        (
            "v3 schedule update",
            takes::<v3_calendars::UpdateScheduleDtoTimezone>,
        ),
        (
            "v3 event schedule creation",
            takes::<v3_calendars::CreateEventCalendarScheduleDtoTimezone>,
        ),
        (
            "v3 event schedule update",
            takes::<v3_calendars::UpdateEventCalendarScheduleDtoTimezone>,
        ),
    ];
    for (name, takes) in types {
        for zone in [
            "America/Argentina/Buenos_Aires",
            "America/Port-au-Prince",
            "Etc/GMT+5",
        ] {
            assert!(takes(zone), "{name} refused {zone}");
        }
        for not_a_zone in ["Mars/Olympus Mons", "America/"] {
            assert!(!takes(not_a_zone), "{name} took {not_a_zone:?}");
        }
    }
}
