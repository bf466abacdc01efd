//! `GET /v2/oauth/chooselocation`: HighLevel's authorization page, where an admin picks a
//! location and consents. The sandbox's admin consents at once: a well-formed request is
//! answered with a 302 to `redirect_uri` carrying `code` and `state`; a malformed one with
//! a 400 (never a redirect: the redirect URI of a bad request is not to be trusted).

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Subject;
use crate::errors::ApiError;
use crate::request::Params;
use crate::state::Shared;

#[derive(serde::Deserialize)]
pub(super) struct ChooseQuery {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    #[serde(default)]
    scope: String,
    state: Option<String>,
    #[serde(rename = "loginWindowOpenMode")]
    login_window_open_mode: Option<String>,
    /// Sandbox extension: the installed location the simulated admin picks.
    location_id: Option<String>,
    /// Sandbox extension: `Company` for an agency install.
    user_type: Option<String>,
}

pub(super) async fn choose_location(
    State(shared): State<Shared>,
    Params(query): Params<ChooseQuery>,
) -> Result<Response, ApiError> {
    let bad = |message: &str| ApiError::new(StatusCode::BAD_REQUEST, message);
    if query.response_type.as_deref() != Some("code") {
        return Err(bad("response_type must be code"));
    }
    if query
        .login_window_open_mode
        .as_deref()
        .is_some_and(|mode| mode != "self")
    {
        return Err(bad("loginWindowOpenMode must be self"));
    }
    let redirect_uri = query.redirect_uri.as_deref().unwrap_or_default();
    let mut target = url::Url::parse(redirect_uri)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https") && url.fragment().is_none())
        .ok_or_else(|| bad("redirect_uri must be an absolute http(s) URL without a fragment"))?;
    let code = {
        let mut oauth = shared.oauth();
        if query.client_id.as_deref() != Some(oauth.setup().client_id.as_str()) {
            return Err(bad("Invalid client_id"));
        }
        let subject = match query.user_type.as_deref() {
            Some("Company") => Subject::Company(oauth.setup().company_id.clone()),
            None | Some("Location") => {
                let installed = &oauth.setup().locations;
                let picked = match query.location_id {
                    Some(id) => id,
                    None => installed.first().cloned().unwrap_or_default(),
                };
                if !installed.contains(&picked) {
                    return Err(bad("The app is not installed in that location"));
                }
                Subject::Location(picked)
            }
            Some(_) => return Err(bad("user_type must be Company or Location")),
        };
        oauth.issue_code(redirect_uri, subject, &query.scope)
    };
    // Added to whatever query the redirect URI has, form-encoded (RFC 6749 §4.1.2).
    target.query_pairs_mut().append_pair("code", &code);
    if let Some(state) = &query.state {
        target.query_pairs_mut().append_pair("state", state);
    }
    Ok((
        StatusCode::FOUND,
        [
            (header::LOCATION, target.to_string()),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
    )
        .into_response())
}
