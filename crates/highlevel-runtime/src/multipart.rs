//! `multipart/form-data` bodies, encoded in memory (RFC 7578).
//!
//! progenitor cannot send multipart bodies, so the upload operations take a raw body;
//! [`MultipartForm`] (or a generated typed form) produces it and the request's preparation reads
//! the boundary back from its first line to set the `Content-Type`. Encoding in memory keeps the
//! body replayable, which the request loop's retries need.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{BufMut, Bytes, BytesMut};

/// A file to upload: its name, content type and bytes.
#[derive(Debug, Clone)]
pub struct FilePart {
    file_name: String,
    content_type: String,
    data: Bytes,
}

impl FilePart {
    /// A file sent as `application/octet-stream`, the safe default when the caller does not
    /// know the media type; HighLevel sniffs most uploads anyway.
    pub fn new(file_name: impl Into<String>, data: impl Into<Bytes>) -> Self {
        Self {
            file_name: file_name.into(),
            content_type: "application/octet-stream".into(),
            data: data.into(),
        }
    }

    /// Sets the content type (`image/png`, `text/csv`, …) for endpoints that validate it.
    ///
    /// Control characters are dropped when encoding, so a hostile value cannot inject
    /// headers into the body.
    #[must_use]
    pub fn with_content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = content_type.into();
        self
    }

    /// The file name sent in `Content-Disposition`, for logging what is being uploaded.
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    /// The declared content type, to check what the server will be told.
    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    /// The file's bytes (cheap to clone).
    pub fn data(&self) -> &Bytes {
        &self.data
    }
}

#[derive(Debug, Clone)]
enum Part {
    Text { name: String, value: String },
    File { name: String, file: FilePart },
}

/// A `multipart/form-data` body; pass it (or a typed form) to an upload operation's `.body(..)`.
///
/// The boundary is random per form, fixed once chosen (so [`MultipartForm::boundary`] and
/// [`MultipartForm::to_bytes`] agree), and re-drawn whenever an added value contains it.
#[derive(Debug, Clone)]
pub struct MultipartForm {
    boundary: String,
    parts: Vec<Part>,
}

impl Default for MultipartForm {
    fn default() -> Self {
        Self::new()
    }
}

impl MultipartForm {
    /// An empty form with a fresh random boundary.
    pub fn new() -> Self {
        Self {
            boundary: random_boundary(),
            parts: Vec::new(),
        }
    }

    /// Adds a text field (numbers and booleans are sent as their text, as browsers do).
    #[must_use]
    pub fn text(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.parts.push(Part::Text {
            name: name.into(),
            value: value.into(),
        });
        self.ensure_boundary_unique();
        self
    }

    /// Adds a file field.
    #[must_use]
    pub fn file(mut self, name: impl Into<String>, file: FilePart) -> Self {
        self.parts.push(Part::File {
            name: name.into(),
            file,
        });
        self.ensure_boundary_unique();
        self
    }

    /// The boundary, which must go into the `Content-Type` header; the `pre` hook does that
    /// for generated clients, this is for callers sending the body by other means.
    pub fn boundary(&self) -> &str {
        &self.boundary
    }

    /// The full `Content-Type` header value for this body.
    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    /// The encoded body; starts with `--<boundary>\r\n`, which the `pre` hook relies on.
    ///
    /// An empty form encodes as the lone close delimiter `--<boundary>--\r\n`.
    pub fn to_bytes(&self) -> Bytes {
        let boundary = &self.boundary;
        let mut out = BytesMut::new();
        for part in &self.parts {
            out.put_slice(format!("--{boundary}\r\n").as_bytes());
            match part {
                Part::Text { name, value } => {
                    out.put_slice(
                        format!(
                            "Content-Disposition: form-data; name=\"{}\"\r\n\r\n",
                            escape(name)
                        )
                        .as_bytes(),
                    );
                    out.put_slice(value.as_bytes());
                }
                Part::File { name, file } => {
                    out.put_slice(
                        format!(
                            "Content-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\n\
                             Content-Type: {}\r\n\r\n",
                            escape(name),
                            escape(&file.file_name),
                            header_safe(&file.content_type),
                        )
                        .as_bytes(),
                    );
                    out.put_slice(&file.data);
                }
            }
            out.put_slice(b"\r\n");
        }
        out.put_slice(format!("--{boundary}--\r\n").as_bytes());
        out.freeze()
    }

