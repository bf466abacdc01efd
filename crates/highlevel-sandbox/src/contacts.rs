//! The contacts API: create, get, update, delete, search (`POST /contacts/search`, paged by
//! `page` or `searchAfter`: v3's way to list contacts), and the `GET /contacts/` list with
//! HighLevel's `meta` paging envelope (`startAfterId` / `startAfter` / `nextPageUrl`).

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::{TimeZone, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::errors::ApiError;
use crate::request::{JsonObject, Params, PathText, text};
use crate::state::Shared;
use crate::version::{self, Accepted};

/// The `Version` every contacts operation declares (v2's `2021-07-28`; v3 declares `v3` for the same routes).
pub const VERSION: Accepted = version::V2_AND_V3;
/// `GET /contacts/` page size when none is asked for, and the most it allows.
const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 100;
/// `POST /contacts/search` page size when none is asked for, and the most it allows.
const DEFAULT_SEARCH_LIMIT: usize = 20;
const MAX_SEARCH_LIMIT: usize = 500;
/// Text fields a free-text query looks in.
const SEARCHED_FIELDS: [&str; 6] = [
    "firstName",
    "lastName",
    "name",
    "email",
    "phone",
    "companyName",
];
/// The other text fields a create or update may set.
const OTHER_TEXT_FIELDS: [&str; 8] = [
    "source",
    "address1",
    "city",
    "state",
    "postalCode",
    "website",
    "timezone",
    "country",
];
/// The structured fields a create or update may set (as CreateContactDto declares them);
/// `locationId` names the location and cannot change.
const OTHER_FIELDS: [&str; 9] = [
    "locationId",
    "gender",
    "dnd",
    "dndSettings",
    "inboundDndSettings",
    "tags",
    "customFields",
    "dateOfBirth",
    "assignedTo",
];
/// Fields a create or update may not set.
const SERVER_FIELDS: [&str; 4] = ["id", "locationId", "dateAdded", "dateUpdated"];

/// The contacts routes (all behind the token and `Version` checks of `app.rs`).
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/contacts/", get(list).post(create))
        .route("/contacts", get(list).post(create))
        .route("/contacts/search", post(search))
        .route(
            "/contacts/{contactId}",
            get(read).put(update).delete(remove),
        )
}

/// The contacts of the sandbox's location, in HighLevel's list order (`dateAdded`, then id).
#[derive(Debug, Default)]
pub struct ContactStore {
    by_id: BTreeMap<String, Stored>,
    /// Every contact's list position, sorted: pages of a large list are found by binary
    /// search instead of sorting every contact per request.
    order: Vec<(i64, String)>,
    last_added_ms: i64,
}

#[derive(Debug, Clone)]
struct Stored {
    added_ms: i64,
    fields: Map<String, Value>,
}

impl ContactStore {
    /// A creation time strictly after the previous one, so the list order is total.
    fn next_added_ms(&mut self) -> i64 {
        let now = Utc::now().timestamp_millis();
        self.last_added_ms = now.max(self.last_added_ms + 1);
        self.last_added_ms
    }

    fn ordered(&self) -> Vec<&Stored> {
        self.order
            .iter()
            .filter_map(|(_, id)| self.by_id.get(id))
            .collect()
    }

    fn insert(&mut self, id: String, contact: Stored) {
        let key = (contact.added_ms, id.clone());
        let at = self.order.partition_point(|k| *k < key);
        self.order.insert(at, key);
        self.by_id.insert(id, contact);
    }

    fn remove(&mut self, id: &str) -> Option<Stored> {
        let contact = self.by_id.remove(id)?;
        let key = (contact.added_ms, id.to_owned());
        if let Ok(at) = self.order.binary_search(&key) {
            self.order.remove(at);
        }
        Some(contact)
    }

