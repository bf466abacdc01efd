//! `.stream()` of every row of the pagination table over real HTTP, against a list server
//! that pages as the row says; then every style through the cases that end or break a walk.

use std::time::Duration;

use highlevel::pagination::{CursorSource, PaginationError, PagingStyle};
use highlevel::{HighLevel, RateLimitConfig, RetryConfig};
use highlevel_tests::paging::{ListServer, Misbehaviour, PagingCall, StreamOptions, ids};
use wiremock::MockServer;

use super::calls;

/// The table the xtask wrote; its rows must all have a call below.
const TABLE: &str = include_str!("../../../crates/highlevel/PAGINATION.md");

fn handle(server: &MockServer) -> HighLevel {
    HighLevel::builder()
        .private_integration_token("pit-paging-test")
        .base_url(server.uri())
        .rate_limit(RateLimitConfig::disabled())
        .retry(RetryConfig::new().backoff(Duration::from_millis(1), Duration::from_millis(5)))
        .build()
        .unwrap_or_else(|e| panic!("handle: {e}"))
}

fn call(operation_id: &str) -> PagingCall {
    calls::paging_calls()
        .into_iter()
        .find(|c| c.operation_id == operation_id)
        .unwrap_or_else(|| panic!("no paging call for {operation_id}"))
}

/// What one stream saw: items (ids, `None` for an error), the errors, and requests sent.
struct Walk {
    ids: Vec<Option<u64>>,
    errors: Vec<highlevel::Error>,
    requests: usize,
    server: ListServer,
}

async fn walk(
    call: &PagingCall,
    len: usize,
    misbehaviour: Misbehaviour,
    options: StreamOptions,
) -> Walk {
    let mock = highlevel_tests::mock_server().await;
    let server = ListServer::new(call.paging, call.item_key, len, misbehaviour);
    server.mount(&mock).await;
    let items = (call.run)(handle(&mock), options)
        .await
        .unwrap_or_else(|e| panic!("{}: arguments: {e}", call.operation_id));
    let ids = ids(&items, call.item_key);
    let errors = items.into_iter().filter_map(Result::err).collect();
    Walk {
        ids,
        errors,
        requests: server.requests(),
        server,
    }
}

fn sized(call: &PagingCall, size: u64) -> StreamOptions {
    StreamOptions {
        page_size: call.paging.page_size_param.map(|_| size),
        prefetch: 0,
    }
}

fn upto(n: u64) -> Vec<Option<u64>> {
    (1..=n).map(Some).collect()
}