    /// Re-draws the boundary until no part's content contains it, so a part can never be
    /// cut short by data that happens to look like a delimiter.
    fn ensure_boundary_unique(&mut self) {
        while self.parts.iter().any(|p| contains(p, &self.boundary)) {
            self.boundary = random_boundary();
        }
    }
}

/// 32 hex digits from std's randomly keyed hasher, so no RNG dependency is needed.
fn random_boundary() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let random = RandomState::new();
    format!(
        "highlevel-rs-{:016x}{:016x}",
        random.hash_one(n),
        random.hash_one(!n)
    )
}

/// Whether the boundary occurs anywhere a delimiter could be mistaken for it. Header
/// values are escaped so they hold no line breaks and cannot start a delimiter line.
fn contains(part: &Part, boundary: &str) -> bool {
    let needle = boundary.as_bytes();
    let haystack: &[u8] = match part {
        Part::Text { value, .. } => value.as_bytes(),
        Part::File { file, .. } => &file.data,
    };
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Field and file names per the HTML form encoding: quotes and line breaks percent-encoded.
fn escape(name: &str) -> String {
    name.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn header_safe(value: &str) -> String {
    value.chars().filter(|c| !c.is_control()).collect()
}

impl From<MultipartForm> for reqwest::Body {
    fn from(form: MultipartForm) -> Self {
        reqwest::Body::from(form.to_bytes())
    }
}

impl From<&MultipartForm> for reqwest::Body {
    fn from(form: &MultipartForm) -> Self {
        reqwest::Body::from(form.to_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_text_and_file_parts() {
        let form = MultipartForm::new().text("hosted", "false").file(
            "file",
            FilePart::new("a\"b\r\nc.png", &b"\x89PNG"[..]).with_content_type("image/png\r\nX: y"),
        );
        let boundary = form.boundary().to_owned();
        assert!(boundary.starts_with("highlevel-rs-"), "{boundary}");
        let body = form.to_bytes();
        let mut expected = Vec::new();
        expected.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"hosted\"\r\n\r\nfalse\r\n\
                 --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; \
                 filename=\"a%22b%0D%0Ac.png\"\r\nContent-Type: image/pngX: y\r\n\r\n"
            )
            .as_bytes(),
        );
        expected.extend_from_slice(b"\x89PNG\r\n");
        expected.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        assert_eq!(body.as_ref(), expected.as_slice());
        // Stable: encoding twice gives the same body and boundary.
        assert_eq!(form.to_bytes(), body);
        assert_eq!(form.boundary(), boundary);
    }

    #[test]
    fn boundaries_differ_between_forms() {
        let a = MultipartForm::new();
        let b = MultipartForm::new();
        assert_ne!(a.boundary(), b.boundary());
    }

    /// Occurrences of the form's delimiter in its encoding.
    fn delimiters(form: &MultipartForm) -> usize {
        let body = form.to_bytes();
        let delimiter = format!("--{}", form.boundary());
        body.windows(delimiter.len())
            .filter(|w| *w == delimiter.as_bytes())
            .count()
    }

    #[test]
    fn boundary_is_redrawn_when_a_text_value_contains_it() {
        let form = MultipartForm::new();
        let first = form.boundary().to_owned();
        let form = form.text("a", format!("xx\r\n--{first}yy"));
        assert_ne!(form.boundary(), first);
        // One part delimiter and the close delimiter, nothing from the data.
        assert_eq!(delimiters(&form), 2);
    }

    #[test]
    fn boundary_is_redrawn_when_file_data_contains_it() {
        let form = MultipartForm::new().text("a", "plain");
        let first = form.boundary().to_owned();
        let form = form.file("f", FilePart::new("f", format!("--{first}--").into_bytes()));
        assert_ne!(form.boundary(), first);
        assert_eq!(delimiters(&form), 3);
    }

    #[test]
    fn empty_form_is_the_close_delimiter() {
        let form = MultipartForm::new();
        assert_eq!(
            form.to_bytes(),
            Bytes::from(format!("--{}--\r\n", form.boundary()))
        );
    }
}
