//! Static metadata about each API operation.
//!
//! The code generator emits one `pub const` [`OperationMeta`] per operation so
//! that the runtime can apply per-operation behaviour (the `Version`
//! header, authentication, multipart framing, error attribution) without
//! re-parsing the OpenAPI documents at run time.

/// Everything the runtime needs to know about one operation, known at compile
/// time.
///
/// The generator writes these as `const` items, which is why every field is
/// public and the struct is deliberately *not* `#[non_exhaustive]`: adding a
/// field is a breaking change that is absorbed by regenerating the clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperationMeta {
    /// progenitor's snake_case operation id (e.g. `get_contact`); used to
    /// attribute errors to the call that produced them.
    pub operation_id: &'static str,
    /// HTTP method in upper case (`"GET"`, `"POST"`, ...), kept for
    /// diagnostics and for future method-dependent retry policies.
    pub method: &'static str,
    /// Path template as written in the spec (e.g. `/contacts/{contactId}`),
    /// kept so that rate limiting and diagnostics can group by route rather
    /// than by concrete URL.
    pub path: &'static str,
    /// Value of the `Version` request header HighLevel requires on most
    /// endpoints; `None` for endpoints that do not document one.
    pub version: Option<&'static str>,
    /// Security requirements declared for the operation, used to tell which
    /// kind of token it accepts.
    pub security: &'static [SecurityScheme],
    /// How the request body is encoded, so the runtime can fix up framing
    /// headers that progenitor cannot produce itself (multipart).
    pub request_body: RequestBodyKind,
    /// How the success response is consumed, so the runtime knows whether a
    /// JSON decode path is available for diagnostics.
    pub response_body: ResponseBodyKind,
    /// Whether the call carries the bearer token; `false` for endpoints that authenticate
    /// otherwise (the OAuth token endpoint takes the client secret in its form).
    pub authenticated: bool,
}

impl OperationMeta {
    /// Whether a location (sub-account) token may call this operation, so that
    /// callers can pick the right credential before making a doomed request.
    ///
    /// Operations that only declare the generic `Bearer` scheme (or nothing)
    /// accept either kind of token.
    pub fn accepts_location_token(&self) -> bool {
        self.is_unrestricted()
            || self.security.iter().any(|s| {
                matches!(
                    s,
                    SecurityScheme::LocationAccess | SecurityScheme::LocationAccessOnly
                )
            })
    }

    /// Whether an agency (company) token may call this operation; see
    /// [`OperationMeta::accepts_location_token`].
    pub fn accepts_agency_token(&self) -> bool {
        self.is_unrestricted()
            || self.security.iter().any(|s| {
                matches!(
                    s,
                    SecurityScheme::AgencyAccess | SecurityScheme::AgencyAccessOnly
                )
            })
    }

    /// True when the operation names no token-kind-specific scheme at all.
    fn is_unrestricted(&self) -> bool {
        self.security
            .iter()
            .all(|s| matches!(s, SecurityScheme::Bearer))
    }
}

/// Security schemes used by the HighLevel OpenAPI documents.
///
/// Non-exhaustive because HighLevel adds schemes over time and the generator
/// must be able to grow this list without breaking downstream matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SecurityScheme {
    /// Plain bearer token with no stated token kind.
    Bearer,
    /// Location (sub-account) token, possibly alongside other kinds.
    LocationAccess,
    /// Agency (company) token, possibly alongside other kinds.
    AgencyAccess,
    /// Only a location token is accepted.
    LocationAccessOnly,
    /// Only an agency token is accepted.
    AgencyAccessOnly,
}

/// Encoding of an operation's request body.
///
/// Non-exhaustive so new encodings can be supported without a breaking change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestBodyKind {
    /// The operation sends no body.
    None,
    /// `application/json`.
    Json,
    /// `application/x-www-form-urlencoded`.
    FormUrlencoded,
    /// `multipart/form-data`, built with [`crate::multipart::MultipartForm`];
    /// the pre hook derives the `Content-Type` boundary from the body.
    Multipart,
    /// `application/octet-stream` or another opaque binary body.
    OctetStream,
}

/// How an operation's success response is consumed.
///
/// Non-exhaustive so new response handling can be added without a breaking
/// change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseBodyKind {
    /// Decoded from JSON into a generated type.
    Json,
    /// Handed to the caller as a raw byte stream.
    Bytes,
}

/// `GET /contacts/{contactId}` as the generator describes it, for the runtime's unit tests.
#[cfg(test)]
pub(crate) static GET_CONTACT: OperationMeta = OperationMeta {
    operation_id: "get_contact",
    method: "GET",
    path: "/contacts/{contactId}",
    version: Some("2021-07-28"),
    security: &[SecurityScheme::LocationAccess],
    request_body: RequestBodyKind::None,
    response_body: ResponseBodyKind::Json,
    authenticated: true,
};

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(security: &'static [SecurityScheme]) -> OperationMeta {
        OperationMeta {
            operation_id: "op",
            method: "GET",
            path: "/x",
            version: None,
            security,
            request_body: RequestBodyKind::None,
            response_body: ResponseBodyKind::Json,
            authenticated: true,
        }
    }

    #[test]
    fn token_kinds_follow_security_schemes() {
        let cases: &[(&'static [SecurityScheme], bool, bool)] = &[
            (&[], true, true),
            (&[SecurityScheme::Bearer], true, true),
            (&[SecurityScheme::LocationAccess], true, false),
            (&[SecurityScheme::LocationAccessOnly], true, false),
            (&[SecurityScheme::AgencyAccess], false, true),
            (&[SecurityScheme::AgencyAccessOnly], false, true),
            (
                &[SecurityScheme::Bearer, SecurityScheme::AgencyAccessOnly],
                false,
                true,
            ),
            (
                &[SecurityScheme::LocationAccess, SecurityScheme::AgencyAccess],
                true,
                true,
            ),
        ];
        for (security, location, agency) in cases {
            let m = meta(security);
            assert_eq!(m.accepts_location_token(), *location, "{security:?}");
            assert_eq!(m.accepts_agency_token(), *agency, "{security:?}");
        }
    }
}
