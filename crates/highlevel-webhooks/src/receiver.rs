//! A ready axum endpoint (feature `axum`): reads the body up to the verifier's limit,
//! verifies, refuses replays, answers at once and hands each typed event to your code
//! through a bounded channel.

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::routing::post;
use tokio::sync::mpsc;

use crate::events::Event;
use crate::{Delivery, WebhookError, WebhookVerifier};

/// A verified, first-seen delivery and its typed event.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Received {
    /// What was verified: scheme, `webhookId`, `timestamp`, the JSON.
    pub delivery: Delivery,
    /// The event, typed (an event type this SDK does not know is [`Event::Unknown`]).
    pub event: Event,
}

#[derive(Clone)]
struct Endpoint {
    verifier: WebhookVerifier,
    events: mpsc::Sender<Received>,
}

/// A router with `POST path` receiving HighLevel's deliveries, and the channel their events
/// arrive on (at most `capacity` waiting).
///
/// Answers, so that HighLevel retries exactly what may succeed later: 200 for a delivery
/// handed over, and for a duplicate (already handled); 503 when the channel is full or
/// closed or the seen-store fails (nothing recorded, a retry is welcome); 413 for a body over
/// the verifier's limit; 401 for a missing, malformed or wrong signature; 400 for a verified
/// body without a usable `timestamp`/`webhookId` or outside the window.
pub fn router(
    path: &str,
    verifier: WebhookVerifier,
    capacity: usize,
) -> (Router, mpsc::Receiver<Received>) {
    let (sender, receiver) = mpsc::channel(capacity.max(1));
    let endpoint = Endpoint {
        verifier,
        events: sender,
    };
    let router = Router::new()
        .route(path, post(receive))
        .with_state(endpoint);
    (router, receiver)
}

async fn receive(
    State(endpoint): State<Endpoint>,
    request: Request<Body>,
) -> (StatusCode, &'static str) {
    // A slot first: a delivery verified (and its id recorded) but then dropped would be lost,
    // as HighLevel's retry would be refused as a duplicate.
    let Ok(slot) = endpoint.events.try_reserve() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "busy");
    };
    let (parts, body) = request.into_parts();
    let limit = endpoint.verifier.max_body();
    let Ok(body) = axum::body::to_bytes(body, limit).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "body too large");
    };
    match endpoint.verifier.verify(&parts.headers, &body).await {
        Ok(delivery) => {
            let event = Event::from_value(delivery.payload.clone());
            slot.send(Received { delivery, event });
            (StatusCode::OK, "ok")
        }
        Err(error) => {
            tracing::warn!(%error, "highlevel webhook refused");
            answer(&error)
        }
    }
}

fn answer(error: &WebhookError) -> (StatusCode, &'static str) {
    match error {
        WebhookError::Duplicate { .. } => (StatusCode::OK, "duplicate"),
        WebhookError::BodyTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "body too large"),
        WebhookError::MissingSignature { .. }
        | WebhookError::MalformedSignature { .. }
        | WebhookError::BadSignature { .. }
        | WebhookError::NoKey { .. } => (StatusCode::UNAUTHORIZED, "signature"),
        e if e.is_transient() => (StatusCode::SERVICE_UNAVAILABLE, "try again"),
        _ => (StatusCode::BAD_REQUEST, "refused"),
    }
}