    /// Adds `count` generated contacts (`Seed Contact N`, `seed-N@example.com`), for benches
    /// and demos that need a long list.
    pub fn seed(&mut self, count: usize, location_id: &str) {
        for n in 1..=count {
            let added_ms = self.next_added_ms();
            let id = new_id();
            let mut fields = Map::new();
            fields.insert("id".into(), json!(id));
            fields.insert("locationId".into(), json!(location_id));
            fields.insert("firstName".into(), json!("Seed"));
            fields.insert("lastName".into(), json!(format!("Contact {n}")));
            fields.insert("email".into(), json!(format!("seed-{n}@example.com")));
            fields.insert("phone".into(), json!(format!("+1555{n:07}")));
            fields.insert("tags".into(), json!(["seed"]));
            fields.insert("dateAdded".into(), json!(iso(added_ms)));
            fields.insert("dateUpdated".into(), json!(iso(added_ms)));
            self.insert(id, Stored { added_ms, fields });
        }
    }

    fn email_owner(&self, email: &str, except: Option<&str>) -> Option<&str> {
        self.by_id
            .iter()
            .find(|(id, c)| {
                Some(id.as_str()) != except
                    && text(&c.fields, "email").is_some_and(|e| e.eq_ignore_ascii_case(email))
            })
            .map(|(id, _)| id.as_str())
    }
}

fn id_of(contact: &Stored) -> &str {
    text(&contact.fields, "id").unwrap_or("")
}

fn iso(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// A HighLevel-looking id: 20 alphanumeric characters.
fn new_id() -> String {
    uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .chars()
        .take(20)
        .collect()
}

/// Problems with a create or update body, as HighLevel's validators word them.
fn validate(body: &Map<String, Value>) -> Vec<String> {
    let mut problems = Vec::new();
    for field in SEARCHED_FIELDS.iter().chain(&OTHER_TEXT_FIELDS) {
        if let Some(value) = body.get(*field)
            && !value.is_string()
            && !value.is_null()
        {
            problems.push(format!("{field} must be a string"));
        }
    }
    if let Some(email) = text(body, "email")
        && !looks_like_email(email)
    {
        problems.push("email must be an email".into());
    }
    for field in body.keys() {
        if !SEARCHED_FIELDS.contains(&field.as_str())
            && !OTHER_TEXT_FIELDS.contains(&field.as_str())
            && !OTHER_FIELDS.contains(&field.as_str())
        {
            problems.push(format!("property {field} should not exist"));
        }
    }
    if let Some(dnd) = body.get("dnd")
        && !dnd.is_boolean()
    {
        problems.push("dnd must be a boolean value".into());
    }
    if let Some(tags) = body.get("tags")
        && !tags
            .as_array()
            .is_some_and(|t| t.iter().all(Value::is_string))
    {
        problems.push("tags must be an array of strings".into());
    }
    problems
}

/// `text` percent-encoded for a query string (everything but RFC 3986's unreserved set).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn looks_like_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(char::is_whitespace)
}

fn display_name(fields: &Map<String, Value>) -> Option<String> {
    let parts: Vec<&str> = ["firstName", "lastName"]
        .iter()
        .filter_map(|f| text(fields, f))
        .filter(|s| !s.is_empty())
        .collect();
    if parts.is_empty() {
        text(fields, "name").map(str::to_owned)
    } else {
        Some(parts.join(" "))
    }
}

/// A contact's fields as the API answers them.
fn fields_of(contact: &Stored) -> Map<String, Value> {
    let mut fields = contact.fields.clone();
    if let Some(name) = display_name(&fields) {
        fields.insert("contactName".into(), json!(name.to_lowercase()));
    }
    fields
}

fn view(contact: &Stored) -> Value {
    Value::Object(fields_of(contact))
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("Contact with id {id} not found"),
    )
}

fn check_location(shared: &Shared, location: Option<&str>) -> Result<(), ApiError> {
    match location {
        None => Err(ApiError::validation(vec![
            "locationId should not be empty".into(),
            "locationId must be a string".into(),
        ])),
        Some(id) if id != shared.location_id() => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "The token does not have access to this location.",
        )),
        Some(_) => Ok(()),
    }
}

fn duplicate(existing: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "This location does not allow duplicated contacts.",
    )
    .with_meta(json!({ "contactId": existing, "matchingField": "email" }))
}

