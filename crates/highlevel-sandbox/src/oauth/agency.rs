//! The agency endpoints: a location token from an agency token (`POST /oauth/locationToken`,
//! v3's `POST /oauth/location-token`) and the installed locations (`GET
//! /oauth/installedLocations` paged by `skip`, v3's `GET /oauth/installed-locations` paged by
//! `pageToken`). All want an unexpired agency (Company) access token of the company they
//! name.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::token::Form;
use super::{Bearer, Casing, Grant, OAuthSetup, Subject, no_store};
use crate::auth::presented_token;
use crate::errors::ApiError;
use crate::request::Params;
use crate::state::Shared;

/// `installedLocations` page size when none is asked for (the spec's default).
const DEFAULT_LIMIT: usize = 20;
/// The largest page it serves (the spec names none; HighLevel's list endpoints stop at 500).
const MAX_LIMIT: usize = 500;
/// The largest v3 page (`pageSize`: "Max items per page (1-100)").
const MAX_PAGE_SIZE_V3: usize = 100;

/// The company and scope of the request's agency token: 401 without a live token, 403 for
/// a location token or another company's.
fn agency_of(
    shared: &Shared,
    headers: &HeaderMap,
    company_id: Option<&str>,
) -> Result<String, ApiError> {
    let bearer = match presented_token(headers)? {
        Some(token) => shared.oauth().bearer(token),
        None => Bearer::Unknown,
    };
    match bearer {
        Bearer::Valid(Grant {
            subject: Subject::Company(company),
            scope,
        }) => match company_id {
            Some(id) if id != company => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "The token does not have access to this company",
            )),
            _ => Ok(scope),
        },
        Bearer::Valid(_) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "This route needs an agency (Company) access token",
        )),
        Bearer::Expired | Bearer::Unknown => Err(ApiError::unauthorized("Invalid JWT")),
    }
}

pub(super) async fn location_token(
    State(shared): State<Shared>,
    headers: HeaderMap,
    form: Form,
) -> Result<Response, ApiError> {
    let company = form.get("companyId");
    let scope = agency_of(&shared, &headers, company)?;
    let [company, location] = form.required(["companyId", "locationId"])?;
    let body = shared.oauth().location_token(company, &scope, location)?;
    Ok((no_store(), Json(body)).into_response())
}

/// `POST /oauth/location-token` (v3): the same minting, answered in v3's camelCase shape.
pub(super) async fn location_token_v3(
    State(shared): State<Shared>,
    headers: HeaderMap,
    form: Form,
) -> Result<Response, ApiError> {
    let company = form.get("companyId");
    let scope = agency_of(&shared, &headers, company)?;
    let [company, location] = form.required(["companyId", "locationId"])?;
    let body = shared.oauth().location_token(company, &scope, location)?;
    Ok((no_store(), Json(v3_location_token(body))).into_response())
}

/// A location token answer as v3 declares it (`GetLocationAccessTokenV3SuccessfulResponseDto`):
/// camelCase, and only its fields (no `userType` or `companyId`).
fn v3_location_token(body: Value) -> Value {
    const V3_FIELDS: [&str; 8] = [
        "accessToken",
        "tokenType",
        "expiresIn",
        "refreshToken",
        "scope",
        "locationId",
        "userId",
        "appId",
    ];
    match Casing::Camel.answer(body) {
        Value::Object(mut fields) => {
            fields.retain(|name, _| V3_FIELDS.contains(&name.as_str()));
            Value::Object(fields)
        }
        other => other,
    }
}

/// The filters both installed-locations routes share.
struct Filters<'a> {
    company_id: Option<&'a str>,
    app_id: Option<&'a str>,
    is_installed: Option<&'a str>,
    /// A part of the location's name.
    query: Option<&'a str>,
    location_id: Option<&'a str>,
}

