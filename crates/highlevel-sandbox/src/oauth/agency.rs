//! The agency endpoints: `POST /oauth/locationToken` (a location token from an agency
//! token) and `GET /oauth/installedLocations`. Both want an unexpired agency (Company)
//! access token of the company they name.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::token::Form;
use super::{Bearer, Grant, Subject, no_store};
use crate::auth::presented_token;
use crate::errors::ApiError;
use crate::request::Params;
use crate::state::Shared;

/// `installedLocations` page size when none is asked for (the spec's default).
const DEFAULT_LIMIT: usize = 20;
/// The largest page it serves (the spec names none; HighLevel's list endpoints stop at 500).
const MAX_LIMIT: usize = 500;

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

pub(super) async fn installed_locations(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Params(query): Params<InstalledQuery>,
) -> Result<Response, ApiError> {
    agency_of(&shared, &headers, query.company_id.as_deref())?;
    let mut problems = Vec::new();
    if query.company_id.as_deref().is_none_or(str::is_empty) {
        problems.push("companyId should not be empty".to_owned());
    }
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
    let installed = match query.is_installed.as_deref() {
        None | Some("true") => true,
        Some("false") => false,
        Some(_) => {
            problems.push("isInstalled must be a boolean value".into());
            true
        }
    };
    let oauth = shared.oauth();
    let setup = oauth.setup();
    match query.app_id.as_deref() {
        None | Some("") => problems.push("appId should not be empty".into()),
        Some(id) if id != setup.app_id() => {
            problems.push("appId must be the id of the app the token was issued to".into());
        }
        Some(_) => {}
    }
    if !problems.is_empty() {
        return Err(ApiError::validation(problems));
    }
    let name_part = query.query.as_deref().map(str::to_lowercase);
    // Every location of the sandbox's company has the app installed: `isInstalled=false`
    // lists none.
    let matching: Vec<Value> = setup
        .locations
        .iter()
        .enumerate()
        .filter(|_| installed)
        .filter(|(_, id)| {
            query
                .location_id
                .as_deref()
                .is_none_or(|wanted| *id == wanted)
        })
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
        .collect();
    let count = matching.len();
    let page: Vec<Value> = matching.into_iter().skip(skip).take(limit).collect();
    Ok(Json(json!({
        "locations": page,
        "count": count,
        "installToFutureLocations": false,
    }))
    .into_response())
}