async fn create(
    State(shared): State<Shared>,
    JsonObject(body): JsonObject,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    check_location(&shared, text(&body, "locationId"))?;
    let problems = validate(&body);
    if !problems.is_empty() {
        return Err(ApiError::validation(problems));
    }
    let mut store = shared.contacts();
    if let Some(email) = text(&body, "email")
        && let Some(owner) = store.email_owner(email, None)
    {
        return Err(duplicate(owner));
    }
    let added_ms = store.next_added_ms();
    let id = new_id();
    let mut fields: Map<String, Value> = body
        .into_iter()
        .filter(|(k, _)| !SERVER_FIELDS.contains(&k.as_str()))
        .collect();
    if let Some(email) = text(&fields, "email").map(str::to_lowercase) {
        fields.insert("email".into(), json!(email));
    }
    fields.insert("id".into(), json!(id));
    fields.insert("locationId".into(), json!(shared.location_id()));
    fields.insert("dateAdded".into(), json!(iso(added_ms)));
    fields.insert("dateUpdated".into(), json!(iso(added_ms)));
    fields.entry("tags").or_insert_with(|| json!([]));
    let contact = Stored { added_ms, fields };
    let answer = view(&contact);
    // Queued under the store's lock, so deliveries follow the order of the changes.
    shared
        .webhooks()
        .emit("ContactCreate", || fields_of(&contact));
    store.insert(id, contact);
    Ok((StatusCode::CREATED, Json(json!({ "contact": answer }))))
}

async fn read(
    State(shared): State<Shared>,
    PathText(id): PathText,
) -> Result<Json<Value>, ApiError> {
    let store = shared.contacts();
    let contact = store.by_id.get(&id).ok_or_else(|| not_found(&id))?;
    Ok(Json(json!({ "contact": view(contact) })))
}

async fn update(
    State(shared): State<Shared>,
    PathText(id): PathText,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, ApiError> {
    let problems = validate(&body);
    if !problems.is_empty() {
        return Err(ApiError::validation(problems));
    }
    let mut store = shared.contacts();
    if !store.by_id.contains_key(&id) {
        return Err(not_found(&id));
    }
    if let Some(email) = text(&body, "email")
        && let Some(owner) = store.email_owner(email, Some(&id))
    {
        return Err(duplicate(owner));
    }
    let now = iso(Utc::now().timestamp_millis());
    let contact = store.by_id.get_mut(&id).ok_or_else(|| not_found(&id))?;
    for (key, value) in body {
        if !SERVER_FIELDS.contains(&key.as_str()) {
            contact.fields.insert(key, value);
        }
    }
    contact.fields.insert("dateUpdated".into(), json!(now));
    shared
        .webhooks()
        .emit("ContactUpdate", || fields_of(contact));
    Ok(Json(json!({ "succeded": true, "contact": view(contact) })))
}

async fn remove(
    State(shared): State<Shared>,
    PathText(id): PathText,
) -> Result<Json<Value>, ApiError> {
    let mut store = shared.contacts();
    let removed = store.remove(&id).ok_or_else(|| not_found(&id))?;
    shared
        .webhooks()
        .emit("ContactDelete", || fields_of(&removed));
    // Spelled as HighLevel spells it.
    Ok(Json(json!({ "succeded": true })))
}

/// Whether `contact` matches a free-text query (name, email, phone, company), as the list and
/// search endpoints match it: case-insensitive substring.
fn matches(contact: &Stored, query: Option<&str>) -> bool {
    let Some(query) = query.map(str::trim).filter(|q| !q.is_empty()) else {
        return true;
    };
    let needle = query.to_lowercase();
    let mut haystack: Vec<String> = SEARCHED_FIELDS
        .iter()
        .filter_map(|f| text(&contact.fields, f))
        .map(str::to_lowercase)
        .collect();
    haystack.extend(display_name(&contact.fields).map(|n| n.to_lowercase()));
    haystack.iter().any(|h| h.contains(&needle))
}

/// `GET /contacts/` query. Numbers arrive as text; they are parsed here so a bad one is a
/// HighLevel-shaped 422, not a framework error.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    location_id: Option<String>,
    limit: Option<String>,
    start_after_id: Option<String>,
    start_after: Option<String>,
    query: Option<String>,
}

