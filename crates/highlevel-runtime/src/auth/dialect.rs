//! Which of HighLevel's two OAuth endpoint sets an app calls, and every way they differ, as
//! small pure functions: paths, `Version` headers, form field names, the installed-locations
//! query and when its paging stops.

use std::borrow::Cow;
use std::collections::HashSet;

/// Which OAuth endpoints an [`OAuthApp`](super::OAuthApp) calls: set with
/// [`OAuthConfig::endpoints`](super::OAuthConfig::endpoints).
///
/// Only the requests differ. Whatever the choice, a token answer is read in either casing
/// (`access_token` or `accessToken`, `expires_in` or `expiresIn`, …), so an answer in the
/// other dialect's casing still makes a session. The authorization URL
/// (`/v2/oauth/chooselocation`, snake_case query) is the same for both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OAuthEndpoints {
    /// The endpoints HighLevel's OAuth guide documents (the default):
    ///
    /// - `POST /oauth/token`, form-urlencoded `client_id`, `client_secret`, `grant_type`,
    ///   `code` or `refresh_token`, `user_type`, `redirect_uri`; no `Version` header;
    /// - `POST /oauth/locationToken`, form `companyId`, `locationId`, the agency token as
    ///   bearer, `Version: 2021-07-28`;
    /// - `GET /oauth/installedLocations?companyId&appId&isInstalled=true&skip&limit=100`,
    ///   `Version: 2021-07-28`, answer `{ locations, count }`, paged by `skip` until `count`
    ///   locations were read (or a short page when there is no `count`).
    #[default]
    V2,
    /// The endpoints of API v3, as the official Python SDK 3.0.0 calls them (HighLevel's
    /// guide does not document them yet, and whether the live API takes the camelCase
    /// fields is not known: choose this only when you know your app is served by v3):
    ///
    /// - `POST /oauth/token`, form-urlencoded `clientId`, `clientSecret`, `grantType`,
    ///   `code` or `refreshToken`, `userType`, `redirectUri`; `Version: v3`;
    /// - `POST /oauth/location-token`, form `companyId`, `locationId`, the agency token as
    ///   bearer, `Version: v3`;
    /// - `GET /oauth/installed-locations?companyId&appId&isInstalled=true&pageSize=100`
    ///   (then `&pageToken=…`), `Version: v3`, answer `{ items, pagination: { hasNextPage,
    ///   nextPageToken, … } }`, paged until `hasNextPage` is false or no `nextPageToken` is
    ///   given. A `nextPageToken` that was already followed ends the listing with
    ///   [`AuthError::RepeatedPageToken`](super::AuthError::RepeatedPageToken) instead of
    ///   looping.
    V3,
}

/// One of the three OAuth calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Call {
    Token,
    LocationToken,
    InstalledLocations,
}

/// A field of the token request form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Field {
    ClientId,
    ClientSecret,
    GrantType,
    Code,
    RefreshToken,
    UserType,
    RedirectUri,
}

/// Installed locations per request (v3's `pageSize` allows 1 to 100; v2 takes the same).
pub(crate) const INSTALLED_PAGE: usize = 100;

impl OAuthEndpoints {
    /// The call's path.
    pub(crate) fn path(self, call: Call) -> &'static str {
        match (self, call) {
            (_, Call::Token) => "/oauth/token",
            (Self::V2, Call::LocationToken) => "/oauth/locationToken",
            (Self::V3, Call::LocationToken) => "/oauth/location-token",
            (Self::V2, Call::InstalledLocations) => "/oauth/installedLocations",
            (Self::V3, Call::InstalledLocations) => "/oauth/installed-locations",
        }
    }

    /// The call as errors name it: method and path.
    pub(crate) fn label(self, call: Call) -> &'static str {
        match (self, call) {
            (_, Call::Token) => "POST /oauth/token",
            (Self::V2, Call::LocationToken) => "POST /oauth/locationToken",
            (Self::V3, Call::LocationToken) => "POST /oauth/location-token",
            (Self::V2, Call::InstalledLocations) => "GET /oauth/installedLocations",
            (Self::V3, Call::InstalledLocations) => "GET /oauth/installed-locations",
        }
    }

    /// The `Version` header the call carries: v2's token endpoint declares none.
    pub(crate) fn version(self, call: Call) -> Option<&'static str> {
        match (self, call) {
            (Self::V2, Call::Token) => None,
            (Self::V2, _) => Some("2021-07-28"),
            (Self::V3, _) => Some("v3"),
        }
    }

    /// A token request field's name: snake_case in v2, camelCase in v3.
    pub(crate) fn field(self, field: Field) -> &'static str {
        let (snake, camel) = match field {
            Field::ClientId => ("client_id", "clientId"),
            Field::ClientSecret => ("client_secret", "clientSecret"),
            Field::GrantType => ("grant_type", "grantType"),
            Field::Code => ("code", "code"),
            Field::RefreshToken => ("refresh_token", "refreshToken"),
            Field::UserType => ("user_type", "userType"),
            Field::RedirectUri => ("redirect_uri", "redirectUri"),
        };
        match self {
            Self::V2 => snake,
            Self::V3 => camel,
        }
    }

    /// Where the installed locations start.
    pub(crate) fn first_page(self) -> Cursor {
        match self {
            Self::V2 => Cursor::Skip(0),
            Self::V3 => Cursor::Token(None),
        }
    }
}

