//! `multipart/form-data` bodies, encoded in memory (RFC 7578).
//!
//! progenitor cannot send multipart bodies, so the five upload operations take a raw body;
//! [`MultipartForm`] (or a generated typed form) produces it and the `pre` hook reads the
//! boundary back from its first line to set the `Content-Type`.

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
    /// A file sent as `application/octet-stream`.
    pub fn new(file_name: impl Into<String>, data: impl Into<Bytes>) -> Self {
        Self {
            file_name: file_name.into(),
            content_type: "application/octet-stream".into(),
            data: data.into(),
        }
    }

    /// Sets the content type (`image/png`, `text/csv`, …).
    #[must_use]
    pub fn with_content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = content_type.into();
        self
    }
}

#[derive(Debug, Clone)]
enum Part {
    Text { name: String, value: String },
    File { name: String, file: FilePart },
}

/// A `multipart/form-data` body; pass it (or a typed form) to an upload operation's `.body(..)`.
#[derive(Debug, Clone, Default)]
pub struct MultipartForm {
    parts: Vec<Part>,
}

impl MultipartForm {
    /// An empty form.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a text field.
    #[must_use]
    pub fn text(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.parts.push(Part::Text {
            name: name.into(),
            value: value.into(),
        });
        self
    }

    /// Adds a file field.
    #[must_use]
    pub fn file(mut self, name: impl Into<String>, file: FilePart) -> Self {
        self.parts.push(Part::File {
            name: name.into(),
            file,
        });
        self
    }

    /// The encoded body; starts with `--<boundary>\r\n`, with a boundary absent from the data.
    pub fn to_bytes(&self) -> Bytes {
        let boundary = self.fresh_boundary();
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
                            "Content-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\nContent-Type: {}\r\n\r\n",
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

    fn fresh_boundary(&self) -> String {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let random = RandomState::new();
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let boundary = format!(
                "highlevel-{:016x}{:016x}",
                random.hash_one(n),
                random.hash_one(n ^ u64::MAX)
            );
            if !self.parts.iter().any(|p| contains(p, &boundary)) {
                return boundary;
            }
        }
    }
}

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
    name.replace('"', "%22").replace('\r', "%0D").replace('\n', "%0A")
}

fn header_safe(value: &str) -> String {
    value.chars().filter(|c| !c.is_control()).collect()
}

impl From<MultipartForm> for reqwest::Body {
    fn from(form: MultipartForm) -> Self {
        reqwest::Body::from(form.to_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_text_and_file_parts() {
        let form = MultipartForm::new()
            .text("hosted", "false")
            .file("file", FilePart::new("a\"b.png", &b"\x89PNG"[..]).with_content_type("image/png"));
        let body = form.to_bytes();
        let text = String::from_utf8_lossy(&body);
        let boundary = text
            .strip_prefix("--")
            .and_then(|t| t.split("\r\n").next())
            .unwrap_or_default()
            .to_owned();
        assert!(boundary.starts_with("highlevel-"), "{text}");
        assert_eq!(
            text,
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"hosted\"\r\n\r\nfalse\r\n\
                 --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a%22b.png\"\r\nContent-Type: image/png\r\n\r\n\u{FFFD}PNG\r\n\
                 --{boundary}--\r\n"
            )
        );
    }

    #[test]
    fn boundaries_differ_between_forms() {
        let a = MultipartForm::new().text("x", "1").to_bytes();
        let b = MultipartForm::new().text("x", "1").to_bytes();
        assert_ne!(a, b);
    }
}
