//! The request loop every SDK request leaves through: each attempt waits for its resource's
//! rate-limit budget, goes out (with an OAuth session's token, renewed once after a 401), and
//! feeds the answer's `X-RateLimit-*` headers back into the budget; [`crate::retry::decide`]
//! then says whether to try again.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::AUTHORIZATION;
use secrecy::SecretString;
use tracing::Instrument;

use crate::auth::{self, AuthError, OAuthApp, Resource, resource_for};
use crate::body::ResponseLimit;
use crate::failure::Failure;
use crate::rate_limit::headers::retry_after;
use crate::rate_limit::{Advertised, RateLimitError, ResourceLimiter};
use crate::retry::{Attempt, Decision, Outcome, decide, is_idempotent};
use crate::{OperationMeta, Runtime};

/// One call of an operation: its credentials, its budget and its span, set up before the
/// request loop so that the loop's future is the only one a call awaits (every future an
/// async layer adds is copied whole when it is created, on every request).
pub(crate) struct Call<'a> {
    runtime: &'a Runtime,
    client: &'a reqwest::Client,
    oauth: Option<(&'a OAuthApp, Resource)>,
    limiter: Arc<ResourceLimiter>,
    /// The call's `highlevel.request` span, which records each attempt.
    span: tracing::Span,
}

impl<'a> Call<'a> {
    /// Picks the credentials and the budget `operation` is sent with; a [`Failure`] when
    /// OAuth has no token for it.
    pub(crate) fn new(
        runtime: &'a Runtime,
        client: &'a reqwest::Client,
        operation: &'static OperationMeta,
        method: &reqwest::Method,
    ) -> Result<Self, Failure> {
        let oauth = match runtime.oauth_app() {
            Some(app) if operation.authenticated => {
                let resource = resource_for(
                    runtime.location(),
                    runtime.company(),
                    operation.accepts_location_token(),
                    operation.accepts_agency_token(),
                )
                .map_err(Failure::Auth)?;
                Some((app, resource))
            }
            _ => None,
        };
        let limiter = match &oauth {
            Some((_, Resource::Location(id))) => {
                runtime.rate_limiter().resource(&format!("location:{id}"))
            }
            Some((_, Resource::Company(id))) => {
                runtime.rate_limiter().resource(&format!("company:{id}"))
            }
            None => runtime.static_budget().clone(),
        };
        let span = tracing::info_span!(
            "highlevel.request",
            operation = operation.operation_id,
            resource = limiter.name(),
            method = %method,
            attempt = tracing::field::Empty,
            status = tracing::field::Empty,
            wait_ms = tracing::field::Empty,
        );
        Ok(Self {
            runtime,
            client,
            oauth,
            limiter,
            span,
        })
    }