/// Which installed-locations page to ask for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Cursor {
    /// v2: entries to skip.
    Skip(usize),
    /// v3: the page token (none for the first page).
    Token(Option<String>),
}

/// The installed-locations query for the page at `cursor`: v2's `skip`/`limit`, v3's
/// `pageSize`/`pageToken`.
pub(crate) fn installed_query<'a>(
    company_id: &'a str,
    app_id: &'a str,
    cursor: &'a Cursor,
) -> Vec<(&'static str, Cow<'a, str>)> {
    let mut query = vec![
        ("companyId", Cow::Borrowed(company_id)),
        ("appId", Cow::Borrowed(app_id)),
        ("isInstalled", Cow::Borrowed("true")),
    ];
    match cursor {
        Cursor::Skip(skip) => {
            query.push(("skip", Cow::Owned(skip.to_string())));
            query.push(("limit", Cow::Owned(INSTALLED_PAGE.to_string())));
        }
        Cursor::Token(token) => {
            query.push(("pageSize", Cow::Owned(INSTALLED_PAGE.to_string())));
            if let Some(token) = token {
                query.push(("pageToken", Cow::Borrowed(token.as_str())));
            }
        }
    }
    query
}

/// What one installed-locations answer said about paging.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct PageInfo {
    /// Entries on the page, decodable or not.
    pub fetched: usize,
    /// v2's `count`: every matching location.
    pub count: Option<f64>,
    /// v3's `pagination.hasNextPage`.
    pub has_next_page: Option<bool>,
    /// v3's `pagination.nextPageToken`.
    pub next_page_token: Option<String>,
}

/// Why paging stopped early.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct RepeatedToken;

