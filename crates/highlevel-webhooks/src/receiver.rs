//! A ready axum endpoint (feature `axum`) for HighLevel's deliveries, in one of two modes.
//!
//! Every request is read first, up to the verifier's body limit and within a deadline
//! ([`DEFAULT_BODY_DEADLINE`], [`WebhookEndpoint::body_deadline`]), and its signature checked;
//! only a signed delivery gets any further. A connection that sends headers and then stalls
//! is answered 408 at the deadline and holds nothing meanwhile, so unauthenticated clients
//! cannot starve the endpoint.
//!
//! - **Fast, at most once** ([`WebhookEndpoint::channel`], [`router`]): a verified, first-seen
//!   delivery is recorded as seen, put on a bounded channel and answered 200 at once; your
//!   code takes it from the channel. Answers are quick whatever your code does, but an event
//!   your code then fails to handle (or a process that stops with events still queued) is
//!   lost: HighLevel saw 200 and will not deliver it again. Choose it when losing an
//!   occasional event is acceptable, or when your code keeps its own durable queue.
//! - **At least once** ([`WebhookEndpoint::handler`]): the endpoint awaits your handler and
//!   answers 200 only once it succeeded, 500 when it failed, so HighLevel retries; the
//!   `webhookId` is recorded as seen only after success, so that retry is handled rather than
//!   refused as a duplicate. A delivery whose handler succeeded but whose answer HighLevel did
//!   not get, or a duplicate arriving while the first is still being handled, is handled
//!   twice: make the handler idempotent. HighLevel waits for the answer, so the handler should
//!   be quick. Choose it when every event must be acted on.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::routing::post;
use tokio::sync::{Semaphore, mpsc};

use crate::events::Event;
use crate::{Delivery, WebhookError, WebhookVerifier};

/// How long a request's body may take to arrive by default.
pub const DEFAULT_BODY_DEADLINE: Duration = Duration::from_secs(10);
/// How many handlers the at-least-once mode runs at once by default.
pub const DEFAULT_MAX_CONCURRENT_HANDLERS: usize = 64;

/// A verified, first-seen delivery and its typed event.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Received {
    /// What was verified: scheme, `webhookId`, `timestamp`, the JSON.
    pub delivery: Delivery,
    /// The event, typed (an event type this SDK does not know is [`Event::Unknown`]).
    pub event: Event,
}

impl Received {
    fn new(delivery: Delivery) -> Self {
        let event = Event::from_value(delivery.payload.clone());
        Self { delivery, event }
    }
}

/// Builds the endpoint: the verifier, how long a body may take, and then the mode
/// ([`WebhookEndpoint::channel`] or [`WebhookEndpoint::handler`]; see the module's
/// documentation for which to choose).
///
/// ```no_run
/// # fn example(verifier: highlevel_webhooks::WebhookVerifier) {
/// use std::time::Duration;
/// use highlevel_webhooks::receiver::WebhookEndpoint;
///
/// let router = WebhookEndpoint::new(verifier)
///     .body_deadline(Duration::from_secs(5))
///     .handler("/webhooks/highlevel", |received| async move {
///         // Store or act on received.event; an error makes HighLevel deliver it again.
///         Ok::<(), std::io::Error>(())
///     });
/// # let _ = router;
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct WebhookEndpoint {
    verifier: WebhookVerifier,
    body_deadline: Duration,
    max_concurrent_handlers: usize,
}

impl WebhookEndpoint {
    /// An endpoint checking with `verifier`, bodies due within [`DEFAULT_BODY_DEADLINE`].
    pub fn new(verifier: WebhookVerifier) -> Self {
        Self {
            verifier,
            body_deadline: DEFAULT_BODY_DEADLINE,
            max_concurrent_handlers: DEFAULT_MAX_CONCURRENT_HANDLERS,
        }
    }

    /// How long a request's body may take to arrive, from when its headers did; a request
    /// still sending then is answered 408.
    pub fn body_deadline(mut self, deadline: Duration) -> Self {
        self.body_deadline = deadline;
        self
    }

