//! What a successful call returns: the decoded body with the answer's status and headers, or,
//! for a download, its body as a stream of chunks.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

/// A 2xx answer: its decoded body (`inner`), status and headers.
///
/// It dereferences to the body, so `response.id` reads a field; [`ResponseValue::into_inner`]
/// takes the body out.
pub struct ResponseValue<T> {
    inner: T,
    status: StatusCode,
    headers: HeaderMap,
}

impl<T> ResponseValue<T> {
    /// A response from its parts (the runtime builds these; a test double may too).
    #[inline]
    pub fn new(inner: T, status: StatusCode, headers: HeaderMap) -> Self {
        Self {
            inner,
            status,
            headers,
        }
    }

    /// The decoded body.
    #[inline]
    pub fn into_inner(self) -> T {
        self.inner
    }

    /// The answer's status (200, 201, 204, ...).
    #[inline]
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The answer's headers (`X-RateLimit-*`, `traceId` where HighLevel sends it, ...).
    #[inline]
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body's length as the answer declared it (`Content-Length`), when it did.
    pub fn content_length(&self) -> Option<u64> {
        self.headers
            .get(reqwest::header::CONTENT_LENGTH)?
            .to_str()
            .ok()?
            .parse()
            .ok()
    }
}

impl<T> Deref for ResponseValue<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T> DerefMut for ResponseValue<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

impl<T: fmt::Debug> fmt::Debug for ResponseValue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseValue")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("inner", &self.inner)
            .finish()
    }
}

/// The body of a download (a call recording, a transcription file), chunk by chunk as it
/// arrives; [`crate::collect_bytes`] reads it whole.
///
/// Unlike JSON bodies it is not held to the handle's `max_response_bytes`: the caller reads
/// as much of it as they want.
pub struct ByteStream(Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>);

impl ByteStream {
    /// The body of `response`, read as the stream is polled.
    pub(crate) fn of(response: reqwest::Response) -> Self {
        // After a failed chunk the stream ends: the connection is gone.
        Self(Box::pin(futures_util::stream::unfold(
            Some(response),
            |response| async move {
                let mut response = response?;
                match response.chunk().await {
                    Ok(Some(chunk)) => Some((Ok(chunk), Some(response))),
                    Ok(None) => None,
                    Err(error) => Some((Err(error), None)),
                }
            },
        )))
    }

    /// The stream itself.
    pub fn into_inner(self) -> Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>> {
        self.0
    }
}

impl Stream for ByteStream {
    type Item = reqwest::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.as_mut().poll_next(cx)
    }
}

impl fmt::Debug for ByteStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ByteStream")
    }
}
