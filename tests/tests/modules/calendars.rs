use highlevel::calendars::types::{
    CalendarNotificationResponseDtoChannel, CalendarNotificationResponseDtoNotificationType,
    CalendarNotificationResponseDtoReceiverType,
};
use highlevel_tests::{Harness, query};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn get_event_notifications_sends_integer_paging_and_keeps_unknown_enum_values() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/calendars/cal_Xk21/notifications"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {
                "_id": "ntf_1",
                "receiverType": "contact",
                "channel": "email",
                "notificationType": "booked",
                "isActive": true,
                "subject": "Your booking is confirmed",
                "body": "<p>See you soon</p>",
                "beforeTime": [{ "timeOffset": 1, "unit": "hours" }],
                "deleted": false
            },
            {
                "_id": "ntf_2",
                "receiverType": "assignedUser",
                "channel": "rcs",
                "notificationType": "no_show",
                "isActive": false,
                "deliveryWindow": { "from": "09:00" }
            }
        ])))
        .mount(&h.server)
        .await;

    let notifications =
        h.hl.calendars()
            .get_event_notification()
            .calendar_id("cal_Xk21")
            .is_active(true)
            .limit(20)
            .skip(40)
            .send()
            .await
            .expect("notifications decode")
            .into_inner()
            .expect("a list came back");

    let request = h.only_request("2021-04-15").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), "/calendars/cal_Xk21/notifications");
    assert_eq!(query(&request), "isActive=true&limit=20&skip=40");

    assert_eq!(notifications.len(), 2);
    let first = &notifications[0];
    assert_eq!(
        first.channel,
        Some(CalendarNotificationResponseDtoChannel::Email)
    );
    assert_eq!(
        first.notification_type,
        Some(CalendarNotificationResponseDtoNotificationType::Booked)
    );
    let before = first.before_time.as_ref().expect("beforeTime");
    assert_eq!(before[0].time_offset, Some(1.0));
    assert_eq!(before[0].unit.as_deref(), Some("hours"));

    let second = &notifications[1];
    assert_eq!(
        second.receiver_type,
        Some(CalendarNotificationResponseDtoReceiverType::AssignedUser)
    );
    assert_eq!(
        second.channel,
        Some(CalendarNotificationResponseDtoChannel::Unrecognized(
            "rcs".into()
        ))
    );
    assert_eq!(
        second.notification_type,
        Some(CalendarNotificationResponseDtoNotificationType::Unrecognized("no_show".into()))
    );
    assert_eq!(
        second.subject, None,
        "a declared field the server left out is None"
    );
    assert_eq!(second.template_id, None);
}

#[tokio::test]
async fn a_422_is_an_api_error_with_everything_the_body_carried() {
    let h = Harness::start().await;
    let body = r#"{"statusCode":422,"message":["calendarId must be a string"],"error":"Unprocessable Entity","traceId":"t-1"}"#;
    Mock::given(method("GET"))
        .and(path("/calendars/cal_Xk21"))
        .respond_with(ResponseTemplate::new(422).set_body_raw(body.as_bytes(), "application/json"))
        .mount(&h.server)
        .await;

    let error =
        h.hl.calendars()
            .get_calendar()
            .calendar_id("cal_Xk21")
            .send()
            .await
            .expect_err("a 422 is an error");

    let request = h.only_request("2021-04-15").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), "/calendars/cal_Xk21");

    assert_eq!(error.operation_id(), "get_calendar");
    assert_eq!(error.status().map(|s| s.as_u16()), Some(422));
    let highlevel::Error::Api(api) = &error else {
        panic!("expected Error::Api, got {error:?}");
    };
    assert_eq!(api.status().as_u16(), 422);
    assert_eq!(api.operation_id(), "get_calendar");
    assert_eq!(
        api.message().as_deref(),
        Some("calendarId must be a string")
    );
    assert_eq!(api.messages(), ["calendarId must be a string".to_owned()]);
    assert_eq!(api.error(), Some("Unprocessable Entity"));
    assert_eq!(api.trace_id(), Some("t-1"));
    assert_eq!(&api.raw_body()[..], body.as_bytes());
    assert!(!error.is_transient());
}