    /// How many handlers the at-least-once mode ([`WebhookEndpoint::handler`]) runs at once
    /// (default [`DEFAULT_MAX_CONCURRENT_HANDLERS`], at least 1). A signed delivery arriving
    /// while that many are running is answered 503 at once, unrecorded, so HighLevel
    /// delivers it again later; a burst cannot pile up unbounded work in the process.
    pub fn max_concurrent_handlers(mut self, limit: usize) -> Self {
        self.max_concurrent_handlers = limit.max(1);
        self
    }

    /// The fast, at-most-once mode: a router with `POST path`, and the channel verified
    /// events arrive on (at most `capacity` waiting).
    ///
    /// Answers, so that HighLevel retries exactly what may succeed later: 200 for a delivery
    /// handed over, and for a duplicate (already handed over); 503 when the channel is full
    /// or closed or the seen-store fails (nothing recorded, a retry is welcome); 408 for a
    /// body that does not arrive in time; 413 for a body over the verifier's limit; 400 for a
    /// body that cannot be read (broken chunking, a client gone mid-body); 401 for a missing,
    /// malformed or wrong signature; 400 for a verified body without a usable
    /// `timestamp`/`webhookId` or outside the window.
    pub fn channel(self, path: &str, capacity: usize) -> (Router, mpsc::Receiver<Received>) {
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        let state = Channel {
            endpoint: self,
            events: sender,
        };
        let router = Router::new()
            .route(path, post(into_channel))
            .with_state(state);
        (router, receiver)
    }

    /// The at-least-once mode: a router with `POST path` that awaits `handler` for each
    /// verified delivery not seen before.
    ///
    /// Answers: 200 once the handler succeeded (the `webhookId` is then recorded), and for a
    /// delivery already handled; 500 when the handler failed (its error is logged, never
    /// sent; nothing is recorded, so HighLevel's retry is handled again); 503 when
    /// [`WebhookEndpoint::max_concurrent_handlers`] are already running or the seen-store
    /// fails before handling; 408, 413, 401 and 400 as [`WebhookEndpoint::channel`].
    pub fn handler<H, F, E>(self, path: &str, handler: H) -> Router
    where
        H: Fn(Received) -> F + Send + Sync + 'static,
        F: Future<Output = Result<(), E>> + Send + 'static,
        E: fmt::Display + 'static,
    {
        let handler: Handler = Arc::new(move |received| {
            let handled = handler(received);
            Box::pin(async move { handled.await.map_err(|e| e.to_string()) })
        });
        let state = Awaiting {
            running: Arc::new(Semaphore::new(self.max_concurrent_handlers)),
            endpoint: self,
            handler,
        };
        Router::new()
            .route(path, post(awaiting_handler))
            .with_state(state)
    }

    /// The body within the deadline and the limit, and the delivery it holds once its
    /// signature and window check out; nothing touches the seen-store.
    async fn read_and_check(&self, request: Request<Body>) -> Result<Delivery, Answer> {
        let (parts, body) = request.into_parts();
        let limit = self.verifier.max_body();
        let body = match tokio::time::timeout(self.body_deadline, read_capped(body, limit)).await {
            Ok(Ok(body)) => body,
            Ok(Err(BodyRead::TooLarge)) => {
                return Err((StatusCode::PAYLOAD_TOO_LARGE, "body too large"));
            }
            Ok(Err(BodyRead::Broken(error))) => {
                tracing::warn!(%error, "highlevel webhook body could not be read");
                return Err((StatusCode::BAD_REQUEST, "body unreadable"));
            }
            Err(_) => {
                tracing::warn!(
                    deadline = ?self.body_deadline,
                    "highlevel webhook body not received in time"
                );
                return Err((StatusCode::REQUEST_TIMEOUT, "body too slow"));
            }
        };
        let scheme = self
            .verifier
            .verify_signature(&parts.headers, &body)
            .map_err(refused)?;
        self.verifier.within_window(scheme, &body).map_err(refused)
    }
}