impl Filters<'_> {
    /// Adds a problem when no company is named (the first check, as HighLevel lists it).
    fn check_company(&self, problems: &mut Vec<String>) {
        if self.company_id.is_none_or(str::is_empty) {
            problems.push("companyId should not be empty".to_owned());
        }
    }

    /// Whether installed locations are asked for, with `isInstalled`'s and `appId`'s
    /// problems added to `problems`.
    fn check_installed_and_app(&self, app_id: &str, problems: &mut Vec<String>) -> bool {
        let installed = match self.is_installed {
            None | Some("true") => true,
            Some("false") => false,
            Some(_) => {
                problems.push("isInstalled must be a boolean value".into());
                true
            }
        };
        match self.app_id {
            None | Some("") => problems.push("appId should not be empty".into()),
            Some(id) if id != app_id => {
                problems.push("appId must be the id of the app the token was issued to".into());
            }
            Some(_) => {}
        }
        installed
    }

    /// The matching locations, in order. Every location of the sandbox's company has the app
    /// installed: `isInstalled=false` lists none.
    fn matching(&self, setup: &OAuthSetup, installed: bool) -> Vec<Value> {
        let name_part = self.query.map(str::to_lowercase);
        setup
            .locations
            .iter()
            .enumerate()
            .filter(|_| installed)
            .filter(|(_, id)| self.location_id.is_none_or(|wanted| *id == wanted))
            .map(|(i, id)| (id, format!("Sandbox Location {}", i + 1), i))
            .filter(|(_, name, _)| {
                name_part
                    .as_deref()
                    .is_none_or(|part| name.to_lowercase().contains(part))
            })
            .map(|(id, name, i)| {
                json!({
                    "_id": id,
                    "name": name,
                    "address": format!("{} Sandbox Street, Springfield", i + 1),
                    "isInstalled": true,
                })
            })
            .collect()
    }
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct InstalledQuery {
    company_id: Option<String>,
    app_id: Option<String>,
    skip: Option<String>,
    limit: Option<String>,
    is_installed: Option<String>,
    /// A part of the location's name.
    query: Option<String>,
    location_id: Option<String>,
}

/// `GET /oauth/installedLocations` (v2): paged by `skip` and `limit`, `{ locations, count }`.
pub(super) async fn installed_locations(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Params(query): Params<InstalledQuery>,
) -> Result<Response, ApiError> {
    agency_of(&shared, &headers, query.company_id.as_deref())?;
    let filters = Filters {
        company_id: query.company_id.as_deref(),
        app_id: query.app_id.as_deref(),
        is_installed: query.is_installed.as_deref(),
        query: query.query.as_deref(),
        location_id: query.location_id.as_deref(),
    };
    let mut problems = Vec::new();
    filters.check_company(&mut problems);
    let skip = match query.skip.as_deref().map(str::parse::<usize>) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            problems.push("skip must be a non-negative integer".into());
            0
        }
    };
    let limit = match query.limit.as_deref().map(str::parse::<usize>) {
        None => DEFAULT_LIMIT,
        Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => {
            problems.push(format!("limit must be an integer from 1 to {MAX_LIMIT}"));
            0
        }
    };
    let oauth = shared.oauth();
    let setup = oauth.setup();
    let installed = filters.check_installed_and_app(setup.app_id(), &mut problems);
    if !problems.is_empty() {
        return Err(ApiError::validation(problems));
    }
    let matching = filters.matching(setup, installed);
    let count = matching.len();
    let page: Vec<Value> = matching.into_iter().skip(skip).take(limit).collect();
    Ok(Json(json!({
        "locations": page,
        "count": count,
        "installToFutureLocations": false,
    }))
    .into_response())
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct InstalledQueryV3 {
    company_id: Option<String>,
    app_id: Option<String>,
    page_size: Option<String>,
    page_token: Option<String>,
    is_installed: Option<String>,
    /// A part of the location's name.
    query: Option<String>,
    location_id: Option<String>,
}