fn parse_number(field: &str, value: Option<&str>) -> Result<Option<f64>, ApiError> {
    match value {
        None => Ok(None),
        Some(text) => text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .map(Some)
            .ok_or_else(|| ApiError::validation(vec![format!("{field} must be a number")])),
    }
}

async fn list(
    State(shared): State<Shared>,
    Params(query): Params<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    check_location(&shared, query.location_id.as_deref())?;
    let limit = match parse_number("limit", query.limit.as_deref())? {
        None => DEFAULT_LIMIT,
        Some(n) if n < 1.0 || n.fract() != 0.0 => {
            return Err(ApiError::validation(vec![
                "limit must be a positive integer".into(),
            ]));
        }
        Some(n) if n > MAX_LIMIT as f64 => {
            return Err(ApiError::validation(vec![format!(
                "limit must not be greater than {MAX_LIMIT}"
            )]));
        }
        // Checked above: a whole number in 1..=100.
        Some(n) => n as usize,
    };
    let start_after = parse_number("startAfter", query.start_after.as_deref())?.map(|n| n as i64);
    let store = shared.contacts();
    // The cursor is the last contact of the previous page: (dateAdded, id). A cursor whose
    // contact was deleted still works, as it names a position, not a row.
    let cursor = match (start_after, query.start_after_id.as_deref()) {
        (None, None) => None,
        (Some(at), id) => Some((at, id)),
        (None, Some(id)) => {
            let at = store.by_id.get(id).map(|c| c.added_ms).ok_or_else(|| {
                // Starting over would make a client's paging loop run forever.
                ApiError::validation(vec![format!(
                    "startAfterId {id} names no contact; send startAfter with it"
                )])
            })?;
            Some((at, Some(id)))
        }
    };
    let after = |key: &(i64, String)| match cursor {
        None => false,
        Some((at, Some(id))) => (key.0, key.1.as_str()) <= (at, id),
        Some((at, None)) => key.0 <= at,
    };
    let (total, skipped, page): (usize, usize, Vec<&Stored>) =
        if query.query.as_deref().is_none_or(|q| q.trim().is_empty()) {
            // The whole list: its order index gives the position at once.
            let skipped = store.order.partition_point(after);
            let page = store.order[skipped..]
                .iter()
                .take(limit)
                .filter_map(|(_, id)| store.by_id.get(id))
                .collect();
            (store.order.len(), skipped, page)
        } else {
            let matching: Vec<&Stored> = store
                .ordered()
                .into_iter()
                .filter(|c| matches(c, query.query.as_deref()))
                .collect();
            let skipped = matching
                .iter()
                .take_while(|c| after(&(c.added_ms, id_of(c).to_owned())))
                .count();
            let page = matching.iter().skip(skipped).take(limit).copied().collect();
            (matching.len(), skipped, page)
        };
    let more = skipped + page.len() < total;
    let current_page = skipped / limit + 1;
    let last = page.last().filter(|_| more);
    let next_url = last.map(|c| {
        let mut url = format!(
            "{}/contacts/?locationId={}&limit={limit}&startAfter={}&startAfterId={}",
            shared.base_url(),
            encode(shared.location_id()),
            c.added_ms,
            encode(id_of(c))
        );
        if let Some(query) = query.query.as_deref() {
            url.push_str("&query=");
            url.push_str(&encode(query));
        }
        url
    });
    Ok(Json(json!({
        "contacts": page.iter().map(|c| view(c)).collect::<Vec<_>>(),
        "count": page.len(),
        "meta": {
            "total": total,
            "nextPageUrl": next_url,
            "startAfterId": last.map(|c| id_of(c)),
            "startAfter": last.map(|c| c.added_ms),
            "currentPage": current_page,
            "nextPage": more.then_some(current_page + 1),
            "prevPage": (current_page > 1).then(|| current_page - 1),
        }
    })))
}