    /// Sends `request` through the request loop, in the call's span.
    pub(crate) fn send(
        self,
        mut request: reqwest::Request,
    ) -> impl Future<Output = reqwest::Result<reqwest::Response>> + 'a {
        let span = self.span.clone();
        // A span nobody listens to still looks each field up by name to record it.
        let traced = !span.is_disabled();
        // A block, not an `async fn`: an async fn's future keeps its arguments twice (as
        // passed and as bound), and this one is created, and copied whole, on every call.
        async move {
            let span = &self.span;
            let config = self.runtime.retry_policy();
            let idempotent = is_idempotent(request.method());
            let started = tokio::time::Instant::now();
            // Drawn only once an attempt fails: most calls never need it.
            let mut backoffs = None;
            let mut waited = Duration::ZERO;
            let mut number = 0;
            loop {
                number += 1;
                // A body that cannot be replayed (a stream) gets one attempt; with one attempt in
                // all nothing is repeated (`decide`), so no copy is kept.
                let copy = if config.max_attempts > 1 {
                    replay_copy(&request)
                } else {
                    None
                };
                // The call's start is the first attempt's clock reading.
                let now = if number == 1 {
                    started
                } else {
                    tokio::time::Instant::now()
                };
                match self.limiter.acquire(now).await {
                    Ok(wait) => waited += wait,
                    Err(spent) => return Ok(Failure::RateLimit(spent).into_response()),
                }
                if traced {
                    span.record("attempt", number);
                    span.record("wait_ms", waited.as_millis());
                }
                let result = match self.attempt(request).await {
                    Ok(result) => result.map(|response| self.capped(response)),
                    Err(auth) => return Ok(Failure::Auth(auth).into_response()),
                };
                let mut advertised = Advertised::default();
                let outcome = match &result {
                    Ok(response) => {
                        if traced {
                            span.record("status", response.status().as_u16());
                        }
                        advertised = Advertised::read(response.headers());
                        self.limiter.observe(&advertised);
                        Outcome::Status {
                            status: response.status(),
                            // Only a refusal's wait is ever followed; a success skips the lookup.
                            retry_after: if response.status().is_success() {
                                None
                            } else {
                                retry_after(response.headers(), SystemTime::now)
                            },
                            interval: advertised.interval,
                            daily_exhausted: advertised.daily_remaining == Some(0),
                        }
                    }
                    Err(error) => transport_outcome(error),
                };
                // `decide` returns `Return` for any 2xx whatever the attempt, and the backoff is
                // only used when it does not.
                let (decision, backoff) = if outcome.is_success() {
                    (Decision::Return, config.cap)
                } else {
                    let attempt = Attempt {
                        number,
                        elapsed: started.elapsed(),
                        idempotent,
                    };
                    // Boxed: drawn after a failure only, it would otherwise take room in
                    // every call's future.
                    let backoff = backoffs
                        .get_or_insert_with(|| Box::new(config.backoffs()))
                        .next()
                        .unwrap_or(config.cap);
                    (decide(config, &attempt, &outcome, backoff), backoff)
                };
                let mut blocked_for = None;
                match outcome {
                    Outcome::Status {
                        status: StatusCode::TOO_MANY_REQUESTS,
                        retry_after,
                        interval,
                        daily_exhausted: false,
                    } => {
                        // Everyone on this resource waits, instead of collecting 429s too.
                        let wait = retry_after.or(interval).unwrap_or(backoff);
                        let blocked = wait.min(config.max_retry_after);
                        self.limiter.throttled(blocked);
                        blocked_for = Some(blocked);
                    }
                    Outcome::Status { .. } => self.limiter.answered(),
                    _ => {}
                }
                // Every process sharing the budget follows what this answer said.
                self.limiter.report(&advertised, blocked_for).await;
                match decision {
                    Decision::Retry(wait) => {
                        // Before the wait: the refused answer (its connection) is released
                        // and the future holds one request across it, not two.
                        request = match copy {
                            Some(copy) => copy,
                            None => return result,
                        };
                        drop(result);
                        let throttled = matches!(
                            outcome,
                            Outcome::Status { status, .. } if status == StatusCode::TOO_MANY_REQUESTS
                        );
                        // After a 429 the limiter holds the next attempt back; otherwise back off.
                        if !throttled {
                            tokio::time::sleep(wait).await;
                            waited += wait;
                        }
                        tracing::debug!(?outcome, wait_ms = wait.as_millis(), "retrying");
                    }
                    Decision::DailyQuotaExhausted => {
                        let retry_after = match outcome {
                            Outcome::Status { retry_after, .. } => retry_after,
                            _ => None,
                        };
                        let resets_at = self.limiter.daily_exhausted(retry_after);
                        return Ok(Failure::RateLimit(RateLimitError::DailyQuotaExhausted {
                            resource: self.limiter.name().to_owned(),
                            resets_at,
                        })
                        .into_response());
                    }
                    Decision::RetryAfterTooLong(retry_after) => {
                        return Ok(Failure::RateLimit(RateLimitError::RetryAfterTooLong {
                            resource: self.limiter.name().to_owned(),
                            retry_after,
                            cap: config.max_retry_after,
                        })
                        .into_response());
                    }
                    _ => return result,
                }
            }
        }
        .instrument(span)
    }

    /// The response with the handle's body cap: the body is read where the runtime is out
    /// of reach, so the cap travels with it; the default is what is assumed there, and needs
    /// no per-request allocation.
    fn capped(&self, mut response: reqwest::Response) -> reqwest::Response {
        let limit = self.runtime.max_response_bytes();
        if limit != crate::DEFAULT_MAX_RESPONSE_BYTES {
            response.extensions_mut().insert(ResponseLimit(limit));
        }
        response
    }

    /// One attempt: with OAuth, the session's bearer and, after a 401, one renewal and a
    /// second send (which waits for budget like any request).
    async fn attempt(
        &self,
        request: reqwest::Request,
    ) -> Result<reqwest::Result<reqwest::Response>, AuthError> {
        let Some((app, resource)) = &self.oauth else {
            return Ok(self.client.execute(request).await);
        };
        // Boxed: picking and renewing a session is a large future, and without the box every
        // request's future (OAuth or not) would carry its size.
        Box::pin(self.attempt_with_session(app, resource, request)).await
    }

    async fn attempt_with_session(
        &self,
        app: &OAuthApp,
        resource: &Resource,
        mut request: reqwest::Request,
    ) -> Result<reqwest::Result<reqwest::Response>, AuthError> {
        let company = self.runtime.company();
        let session = app.current(resource, company).await?;
        let retry = request.try_clone();
        set_bearer(&mut request, &session.session.access_token)?;
        let response = match self.client.execute(request).await {
            Ok(response) => response,
            Err(e) => return Ok(Err(e)),
        };
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(Ok(response));
        }
        let Some(mut retry) = retry else {
            return Ok(Ok(response));
        };
        let Some(renewed) = app.after_unauthorized(resource, company, &session).await? else {
            return Ok(Ok(response));
        };
        tracing::debug!("oauth: retrying after a 401 with renewed tokens");
        set_bearer(&mut retry, &renewed.session.access_token)?;
        if let Err(spent) = self.limiter.acquire(tokio::time::Instant::now()).await {
            return Ok(Ok(Failure::RateLimit(spent).into_response()));
        }
        let retried = self.client.execute(retry).await;
        if retried
            .as_ref()
            .is_ok_and(|r| r.status() == StatusCode::UNAUTHORIZED)
        {
            app.refresh_did_not_cure(resource);
        }
        Ok(retried)
    }
}

