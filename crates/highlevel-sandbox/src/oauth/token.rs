//! `POST /oauth/token`: authorization codes and refresh tokens for access tokens, the client
//! authenticated by its id and secret in the form body. v2's snake_case fields
//! (`client_id`, `grant_type`, `refresh_token`, …) get a snake_case answer (`access_token`,
//! `expires_in`, …); v3's camelCase ones (`clientId`, `grantType`, `refreshToken`, …) a
//! camelCase answer (`accessToken`, `expiresIn`, …).

use std::collections::HashMap;
use std::fmt;

use axum::Json;
use axum::extract::{FromRequest, Request, State};
use axum::response::{IntoResponse, Response};

use super::{Casing, OAuthError, no_store};
use crate::errors::ApiError;
use crate::request::read_body;
use crate::state::Shared;

const FORM: &str = "application/x-www-form-urlencoded";

/// A form body as name → value (the last of repeated names wins); any other content type
/// is a shaped 415.
pub(super) struct Form(HashMap<String, String>);

impl fmt::Debug for Form {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names only: the values are secrets, codes and tokens.
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl FromRequest<Shared> for Form {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Shared) -> Result<Self, Self::Rejection> {
        let bytes = read_body(req, state, FORM, |mime| mime.eq_ignore_ascii_case(FORM)).await?;
        Ok(Self(
            url::form_urlencoded::parse(&bytes)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        ))
    }
}

impl Form {
    /// A field's value; an empty one counts as missing.
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The fields, or a 422 listing every missing one, as HighLevel's validators do.
    pub(super) fn required<const N: usize>(&self, names: [&str; N]) -> Result<[&str; N], ApiError> {
        let missing: Vec<String> = names
            .iter()
            .filter(|n| self.get(n).is_none())
            .map(|n| format!("{n} should not be empty"))
            .collect();
        if !missing.is_empty() {
            return Err(ApiError::validation(missing));
        }
        Ok(names.map(|n| self.get(n).unwrap_or_default()))
    }
}

/// The casing a token request uses: camelCase when it names `clientId` or `grantType` (v3),
/// snake_case otherwise (v2). Fields of the other casing are then not read.
fn casing_of(form: &Form) -> Casing {
    if form.get("clientId").is_some() || form.get("grantType").is_some() {
        Casing::Camel
    } else {
        Casing::Snake
    }
}

pub(super) async fn token(State(shared): State<Shared>, form: Form) -> Result<Response, ApiError> {
    let casing = casing_of(&form);
    let name = |snake| casing.field(snake);
    let [client_id, client_secret, grant_type] =
        form.required([name("client_id"), name("client_secret"), name("grant_type")])?;
    let user_type = form.get(name("user_type"));
    if user_type.is_some_and(|t| t != "Location" && t != "Company") {
        return Err(ApiError::validation(vec![format!(
            "{} must be one of the following values: Company, Location",
            name("user_type")
        )]));
    }
    let mut oauth = shared.oauth();
    if !oauth.client_matches(client_id, client_secret) {
        return Ok(OAuthError::invalid_client().into_response());
    }
    let granted = match grant_type {
        "authorization_code" => {
            let [code] = form.required(["code"])?;
            let granted =
                oauth.exchange_code(client_id, code, form.get(name("redirect_uri")), user_type);
            if let Ok(session) = &granted {
                // Queued while the OAuth state is locked, so installs arrive in the order they happened.
                shared
                    .webhooks()
                    .emit("INSTALL", || oauth.install_event(session));
            }
            granted
        }
        "refresh_token" => {
            let [refresh_token] = form.required([name("refresh_token")])?;
            oauth.refresh(refresh_token, user_type)
        }
        _ => {
            return Err(ApiError::validation(vec![format!(
                "{} must be one of the following values: authorization_code, refresh_token",
                name("grant_type")
            )]));
        }
    };
    drop(oauth);
    Ok(match granted {
        Ok(body) => (no_store(), Json(casing.answer(body))).into_response(),
        Err(refused) => refused.into_response(),
    })
}