/// v3's page token: opaque to clients, here the URL-safe base64 of `{"skip":N}` as
/// HighLevel's look.
fn page_token(skip: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!(r#"{{"skip":{skip}}}"#))
}

/// The offset a page token names, if it is one of ours.
fn skip_of(token: &str) -> Option<usize> {
    let bytes = URL_SAFE_NO_PAD.decode(token.trim()).ok()?;
    let value: Value = serde_json::from_slice(&bytes).ok()?;
    value.get("skip")?.as_u64().map(|n| n as usize)
}

/// `GET /oauth/installed-locations` (v3): paged by `pageSize` (1 to 100, default 20) and
/// `pageToken`, answered `{ items, pagination: { totalRecords, hasNextPage, nextPageToken,
/// … }, metadata }`.
pub(super) async fn installed_locations_v3(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Params(query): Params<InstalledQueryV3>,
) -> Result<Response, ApiError> {
    agency_of(&shared, &headers, query.company_id.as_deref())?;
    let filters = Filters {
        company_id: query.company_id.as_deref(),
        app_id: query.app_id.as_deref(),
        is_installed: query.is_installed.as_deref(),
        query: query.query.as_deref(),
        location_id: query.location_id.as_deref(),
    };
    let mut problems = Vec::new();
    filters.check_company(&mut problems);
    let page_size = match query.page_size.as_deref().map(str::parse::<usize>) {
        None => DEFAULT_LIMIT,
        Some(Ok(n)) if (1..=MAX_PAGE_SIZE_V3).contains(&n) => n,
        Some(_) => {
            problems.push(format!(
                "pageSize must be an integer from 1 to {MAX_PAGE_SIZE_V3}"
            ));
            0
        }
    };
    let skip = match query.page_token.as_deref() {
        None | Some("") => 0,
        Some(token) => skip_of(token).unwrap_or_else(|| {
            problems.push("pageToken is not a token this endpoint issued".into());
            0
        }),
    };
    let oauth = shared.oauth();
    let setup = oauth.setup();
    let installed = filters.check_installed_and_app(setup.app_id(), &mut problems);
    if !problems.is_empty() {
        return Err(ApiError::validation(problems));
    }
    let matching = filters.matching(setup, installed);
    let total = matching.len();
    let items: Vec<Value> = matching.into_iter().skip(skip).take(page_size).collect();
    let end = skip + items.len();
    let mut pagination = json!({
        "totalRecords": total,
        "hasNextPage": end < total,
        "hasPrevPage": skip > 0,
        "currentPageSize": items.len(),
    });
    if let Some(fields) = pagination.as_object_mut() {
        if end < total {
            fields.insert("nextPageToken".into(), page_token(end).into());
        }
        if skip > 0 {
            fields.insert(
                "prevPageToken".into(),
                page_token(skip.saturating_sub(page_size)).into(),
            );
        }
    }
    Ok(Json(json!({
        "items": items,
        "pagination": pagination,
        "metadata": {
            "filterApplied": { "companyId": query.company_id, "isInstalled": installed },
            "sortApplied": {},
        },
        "installToFutureLocations": false,
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_round_trip_and_strangers_are_refused() {
        assert_eq!(page_token(20), "eyJza2lwIjoyMH0");
        assert_eq!(skip_of(&page_token(120)), Some(120));
        assert_eq!(skip_of("not-a-token"), None);
        assert_eq!(skip_of(&URL_SAFE_NO_PAD.encode("{\"skip\":-1}")), None);
    }

    #[test]
    fn v3_location_tokens_are_camel_case_with_v3_fields_only() {
        let body = json!({
            "access_token": "at", "token_type": "Bearer", "expires_in": 5,
            "refresh_token": "rt", "scope": "s", "userType": "Location",
            "companyId": "co", "locationId": "l", "userId": "u", "appId": "a",
        });
        assert_eq!(
            v3_location_token(body),
            json!({
                "accessToken": "at", "tokenType": "Bearer", "expiresIn": 5,
                "refreshToken": "rt", "scope": "s", "locationId": "l", "userId": "u",
                "appId": "a",
            })
        );
    }
}