/// A copy of `request` to send again if this attempt fails; `None` for a streamed body,
/// which cannot be replayed.
///
/// `Request::try_clone` also copies the request's extensions, and to carry the timeout it
/// allocates an extension map even when there is none. Of a request's extensions, reqwest
/// 0.13 reads only the timeout when it sends, so a bodiless request is copied field by field
/// with its timeout and without that map. The copy is made for every attempt and used by few.
fn replay_copy(request: &reqwest::Request) -> Option<reqwest::Request> {
    if request.body().is_some() {
        return request.try_clone();
    }
    let mut copy = reqwest::Request::new(request.method().clone(), request.url().clone());
    *copy.headers_mut() = request.headers().clone();
    *copy.version_mut() = request.version();
    if let Some(timeout) = request.timeout() {
        *copy.timeout_mut() = Some(*timeout);
    }
    Some(copy)
}

/// How a transport error bears on retrying: a failed connect never reached HighLevel.
fn transport_outcome(error: &reqwest::Error) -> Outcome {
    if error.is_connect() {
        Outcome::NotSent
    } else if error.is_timeout() {
        Outcome::TimedOut
    } else {
        Outcome::Interrupted
    }
}

fn set_bearer(request: &mut reqwest::Request, token: &SecretString) -> Result<(), AuthError> {
    request
        .headers_mut()
        .insert(AUTHORIZATION, auth::bearer(token)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replay_copy_sends_what_the_original_would() {
        crate::tls::install_crypto_provider().expect("the default ring provider");
        let client = reqwest::Client::new();
        let bodiless = client
            .get("https://example.test/contacts/a%20b?x=1")
            .header("authorization", "Bearer secret")
            .header("version", "2021-07-28")
            .version(reqwest::Version::HTTP_11)
            .timeout(Duration::from_secs(7))
            .build()
            .expect("request");
        let copy = replay_copy(&bodiless).expect("a bodiless request is copied");
        assert_eq!(copy.method(), bodiless.method());
        assert_eq!(copy.url(), bodiless.url());
        assert_eq!(copy.headers(), bodiless.headers());
        assert_eq!(copy.version(), bodiless.version());
        assert_eq!(copy.timeout(), Some(&Duration::from_secs(7)));
        assert!(copy.body().is_none());

        let untimed = client
            .delete("https://example.test/x")
            .build()
            .expect("request");
        assert_eq!(replay_copy(&untimed).expect("copied").timeout(), None);

        let with_body = client
            .post("https://example.test/contacts")
            .body(r#"{"firstName":"Ada"}"#)
            .build()
            .expect("request");
        let copy = replay_copy(&with_body).expect("a buffered body is copied");
        assert_eq!(
            copy.body().and_then(reqwest::Body::as_bytes),
            Some(br#"{"firstName":"Ada"}"#.as_slice())
        );

        let streamed = client
            .post("https://example.test/medias/upload-file")
            .body(reqwest::Body::wrap_stream(futures_util::stream::iter([
                Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"chunk")),
            ])))
            .build()
            .expect("request");
        assert!(
            replay_copy(&streamed).is_none(),
            "a stream cannot be sent twice"
        );
    }
}