/// The page after `current`, or `None` when the listing is complete. `followed` holds the
/// v3 page tokens already followed; a repeated one is refused rather than looped on.
pub(crate) fn next_page(
    current: &Cursor,
    page: &PageInfo,
    followed: &mut HashSet<String>,
) -> Result<Option<Cursor>, RepeatedToken> {
    if page.fetched == 0 {
        return Ok(None);
    }
    match current {
        Cursor::Skip(skip) => {
            let seen = skip + page.fetched;
            // HighLevel may serve fewer than asked per page: the count, when given, decides.
            let done = match page.count {
                Some(total) => seen >= total as usize,
                None => page.fetched < INSTALLED_PAGE,
            };
            Ok((!done).then_some(Cursor::Skip(seen)))
        }
        Cursor::Token(_) => {
            let token = page.next_page_token.as_deref().map(str::trim);
            match (page.has_next_page, token) {
                (Some(false), _) | (_, None | Some("")) => Ok(None),
                (_, Some(token)) => {
                    if followed.insert(token.to_owned()) {
                        Ok(Some(Cursor::Token(Some(token.to_owned()))))
                    } else {
                        Err(RepeatedToken)
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v3(fetched: usize, has_next: Option<bool>, token: Option<&str>) -> PageInfo {
        PageInfo {
            fetched,
            has_next_page: has_next,
            next_page_token: token.map(str::to_owned),
            ..PageInfo::default()
        }
    }

    #[test]
    fn v2_is_what_the_runtime_always_sent() {
        let d = OAuthEndpoints::default();
        assert_eq!(d, OAuthEndpoints::V2);
        assert_eq!(d.path(Call::LocationToken), "/oauth/locationToken");
        assert_eq!(
            d.path(Call::InstalledLocations),
            "/oauth/installedLocations"
        );
        assert_eq!(d.version(Call::Token), None);
        assert_eq!(d.version(Call::LocationToken), Some("2021-07-28"));
        assert_eq!(d.field(Field::RefreshToken), "refresh_token");
        let q = installed_query("co", "app", &Cursor::Skip(200));
        let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_ref())).collect();
        assert_eq!(
            q,
            [
                ("companyId", "co"),
                ("appId", "app"),
                ("isInstalled", "true"),
                ("skip", "200"),
                ("limit", "100")
            ]
        );
    }

    #[test]
    fn v3_follows_the_python_sdk() {
        let d = OAuthEndpoints::V3;
        assert_eq!(d.path(Call::Token), "/oauth/token");
        assert_eq!(d.path(Call::LocationToken), "/oauth/location-token");
        assert_eq!(
            d.path(Call::InstalledLocations),
            "/oauth/installed-locations"
        );
        assert_eq!(d.version(Call::Token), Some("v3"));
        assert_eq!(d.version(Call::InstalledLocations), Some("v3"));
        for (field, name) in [
            (Field::ClientId, "clientId"),
            (Field::ClientSecret, "clientSecret"),
            (Field::GrantType, "grantType"),
            (Field::Code, "code"),
            (Field::RefreshToken, "refreshToken"),
            (Field::UserType, "userType"),
            (Field::RedirectUri, "redirectUri"),
        ] {
            assert_eq!(d.field(field), name);
        }
        let token = Cursor::Token(Some("t2".into()));
        let q = installed_query("co", "app", &token);
        let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_ref())).collect();
        assert_eq!(
            q,
            [
                ("companyId", "co"),
                ("appId", "app"),
                ("isInstalled", "true"),
                ("pageSize", "100"),
                ("pageToken", "t2")
            ]
        );
        assert_eq!(d.first_page(), Cursor::Token(None));
    }

    #[test]
    fn v2_pages_by_count_or_a_short_page() {
        let mut followed = HashSet::new();
        let page = |fetched, count| PageInfo {
            fetched,
            count,
            ..PageInfo::default()
        };
        let at = Cursor::Skip(30);
        assert_eq!(
            next_page(&at, &page(30, Some(75.0)), &mut followed),
            Ok(Some(Cursor::Skip(60)))
        );
        assert_eq!(
            next_page(&at, &page(45, Some(75.0)), &mut followed),
            Ok(None)
        );
        assert_eq!(
            next_page(&at, &page(100, None), &mut followed),
            Ok(Some(Cursor::Skip(130)))
        );
        assert_eq!(next_page(&at, &page(99, None), &mut followed), Ok(None));
        assert_eq!(
            next_page(&at, &page(0, Some(500.0)), &mut followed),
            Ok(None)
        );
    }

    #[test]
    fn v3_pages_by_token_until_none_or_no_next_page_and_never_repeats_one() {
        let mut followed = HashSet::new();
        let first = Cursor::Token(None);
        assert_eq!(
            next_page(&first, &v3(100, Some(true), Some("a")), &mut followed),
            Ok(Some(Cursor::Token(Some("a".into()))))
        );
        // A token without hasNextPage is followed; hasNextPage false or no token ends.
        assert_eq!(
            next_page(&first, &v3(100, None, Some("b")), &mut followed),
            Ok(Some(Cursor::Token(Some("b".into()))))
        );
        assert_eq!(
            next_page(&first, &v3(100, Some(false), Some("c")), &mut followed),
            Ok(None)
        );
        assert_eq!(
            next_page(&first, &v3(100, Some(true), None), &mut followed),
            Ok(None)
        );
        assert_eq!(
            next_page(&first, &v3(100, Some(true), Some(" ")), &mut followed),
            Ok(None)
        );
        assert_eq!(
            next_page(&first, &v3(0, Some(true), Some("d")), &mut followed),
            Ok(None)
        );
        assert_eq!(
            next_page(&first, &v3(100, Some(true), Some("a")), &mut followed),
            Err(RepeatedToken)
        );
    }
}
