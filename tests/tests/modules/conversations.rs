use highlevel::conversations::multipart::{FilePart, UploadFileAttachmentsForm};
use highlevel::conversations::types::{
    GetMessageResponseDtoDirection, GetMessageResponseDtoMessageType, GetMessageResponseDtoSource,
    GetMessageResponseDtoStatus, GetMessagesType,
};
use highlevel_tests::{Harness, contains, multipart_boundary, query};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

#[tokio::test]
async fn get_messages_sends_integer_limit_and_keeps_unknown_enum_values() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/conversations/conv_tDtDnQ/messages"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "lastMessageId": "msg_2",
            "nextPage": false,
            "messages": [
                {
                    "id": "msg_1",
                    "type": 2,
                    "messageType": "TYPE_SMS",
                    "direction": "outbound",
                    "status": "delivered",
                    "source": "workflow",
                    "body": "Your appointment is tomorrow at 10am",
                    "contentType": "text/plain",
                    "conversationId": "conv_tDtDnQ",
                    "contactId": "ct_9",
                    "locationId": "loc-7Hq2",
                    "dateAdded": "2025-05-01T14:00:00.000Z"
                },
                {
                    "id": "msg_2",
                    "type": 2,
                    "messageType": "TYPE_SMS",
                    "direction": "inbound",
                    "status": "carrier_filtered",
                    "source": "voice_ai",
                    "body": "Thanks!",
                    "reactions": [{ "emoji": "+1" }]
                }
            ]
        })))
        .mount(&h.server)
        .await;

    let page =
        h.hl.conversations()
            .get_messages()
            .conversation_id("conv_tDtDnQ")
            .last_message_id("msg_0")
            .limit(20)
            .type_(GetMessagesType::TypeSms)
            .send()
            .await
            .expect("messages decode")
            .into_inner();

    let request = h.only_request("2021-04-15").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), "/conversations/conv_tDtDnQ/messages");
    assert_eq!(
        query(&request),
        "lastMessageId=msg_0&limit=20&type=TYPE_SMS"
    );

    assert_eq!(page.last_message_id.as_deref(), Some("msg_2"));
    assert_eq!(page.next_page, Some(false));
    let messages = page.messages.expect("messages");
    assert_eq!(messages.len(), 2);
    let first = &messages[0];
    assert_eq!(
        first.message_type,
        Some(GetMessageResponseDtoMessageType::TypeSms)
    );
    assert_eq!(
        first.direction,
        Some(GetMessageResponseDtoDirection::Outbound)
    );
    assert_eq!(first.status, Some(GetMessageResponseDtoStatus::Delivered));
    assert_eq!(first.source, Some(GetMessageResponseDtoSource::Workflow));
    assert_eq!(first.type_, Some(2.0));

    let second = &messages[1];
    assert_eq!(
        second.status,
        Some(GetMessageResponseDtoStatus::Unrecognized(
            "carrier_filtered".into()
        ))
    );
    assert_eq!(
        second.source,
        Some(GetMessageResponseDtoSource::Unrecognized("voice_ai".into()))
    );
    assert_eq!(
        second.conversation_id, None,
        "a declared field the server left out is None"
    );
    assert_eq!(second.attachments, None);
    assert!(second.meta.is_none());
}

#[tokio::test]
async fn upload_file_attachments_sends_a_multipart_form_with_its_boundary() {
    let h = Harness::start().await;
    Mock::given(method("POST"))
        .and(path("/conversations/messages/upload"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "uploadedFiles": { "a.png": "https://storage.example/loc-7Hq2/a.png" },
            "twilioMediaSids": ["ME0123"]
        })))
        .mount(&h.server)
        .await;

    let form = UploadFileAttachmentsForm {
        conversation_id: "conv_tDtDnQ".into(),
        contact_id: "ct_9".into(),
        location_id: "loc-7Hq2".into(),
        attachment_urls: vec!["https://example.com/terms.pdf".into()],
        chat_service_sid: None,
        is_group_sms: Some("false".into()),
        files: vec![(
            "fileAttachment".into(),
            FilePart::new("a.png", PNG.to_vec()).with_content_type("image/png"),
        )],
    };
    let uploaded =
        h.hl.conversations()
            .upload_file_attachments()
            .body(form)
            .send()
            .await
            .expect("upload succeeds")
            .into_inner();

    let request = h.only_request("2021-04-15").await;
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.url.path(), "/conversations/messages/upload");
    assert_eq!(query(&request), "");

    multipart_boundary(&request);
    let body = &request.body;
    for (name, value) in [
        ("conversationId", "conv_tDtDnQ"),
        ("contactId", "ct_9"),
        ("locationId", "loc-7Hq2"),
        ("attachmentUrls", "https://example.com/terms.pdf"),
        ("isGroupSms", "false"),
    ] {
        let part = format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n");
        assert!(
            contains(body, part.as_bytes()),
            "field {name} is in the body"
        );
    }
    assert!(
        !contains(body, b"name=\"chatServiceSid\""),
        "an unset optional field is not sent"
    );
    assert!(contains(
        body,
        b"Content-Disposition: form-data; name=\"fileAttachment\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n"
    ));
    assert!(contains(body, PNG), "the file bytes are in the body");

    assert_eq!(uploaded.twilio_media_sids, Some(vec!["ME0123".to_owned()]));
    assert_eq!(
        uploaded.uploaded_files["a.png"],
        "https://storage.example/loc-7Hq2/a.png"
    );
}

#[tokio::test]
async fn get_message_recording_returns_the_audio_as_a_byte_stream() {
    let h = Harness::start().await;
    let wav: &[u8] = b"RIFF\x24\0\0\0WAVEfmt \x10\0\0\0\x01\0\x01\0\x40\x1f\0\0\x80\x3e\0\0\x02\0\x10\0data\0\0\0\0";
    Mock::given(method("GET"))
        .and(path(
            "/conversations/messages/msg_call_1/locations/loc-7Hq2/recording",
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(wav, "audio/x-wav")
                .insert_header("content-disposition", "attachment; filename=audio.wav"),
        )
        .mount(&h.server)
        .await;

    let response =
        h.hl.conversations()
            .get_message_recording()
            .message_id("msg_call_1")
            .location_id("loc-7Hq2")
            .send()
            .await
            .expect("recording download succeeds");

    let request = h.only_request("2021-04-15").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(
        request.url.path(),
        "/conversations/messages/msg_call_1/locations/loc-7Hq2/recording"
    );
    assert_eq!(query(&request), "");

    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("audio/x-wav")
    );
    assert_eq!(
        response.content_length(),
        Some(u64::try_from(wav.len()).expect("small"))
    );
    let bytes = highlevel::runtime::collect_bytes(response.into_inner())
        .await
        .expect("recording reads");
    assert_eq!(&bytes[..], wav);
}
