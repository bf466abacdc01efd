//! `GET /locations/{locationId}` for every location the sandbox knows (its own and the
//! app's installed ones): the one route open to all of them, so several locations can be
//! called (and rate limited) at once.

use axum::Router;
use axum::extract::{Extension, State};
use axum::routing::get;
use serde_json::{Value, json};

use crate::auth::{Caller, forbidden};
use crate::errors::ApiError;
use crate::request::PathText;
use crate::state::Shared;
use crate::version::{self, Accepted};

/// The `Version` HighLevel's locations module takes (v2's `2021-07-28`; v3 declares `v3` for the same routes).
pub const VERSION: Accepted = version::V2_AND_V3;

pub fn routes() -> Router<Shared> {
    Router::new().route("/locations/{locationId}", get(read))
}

async fn read(
    State(shared): State<Shared>,
    Extension(Caller(caller)): Extension<Caller>,
    PathText(id): PathText,
) -> Result<axum::Json<Value>, ApiError> {
    if id != caller {
        return Err(forbidden());
    }
    let company = shared.oauth().setup().company_id.clone();
    Ok(axum::Json(json!({
        "location": {
            "id": id,
            "companyId": company,
            "name": format!("Sandbox location {id}"),
            "timezone": "UTC",
            "country": "US",
        }
    })))
}
