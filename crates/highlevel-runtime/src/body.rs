//! Response bodies read with a size cap while they stream: a server, a proxy or anyone on
//! the path can send any amount, and reading it whole before looking would hold all of it in
//! memory (and decode it).

use bytes::{Bytes, BytesMut};

/// The largest response body read by default: 32 MiB, far above HighLevel's largest pages
/// (100 contacts with their custom fields are well under 1 MiB). Downloads (operations
/// answering a byte stream) are not capped.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 32 << 20;

/// The cap for one response, set by the request loop (`request_loop.rs`) from the handle's
/// configuration and read where the body is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResponseLimit(pub(crate) usize);

/// The cap `response` was sent under ([`DEFAULT_MAX_RESPONSE_BYTES`] when it did not go
/// through the request loop).
pub(crate) fn limit_of(response: &reqwest::Response) -> usize {
    response
        .extensions()
        .get::<ResponseLimit>()
        .map_or(DEFAULT_MAX_RESPONSE_BYTES, |limit| limit.0)
}

/// Why a body was not read.
#[derive(Debug)]
pub(crate) enum ReadError {
    Transport(reqwest::Error),
    TooLarge { limit: usize },
}

/// The whole body, or [`ReadError::TooLarge`] as soon as it (or its `Content-Length`) passes
/// `limit`, without reading on.
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Bytes, ReadError> {
    let too_large = ReadError::TooLarge { limit };
    let declared = response.content_length();
    match declared {
        Some(len) if len > limit as u64 => return Err(too_large),
        // The transport reads no more than a declared length (HTTP/1.1 framing; HTTP/2
        // checks it too), so the whole body fits: reqwest collects it with less work per
        // response than the loop below.
        Some(_) => return response.bytes().await.map_err(ReadError::Transport),
        None => {}
    }
    // Most bodies come as one chunk: keep it as it is, without a copy.
    let Some(first) = response.chunk().await.map_err(ReadError::Transport)? else {
        return Ok(Bytes::new());
    };
    if first.len() > limit {
        return Err(too_large);
    }
    let Some(second) = response.chunk().await.map_err(ReadError::Transport)? else {
        return Ok(first);
    };
    let expected = declared.map_or(0, |len| usize::try_from(len).unwrap_or(limit));
    let mut body = BytesMut::with_capacity(expected.max(first.len() + second.len()));
    body.extend_from_slice(&first);
    let mut chunk = Some(second);
    while let Some(part) = chunk {
        if body.len().saturating_add(part.len()) > limit {
            return Err(too_large);
        }
        body.extend_from_slice(&part);
        chunk = response.chunk().await.map_err(ReadError::Transport)?;
    }
    Ok(body.freeze())
}