#[tokio::test]
async fn a_mistyped_field_reads_as_none_and_the_call_succeeds() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/calendars/cal_Xk21/notifications"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            { "_id": "ntf_1", "channel": "email", "beforeTime": "one hour before" }
        ])))
        .mount(&h.server)
        .await;

    let notifications =
        h.hl.calendars()
            .get_event_notification()
            .calendar_id("cal_Xk21")
            .send()
            .await
            .expect("one mistyped field does not fail the call")
            .into_inner()
            .expect("notifications");

    h.only_request("2021-04-15").await;
    assert_eq!(notifications[0].id.as_deref(), Some("ntf_1"));
    assert!(notifications[0].channel.is_some());
    assert!(notifications[0].before_time.is_none(), "mistyped: None");
}

#[tokio::test]
async fn a_body_of_the_wrong_shape_is_a_decode_error_naming_the_element() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/calendars/cal_Xk21/notifications"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            { "_id": "ntf_1", "channel": "email" },
            "one hour before"
        ])))
        .mount(&h.server)
        .await;

    let error =
        h.hl.calendars()
            .get_event_notification()
            .calendar_id("cal_Xk21")
            .send()
            .await
            .expect_err("a string where a notification object is declared does not decode");

    let request = h.only_request("2021-04-15").await;
    assert_eq!(query(&request), "");

    assert_eq!(error.operation_id(), "get_event_notification");
    let highlevel::Error::Decode(decode) = &error else {
        panic!("expected Error::Decode, got {error:?}");
    };
    assert_eq!(decode.operation_id(), "get_event_notification");
    assert_eq!(decode.path(), Some("[1]"), "the path names the element");
    assert!(decode.body_prefix().contains("one hour before"));
}

/// Upstream's time zone pattern allowed one slash and letters only, so these were refused
/// before any request was sent; the generator widens it to IANA names
/// (`xtask/src/repair/patterns.rs`).
#[tokio::test]
async fn a_schedule_takes_every_iana_time_zone_and_refuses_what_cannot_be_one() {
    use highlevel::calendars::types::CreateScheduleDtoTimezone;

    let h = Harness::start().await;
    Mock::given(method("POST"))
        .and(path("/calendars/schedules"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({ "id": "sch_1" })))
        .mount(&h.server)
        .await;
    let calendars = h.hl.calendars();
    let create = |timezone: &'static str| {
        calendars.create_schedule().body_map(move |body| {
            body.calendar_ids(vec!["cal_Xk21".to_owned()])
                .location_id("loc_1")
                .name("Front desk")
                .rules(Vec::new())
                .timezone(timezone)
                .user_id("usr_1")
        })
    };

    create("America/Argentina/Buenos_Aires")
        .send()
        .await
        .expect("a zone with two slashes is sent");
    let request = h.only_request("2021-04-15").await;
    let body: serde_json::Value = serde_json::from_slice(&request.body).expect("a JSON body");
    assert_eq!(body["timezone"], "America/Argentina/Buenos_Aires");

    for zone in [
        "America/New_York",
        "America/Port-au-Prince",
        "America/Indiana/Indianapolis",
        "Etc/GMT+5",
        "Etc/GMT-14",
        "UTC",
        "EST5EDT",
    ] {
        assert!(
            CreateScheduleDtoTimezone::try_from(zone).is_ok(),
            "{zone} is an IANA zone"
        );
    }
    for not_a_zone in [
        "",
        "New York",
        "America/",
        "/UTC",
        "America//New_York",
        "Europe/Paris\n",
        "5/Zone",
    ] {
        assert!(
            CreateScheduleDtoTimezone::try_from(not_a_zone).is_err(),
            "{not_a_zone:?} is no zone"
        );
    }

    let refused = create("Mars/Olympus Mons")
        .send()
        .await
        .expect_err("a zone name with a space is refused");
    assert!(
        matches!(refused, highlevel::Error::InvalidRequest { .. }),
        "{refused:?}"
    );
    assert_eq!(
        h.server.received_requests().await.map(|r| r.len()),
        Some(1),
        "the refused body never left the client"
    );
}
