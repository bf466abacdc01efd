//! Paging tests' server and calls: a list server that pages as a row of the pagination table
//! says (its parameters, envelope, cursors), with switchable misbehaviour, and the generated
//! `.stream()` call of every row (`tests/tests/conformance/calls/`).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use futures_util::{StreamExt as _, TryStreamExt as _};
use highlevel::pagination::{CursorSource, Items, Paginated, Paging, PagingStyle};
use highlevel::{Error, HighLevel};
use serde_json::{Map, Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::conformance::ArgumentError;

/// What the server's page size is when a request names none.
pub const SERVER_PAGE_SIZE: usize = 10;

/// The future of one generated `.stream()` call: every item (as JSON) or error it yielded.
pub type StreamFuture =
    Pin<Box<dyn Future<Output = Result<Vec<Result<Value, Error>>, ArgumentError>> + Send>>;

/// One row of the pagination table as a call.
#[derive(Debug, Clone, Copy)]
pub struct PagingCall {
    /// The spec set (`v2`, `v3`).
    pub set: &'static str,
    /// The module (`contacts`).
    pub module: &'static str,
    /// The upstream operation id.
    pub operation_id: &'static str,
    /// How it pages (the generated constant).
    pub paging: &'static Paging,
    /// The item property that tells items apart, if the items are objects with one.
    pub item_key: Option<&'static str>,
    /// Streams every item through the facade.
    pub run: fn(HighLevel, StreamOptions) -> StreamFuture,
}

/// How a call sets up its stream.
#[derive(Debug, Clone, Copy, Default)]
pub struct StreamOptions {
    /// `.page_size(n)`, if set.
    pub page_size: Option<u64>,
    /// `.prefetch(n)`.
    pub prefetch: usize,
}

/// Pins a generated stream call's future.
pub fn boxed_stream(
    future: impl Future<Output = Result<Vec<Result<Value, Error>>, ArgumentError>> + Send + 'static,
) -> StreamFuture {
    Box::pin(future)
}

/// Drains a stream into JSON items (and the error that ended it, if any).
pub async fn collect<R: Paginated>(
    items: Items<'_, R>,
    options: StreamOptions,
) -> Vec<Result<Value, Error>> {
    let mut items = items.prefetch(options.prefetch);
    if let Some(size) = options.page_size {
        items = items.page_size(size);
    }
    items
        .map_ok(|item| serde_json::to_value(item).unwrap_or_else(|e| json!(e.to_string())))
        .collect()
        .await
}

/// What the list server does wrong, on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Misbehaviour {
    /// Pages as the table says.
    #[default]
    None,
    /// Every answer names the first page's cursor again.
    RepeatCursor,
    /// Offset and page number are ignored: every answer is the first page.
    IgnorePosition,
    /// After the first page, a new item appears at the front of the list.
    InsertAfterFirstPage,
    /// After the first page, the list is served in reverse order.
    ReverseAfterFirstPage,
    /// The request with this 1-based number fails once with 503.
    FailOnce(usize),
    /// Every request from this 1-based number on fails with 500.
    FailFrom(usize),
    /// No total, no "has more", no end-of-list cursor: only the page length tells the end.
    Terse,
}

#[derive(Debug)]
struct ListState {
    ids: Vec<u64>,
    requests: usize,
    served_pages: usize,
    first_cursor: Option<u64>,
}

/// A list that pages like the operation of one row of the table.
#[derive(Debug, Clone)]
pub struct ListServer {
    paging: &'static Paging,
    item_key: Option<&'static str>,
    misbehaviour: Misbehaviour,
    state: Arc<Mutex<ListState>>,
}

impl ListServer {
    /// `len` items with ids `1..=len`.
    pub fn new(
        paging: &'static Paging,
        item_key: Option<&'static str>,
        len: usize,
        misbehaviour: Misbehaviour,
    ) -> Self {
        Self {
            paging,
            item_key,
            misbehaviour,
            state: Arc::new(Mutex::new(ListState {
                ids: (1..=len as u64).collect(),
                requests: 0,
                served_pages: 0,
                first_cursor: None,
            })),
        }
    }

    /// Mounts the list on `server` for every request.
    pub async fn mount(&self, server: &MockServer) {
        Mock::given(wiremock::matchers::any())
            .respond_with(self.clone())
            .mount(server)
            .await;
    }

    /// Requests received so far.
    pub fn requests(&self) -> usize {
        self.lock().requests
    }