#[tokio::test]
async fn every_row_of_the_pagination_table_streams_every_page() {
    let table_rows = TABLE
        .split("## Left out")
        .next()
        .unwrap_or_default()
        .lines()
        .filter(|line| line.starts_with("| ") && !line.starts_with("| set"))
        .count();
    let calls = calls::paging_calls();
    assert_eq!(
        calls.len(),
        table_rows,
        "every row of PAGINATION.md has a generated .stream() call, and no call lacks a row"
    );
    assert!(table_rows >= 57, "the table lost rows: {table_rows}");
    let mut failures = Vec::new();
    for call in &calls {
        if call.item_key.is_none() {
            failures.push(format!(
                "{}: items have no property that tells them apart",
                call.operation_id
            ));
            continue;
        }
        let walk = walk(call, 25, Misbehaviour::None, sized(call, 10)).await;
        if walk.ids != upto(25) || !walk.errors.is_empty() || walk.requests != 3 {
            failures.push(format!(
                "{} ({}): {} requests, ids {:?}, errors {:?}",
                call.operation_id,
                call.module,
                walk.requests,
                walk.ids,
                walk.errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        calls.len(),
        failures.join("\n")
    );
}

/// One row per paging style and envelope the table holds.
const STYLES: [&str; 11] = [
    "list-invoices",                        // offset, total, required limit
    "search-locations",                     // skip, nothing but the page length
    "getAgents",                            // offset, pagination.total + hasMore
    "get-forms-submissions",                // page from 1, meta.total
    "active-numbers",                       // page from 0, pageSize up to 1000
    "getAllWebsiteUrlsDataByKnowledgeBase", // page without a size parameter
    "export-messages-by-location",          // cursor ← nextCursor, total
    "get-contacts",                         // startAfter + startAfterId ← meta
    "get-messages",                         // lastMessageId ← answer, nextPage
    "search-agent",                         // startAfter ← last item's id
    "search-conversation",                  // startAfterDate ← last item's sort value
];

fn says_when_it_ends(call: &PagingCall) -> bool {
    call.paging.total.is_some()
        || call.paging.has_more.is_some()
        || matches!(call.paging.style, PagingStyle::Cursor { .. })
}

#[tokio::test]
async fn every_style_ends_on_an_empty_first_page_an_exact_multiple_and_a_short_last_page() {
    for id in STYLES {
        let call = call(id);
        let empty = walk(&call, 0, Misbehaviour::None, sized(&call, 10)).await;
        assert_eq!(
            (empty.ids.len(), empty.requests),
            (0, 1),
            "{id}: empty list"
        );
        assert!(empty.errors.is_empty(), "{id}: {:?}", empty.errors);

        // 20 items in pages of 10: a list that says it ended costs no third request.
        let exact = walk(&call, 20, Misbehaviour::None, sized(&call, 10)).await;
        assert_eq!(exact.ids, upto(20), "{id}: exact multiple");
        let expected = if says_when_it_ends(&call) { 2 } else { 3 };
        assert_eq!(
            exact.requests, expected,
            "{id}: requests for an exact multiple"
        );

        // Without totals, flags or end-of-list cursors only the page length tells.
        let terse = walk(&call, 20, Misbehaviour::Terse, sized(&call, 10)).await;
        assert_eq!(terse.ids, upto(20), "{id}: terse exact multiple");
        assert!(
            terse.requests <= 3,
            "{id}: terse requests {}",
            terse.requests
        );

        let short = walk(&call, 23, Misbehaviour::Terse, sized(&call, 10)).await;
        assert_eq!(
            (short.ids, short.requests),
            (upto(23), 3),
            "{id}: short last page"
        );
    }
}

#[tokio::test]
async fn a_repeated_cursor_or_page_ends_the_stream_with_a_typed_error_not_a_loop() {
    for id in STYLES {
        let call = call(id);
        // A cursor the answer names can come back; one read off the last item can only stay
        // put when the server ignores it, which repeats the page.
        let cursor = matches!(
            call.paging.style,
            PagingStyle::Cursor { params } if params.iter().all(|p| matches!(p.source, CursorSource::Response(_)))
        );
        let misbehaviour = if cursor {
            Misbehaviour::RepeatCursor
        } else {
            Misbehaviour::IgnorePosition
        };
        let walk = walk(&call, 100, misbehaviour, sized(&call, 10)).await;
        assert_eq!(
            walk.requests, 2,
            "{id}: the second answer gives the repetition away"
        );
        let [error] = walk.errors.as_slice() else {
            panic!("{id}: expected one error, got {:?}", walk.errors);
        };
        match error.as_pagination() {
            Some(PaginationError::RepeatedCursor { page: 2, .. }) if cursor => {
                // The second page's items are new; they are yielded before the error.
                assert_eq!(walk.ids[..20], upto(20)[..], "{id}");
            }
            Some(PaginationError::RepeatedPage { page: 2 }) if !cursor => {
                // The repeated page is not yielded again.
                assert_eq!(walk.ids[..10], upto(10)[..], "{id}");
                assert_eq!(walk.ids.len(), 11, "{id}: ten items and the error");
            }
            other => panic!("{id}: unexpected {other:?} ({error})"),
        }
        assert!(
            error.to_string().contains(call.paging.operation_id),
            "{error}"
        );
    }
}

#[tokio::test]
async fn a_list_that_changes_between_pages_is_read_as_documented() {
    for id in STYLES {
        let call = call(id);
        let inserted = walk(
            &call,
            25,
            Misbehaviour::InsertAfterFirstPage,
            sized(&call, 10),
        )
        .await;
        assert!(inserted.errors.is_empty(), "{id}: {:?}", inserted.errors);
        assert_eq!(inserted.server.ids().len(), 26);
        let mut expected = upto(25);
        if !matches!(call.paging.style, PagingStyle::Cursor { .. }) {
            // Offsets and page numbers count positions: the insertion pushes the first page's
            // last item into the second page.
            expected.insert(10, Some(10));
        }
        // Either way the new item, inserted before the position, is not seen.
        assert_eq!(inserted.ids, expected, "{id}: insertion");

        let reversed = walk(
            &call,
            25,
            Misbehaviour::ReverseAfterFirstPage,
            sized(&call, 10),
        )
        .await;
        assert!(reversed.errors.is_empty(), "{id}: {:?}", reversed.errors);
        assert!(
            reversed.requests <= 4,
            "{id}: reordering must not loop: {}",
            reversed.requests
        );
        assert_eq!(reversed.ids[..10], upto(10)[..], "{id}");
    }
}

#[tokio::test]
async fn errors_mid_stream_are_retried_by_the_runtime_or_end_the_stream() {
    for id in STYLES {
        let call = call(id);
        let once = walk(&call, 25, Misbehaviour::FailOnce(2), sized(&call, 10)).await;
        assert_eq!(once.ids, upto(25), "{id}: a 503 is retried");
        assert_eq!(once.requests, 4, "{id}");

        let broken = walk(&call, 25, Misbehaviour::FailFrom(2), sized(&call, 10)).await;
        assert_eq!(
            broken.ids[..10],
            upto(10)[..],
            "{id}: the first page arrives"
        );
        assert_eq!(broken.ids.len(), 11, "{id}: then one error, then the end");
        let [error] = broken.errors.as_slice() else {
            panic!("{id}: {:?}", broken.errors);
        };
        assert_eq!(error.status().map(|s| s.as_u16()), Some(500), "{id}");
        assert_eq!(
            broken.requests,
            1 + 4,
            "{id}: the runtime's four attempts, then no more"
        );
    }
}

#[tokio::test]
async fn the_page_size_is_honoured_up_to_the_operations_maximum() {
    let mock = highlevel_tests::mock_server().await;
    let contacts = call("get-contacts");
    let server = ListServer::new(contacts.paging, contacts.item_key, 250, Misbehaviour::None);
    let asked = |requests: &[wiremock::Request]| -> Vec<String> {
        requests
            .iter()
            .filter_map(|r| {
                r.url
                    .query_pairs()
                    .find(|(k, _)| k == "limit")
                    .map(|(_, v)| v.into_owned())
            })
            .collect()
    };
    for (page_size, limit, requests, why) in [
        (Some(500), "100", 3, "500 asked, the maximum sent"),
        (None, "100", 3, "no size: the maximum"),
        (Some(30), "30", 9, "250 in pages of 30"),
    ] {
        mock.reset().await;
        server.mount(&mock).await;
        let options = StreamOptions {
            page_size,
            prefetch: 0,
        };
        let items = (contacts.run)(handle(&mock), options)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ids(&items, contacts.item_key), upto(250), "{why}");
        let received = mock.received_requests().await.unwrap_or_default();
        assert_eq!(received.len(), requests, "{why}");
        assert_eq!(asked(&received), vec![limit; requests], "{why}");
    }
}

#[tokio::test]
async fn prefetch_keeps_pages_in_order_and_stops_at_the_end() {
    for id in ["list-invoices", "get-forms-submissions", "search-locations"] {
        let call = call(id);
        for prefetch in [1, 3] {
            let options = StreamOptions {
                page_size: Some(10),
                prefetch,
            };
            let walk = walk(&call, 95, Misbehaviour::None, options).await;
            assert_eq!(walk.ids, upto(95), "{id}, prefetch {prefetch}");
            assert!(walk.errors.is_empty(), "{id}: {:?}", walk.errors);
            // Ten pages, and at most `prefetch` requests launched past the end.
            assert!(
                (10..=10 + prefetch).contains(&walk.requests),
                "{id}, prefetch {prefetch}: {} requests",
                walk.requests
            );
        }
    }
}

// `get_contacts` is deprecated upstream, yet HighLevel and the sandbox still serve it: it is
// the simplest authenticated list call, which is all this needs.
#[allow(deprecated)]
#[tokio::test]
async fn nothing_is_sent_until_polled_and_then_one_page_at_a_time() {
    use futures_util::StreamExt as _;

    let mock = highlevel_tests::mock_server().await;
    let server = ListServer::new(
        &highlevel::contacts::pagination::GET_CONTACTS,
        Some("id"),
        25,
        Misbehaviour::None,
    );
    server.mount(&mock).await;
    let hl = handle(&mock);
    let contacts = hl.contacts();
    let mut stream = contacts
        .get_contacts()
        .location_id("loc")
        .stream()
        .page_size(10);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        server.requests(),
        0,
        "a stream that is not polled sends nothing"
    );
    for read in 1..=10 {
        let contact = stream.next().await.expect("an item").expect("no error");
        assert_eq!(contact.id.as_deref(), Some(read.to_string().as_str()));
        assert_eq!(server.requests(), 1, "the first page serves items 1 to 10");
    }
    let eleventh = stream.next().await.expect("an item").expect("no error");
    assert_eq!(eleventh.id.as_deref(), Some("11"));
    assert_eq!(
        server.requests(),
        2,
        "the second page only when item 11 is asked for"
    );
    assert_eq!(stream.count().await, 14);
    assert_eq!(server.requests(), 3);
}