/// A router with `POST path` receiving HighLevel's deliveries in the fast, at-most-once mode,
/// and the channel their events arrive on (at most `capacity` waiting); bodies are due within
/// [`DEFAULT_BODY_DEADLINE`]. The same as `WebhookEndpoint::new(verifier).channel(path,
/// capacity)`, whose documentation lists the answers.
pub fn router(
    path: &str,
    verifier: WebhookVerifier,
    capacity: usize,
) -> (Router, mpsc::Receiver<Received>) {
    WebhookEndpoint::new(verifier).channel(path, capacity)
}

type Answer = (StatusCode, &'static str);

enum BodyRead {
    TooLarge,
    /// The client's bytes were not a body (bad chunking) or stopped (a reset connection).
    Broken(axum::Error),
}

/// The body, refused as soon as it passes `limit` bytes.
async fn read_capped(mut body: Body, limit: usize) -> Result<Bytes, BodyRead> {
    let mut collected = Vec::new();
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let Ok(chunk) = frame.map_err(BodyRead::Broken)?.into_data() else {
            continue; // trailers
        };
        if chunk.len() > limit.saturating_sub(collected.len()) {
            return Err(BodyRead::TooLarge);
        }
        collected.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(collected))
}

type Handler =
    Arc<dyn Fn(Received) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

#[derive(Clone)]
struct Channel {
    endpoint: WebhookEndpoint,
    events: mpsc::Sender<Received>,
}

#[derive(Clone)]
struct Awaiting {
    endpoint: WebhookEndpoint,
    handler: Handler,
    /// One permit per handler running.
    running: Arc<Semaphore>,
}

async fn into_channel(State(state): State<Channel>, request: Request<Body>) -> Answer {
    let delivery = match state.endpoint.read_and_check(request).await {
        Ok(delivery) => delivery,
        Err(answer) => return answer,
    };
    // The slot only now, for a signed delivery: taken before the body arrived, slots would be
    // held by whoever opens connections. And before recording: a delivery recorded but then
    // dropped would be lost, as HighLevel's retry would be refused as a duplicate.
    let Ok(slot) = state.events.try_reserve() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "busy");
    };
    if let Err(error) = state.endpoint.verifier.record(&delivery.webhook_id).await {
        return refused(error);
    }
    slot.send(Received::new(delivery));
    (StatusCode::OK, "ok")
}

async fn awaiting_handler(State(state): State<Awaiting>, request: Request<Body>) -> Answer {
    let delivery = match state.endpoint.read_and_check(request).await {
        Ok(delivery) => delivery,
        Err(answer) => return answer,
    };
    // A permit only now, for a signed delivery, as the channel mode's slot.
    let Ok(_running) = state.running.clone().try_acquire_owned() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "busy");
    };
    let verifier = &state.endpoint.verifier;
    let webhook_id = delivery.webhook_id.clone();
    match verifier.already_seen(&webhook_id).await {
        Ok(true) => {
            return refused(WebhookError::Duplicate { webhook_id });
        }
        Ok(false) => {}
        Err(error) => return refused(error),
    }
    if let Err(error) = (state.handler)(Received::new(delivery)).await {
        tracing::warn!(%error, %webhook_id, "highlevel webhook handler failed; HighLevel will retry");
        return (StatusCode::INTERNAL_SERVER_ERROR, "handler failed");
    }
    // Handled, whatever the store says now: a duplicate is a concurrent delivery handled as
    // well, and a store failure only means a retry would be handled again.
    match verifier.record(&webhook_id).await {
        Ok(()) | Err(WebhookError::Duplicate { .. }) => {}
        Err(error) => {
            tracing::warn!(%error, %webhook_id, "highlevel webhook handled but not recorded");
        }
    }
    (StatusCode::OK, "ok")
}

fn refused(error: WebhookError) -> Answer {
    if !matches!(error, WebhookError::Duplicate { .. }) {
        tracing::warn!(%error, "highlevel webhook refused");
    }
    answer(&error)
}

fn answer(error: &WebhookError) -> Answer {
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
