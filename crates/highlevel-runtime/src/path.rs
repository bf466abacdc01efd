//! What a generated `send()` builds its URL with: the client's base URL, the path's literal
//! pieces, and its parameters, each percent-encoded as one path segment.
//!
//! progenitor writes `format!("{}/contacts/{}", client.baseurl, encode_path(&id.to_string()))`:
//! the formatting machinery over every piece, and two `String`s per parameter (its text, then
//! its encoding) before the URL's own. Here the URL is one `String`, sized once, and each
//! parameter is encoded as it is written into it.

use std::fmt::{self, Display, Write as _};

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

/// What a path parameter's text has encoded: the set of progenitor-client 0.15's
/// `encode_path`, so a URL is byte for byte what progenitor's code built.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'/')
    .add(b'%');

/// `base`, then `head`, then each parameter's text encoded as a path segment followed by the
/// literal piece after it: `url("https://h", "/contacts/", &[(&id, "/notes")])` is
/// `https://h/contacts/<id>/notes`.
pub fn url(base: &str, head: &'static str, params: &[(&dyn Display, &'static str)]) -> String {
    // A parameter is usually an id of 20 to 30 characters.
    let size = base.len()
        + head.len()
        + params
            .iter()
            .map(|(_, tail)| 32 + tail.len())
            .sum::<usize>();
    let mut url = String::with_capacity(size);
    url.push_str(base);
    url.push_str(head);
    for (param, tail) in params {
        // Writing into a `String` cannot fail; a `Display` impl that reports an error leaves
        // what it wrote, as `to_string` would have panicked instead.
        let _ = write!(Segment(&mut url), "{param}");
        url.push_str(tail);
    }
    url
}

/// Writes what it is given into the URL, percent-encoded.
struct Segment<'a>(&'a mut String);

impl fmt::Write for Segment<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        for piece in utf8_percent_encode(text, SEGMENT) {
            self.0.push_str(piece);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every ASCII character, the characters the set names, and non-ASCII text.
    fn awkward_texts() -> Vec<String> {
        let mut texts: Vec<String> = (0u8..128).map(|b| char::from(b).to_string()).collect();
        texts.extend(
            [
                "",
                "abcXYZ019-._~",
                "a b/c?d#e%f\"g<h>i`j{k}l",
                "%2F already encoded",
                "é, 中文, 🙂",
                "../../admin",
                "x\u{7f}y\u{0}z",
            ]
            .map(String::from),
        );
        texts
    }

    #[test]
    fn a_url_is_what_progenitors_format_built() {
        let base = "https://services.leadconnectorhq.com";
        for text in awkward_texts() {
            let expected = format!(
                "{base}/contacts/{}/notes/{}",
                progenitor_client::encode_path(&text),
                progenitor_client::encode_path(&text.to_string())
            );
            assert_eq!(
                url(base, "/contacts/", &[(&text, "/notes/"), (&text, "")]),
                expected,
                "{text:?}"
            );
        }
    }

    #[test]
    fn parameters_of_any_display_type_are_written_as_their_text() {
        assert_eq!(
            url(
                "http://h",
                "/a/",
                &[(&42_i64, "/b/"), (&-1.5_f64, "/c"), (&true, "")]
            ),
            "http://h/a/42/b/-1.5/ctrue"
        );
        assert_eq!(
            url("http://h", "/locations/search", &[]),
            "http://h/locations/search"
        );
        assert_eq!(url("", "", &[]), "");
    }
}