    /// The ids in the list now, in order.
    pub fn ids(&self) -> Vec<u64> {
        self.lock().ids.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ListState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The JSON of item `id`: the key and every last-item cursor field the row reads.
    fn item(&self, id: u64) -> Value {
        let Some(key) = self.item_key else {
            return json!(format!("item-{id}"));
        };
        let mut item = json!({ key: id.to_string() });
        if let PagingStyle::Cursor { params } = self.paging.style {
            for param in params {
                if let CursorSource::LastItem(pointers) = param.source
                    && let Some(pointer) = pointers.first()
                {
                    let value = if pointer.ends_with("Date") || pointer.contains("/0") {
                        json!(id)
                    } else {
                        json!(id.to_string())
                    };
                    set_pointer(&mut item, pointer, value);
                }
            }
        }
        item
    }

    fn page(&self, query: &HashMap<String, String>) -> ResponseTemplate {
        let paging = self.paging;
        let mut state = self.lock();
        state.requests += 1;
        let number = state.requests;
        match self.misbehaviour {
            Misbehaviour::FailOnce(n) if n == number => {
                return ResponseTemplate::new(503).set_body_json(json!({ "message": "try again" }));
            }
            Misbehaviour::FailFrom(n) if number >= n => {
                return ResponseTemplate::new(500).set_body_json(json!({ "message": "broken" }));
            }
            _ => {}
        }
        if state.served_pages == 1 {
            match self.misbehaviour {
                Misbehaviour::InsertAfterFirstPage => state.ids.insert(0, 1_000),
                Misbehaviour::ReverseAfterFirstPage => state.ids.reverse(),
                _ => {}
            }
        }
        let number_of = |param: &str| query.get(param).and_then(|v| v.trim().parse::<u64>().ok());
        let size = paging
            .page_size_param
            .and_then(number_of)
            .map_or(SERVER_PAGE_SIZE, |n| n as usize);
        if paging.max_page_size.is_some_and(|max| size as u64 > max) || size == 0 {
            return ResponseTemplate::new(422)
                .set_body_json(json!({ "message": format!("page size {size} out of range") }));
        }
        let ignore = self.misbehaviour == Misbehaviour::IgnorePosition;
        let start = match paging.style {
            _ if ignore => 0,
            PagingStyle::Offset { param } => number_of(param).unwrap_or(0) as usize,
            PagingStyle::PageNumber { param, first } => {
                number_of(param).unwrap_or(first).saturating_sub(first) as usize * size
            }
            // A cursor names the last item seen; the page starts after it, wherever it is now.
            PagingStyle::Cursor { params } => params
                .iter()
                .find_map(|p| number_of(p.param))
                .map_or(0, |after| {
                    state
                        .ids
                        .iter()
                        .position(|id| *id == after)
                        .map_or(state.ids.len(), |at| at + 1)
                }),
        };
        let total = state.ids.len();
        let ids: Vec<u64> = state.ids.iter().skip(start).take(size).copied().collect();
        let more = start + ids.len() < total;
        state.served_pages += 1;
        let terse = self.misbehaviour == Misbehaviour::Terse;
        let mut body = json!({});
        set_pointer(
            &mut body,
            &format!("/{}", paging.items),
            Value::Array(ids.iter().map(|id| self.item(*id)).collect()),
        );
        if let Some(pointer) = paging.total.filter(|_| !terse) {
            set_pointer(&mut body, pointer, json!(total));
        }
        if let Some(pointer) = paging.has_more.filter(|_| !terse) {
            set_pointer(&mut body, pointer, json!(more));
        }
        if let PagingStyle::Cursor { params } = paging.style {
            let last = ids.last().copied();
            let cursor = match self.misbehaviour {
                Misbehaviour::RepeatCursor => *state.first_cursor.get_or_insert(last.unwrap_or(0)),
                _ => last.unwrap_or(0),
            };
            for param in params {
                if let CursorSource::Response(pointer) = param.source
                    && (more || terse || self.misbehaviour == Misbehaviour::RepeatCursor)
                {
                    let value = if param.param == "startAfter" {
                        json!(cursor)
                    } else {
                        json!(cursor.to_string())
                    };
                    set_pointer(&mut body, pointer, value);
                }
            }
        }
        ResponseTemplate::new(200).set_body_json(body)
    }
}

impl Respond for ListServer {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let query: HashMap<String, String> = request.url.query_pairs().into_owned().collect();
        self.page(&query)
    }
}

/// Sets `value` at a JSON pointer, creating objects (and arrays for numeric segments).
pub fn set_pointer(root: &mut Value, pointer: &str, value: Value) {
    let segments: Vec<String> = pointer
        .trim_start_matches('/')
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    let mut node = root;
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        let next_is_index = segments
            .get(i + 1)
            .is_some_and(|s| s.parse::<usize>().is_ok());
        let fresh = || if next_is_index { json!([]) } else { json!({}) };
        node = match segment.parse::<usize>() {
            Ok(index) if node.is_array() => {
                let Some(list) = node.as_array_mut() else {
                    return;
                };
                while list.len() <= index {
                    list.push(Value::Null);
                }
                if last {
                    list[index] = value;
                    return;
                }
                if list[index].is_null() {
                    list[index] = fresh();
                }
                &mut list[index]
            }
            _ => {
                if !node.is_object() {
                    *node = Value::Object(Map::new());
                }
                let Some(map) = node.as_object_mut() else {
                    return;
                };
                if last {
                    map.insert(segment.clone(), value);
                    return;
                }
                map.entry(segment.clone()).or_insert_with(fresh)
            }
        };
    }
}

/// The ids of streamed items (their key parsed back), in order; `None` for an error.
pub fn ids(items: &[Result<Value, Error>], key: Option<&str>) -> Vec<Option<u64>> {
    items
        .iter()
        .map(|item| {
            let item = item.as_ref().ok()?;
            match key {
                Some(key) => item.get(key)?.as_str()?.parse().ok(),
                None => item.as_str()?.strip_prefix("item-")?.parse().ok(),
            }
        })
        .collect()
}