/// `POST /contacts/search` (v2's and v3's way of listing contacts): `locationId`, a free-text
/// `query`, `pageLimit` (1 to 500, default 20), and either `page` (from 1) or `searchAfter`
/// (the `searchAfter` of the previous page's last contact: `[dateAdded in ms, id]`). Answers
/// `{ contacts, total }`, each contact with its `searchAfter`.
async fn search(
    State(shared): State<Shared>,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, ApiError> {
    check_location(&shared, text(&body, "locationId"))?;
    if body
        .get("filters")
        .and_then(Value::as_array)
        .is_some_and(|f| !f.is_empty())
    {
        return Err(ApiError::validation(vec![
            "the sandbox searches by `query` only; `filters` are not supported".into(),
        ]));
    }
    let number = |field: &str, default: usize, max: usize| -> Result<usize, ApiError> {
        match body.get(field) {
            None | Some(Value::Null) => Ok(default),
            Some(value) => value
                .as_u64()
                .filter(|n| (1..=max as u64).contains(n))
                .map(|n| n as usize)
                .ok_or_else(|| {
                    ApiError::validation(vec![format!(
                        "{field} must be an integer between 1 and {max}"
                    )])
                }),
        }
    };
    let page_limit = number("pageLimit", DEFAULT_SEARCH_LIMIT, MAX_SEARCH_LIMIT)?;
    let page = number("page", 1, usize::MAX / MAX_SEARCH_LIMIT)?;
    let after = search_after(&body)?;
    let store = shared.contacts();
    let found: Vec<&Stored> = store
        .ordered()
        .into_iter()
        .filter(|c| matches(c, text(&body, "query")))
        .collect();
    let skipped = match &after {
        // A position, not a row: a cursor whose contact was deleted still works.
        Some((at, id)) => found
            .iter()
            .take_while(|c| (c.added_ms, id_of(c)) <= (*at, id.as_str()))
            .count(),
        None => (page - 1) * page_limit,
    };
    let contacts: Vec<Value> = found
        .iter()
        .skip(skipped)
        .take(page_limit)
        .map(|c| {
            let mut fields = fields_of(c);
            fields.insert("searchAfter".into(), json!([c.added_ms, id_of(c)]));
            Value::Object(fields)
        })
        .collect();
    Ok(Json(json!({ "contacts": contacts, "total": found.len() })))
}

/// A search body's `searchAfter` cursor, `[dateAdded in ms, id]`; it replaces `page`.
fn search_after(body: &Map<String, Value>) -> Result<Option<(i64, String)>, ApiError> {
    let cursor = match body.get("searchAfter") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(parts)) => match parts.as_slice() {
            [at, id] => at.as_i64().zip(id.as_str().map(str::to_owned)),
            _ => None,
        },
        Some(_) => None,
    };
    let Some(cursor) = cursor else {
        return Err(ApiError::validation(vec![
            "searchAfter must be the searchAfter of a contact of the previous page: \
             [dateAdded in ms, id]"
                .into(),
        ]));
    };
    if body.get("page").is_some_and(|p| !p.is_null()) {
        return Err(ApiError::validation(vec![
            "page and searchAfter cannot be used together".into(),
        ]));
    }
    Ok(Some(cursor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_loosely_like_a_validator() {
        assert!(looks_like_email("ada@example.com"));
        for bad in [
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a da@example.com",
            "ada@.com",
        ] {
            assert!(!looks_like_email(bad), "{bad}");
        }
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(encode("Az09-._~"), "Az09-._~");
    }

    #[test]
    fn validation_lists_every_problem() {
        let body: Map<String, Value> = serde_json::from_value(
            json!({ "email": "nope", "firstName": 3, "tags": "vip", "bogus": 1, "dnd": "yes" }),
        )
        .unwrap_or_default();
        assert_eq!(
            validate(&body),
            vec![
                "firstName must be a string".to_owned(),
                "email must be an email".to_owned(),
                "property bogus should not exist".to_owned(),
                "dnd must be a boolean value".to_owned(),
                "tags must be an array of strings".to_owned()
            ]
        );
    }
}
