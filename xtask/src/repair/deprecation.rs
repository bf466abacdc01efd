//! The note for an operation the spec marks `deprecated: true`: the spec's own sentence about
//! the deprecation (often naming what to use instead), so the compiler warning tells the user
//! what HighLevel said rather than only that something is deprecated.

use serde_json::Value;

/// The note used when neither the description nor the summary says anything about the
/// deprecation (many deprecated operations keep their ordinary description).
pub const FALLBACK_NOTE: &str = "deprecated in HighLevel's API spec";

/// Words that mark a sentence as being about the deprecation, not about what the call does.
const SIGNALS: [&str; 5] = [
    "deprecat",
    "no longer",
    "not supported",
    "will be removed",
    "instead",
];

/// Notes longer than this are cut at a word: the compiler prints the note on every use.
const MAX_NOTE_CHARS: usize = 200;

/// `None` unless the operation is deprecated; else the first sentence of its description (or,
/// failing that, its summary) that speaks about the deprecation, joined with the next sentence
/// when only that one says what to use instead; else [`FALLBACK_NOTE`].
pub fn note(op: &Value) -> Option<String> {
    if op.get("deprecated") != Some(&Value::Bool(true)) {
        return None;
    }
    let from_spec = ["description", "summary"]
        .into_iter()
        .filter_map(|field| op.get(field).and_then(Value::as_str))
        .find_map(|text| {
            let sentences: Vec<String> = paragraphs(&plain_text(text))
                .iter()
                .flat_map(|paragraph| sentences(paragraph))
                .collect();
            deprecation_sentences(&sentences)
        });
    Some(from_spec.map_or_else(|| FALLBACK_NOTE.to_owned(), |note| shortened(&note)))
}

fn speaks_of_deprecation(sentence: &str) -> bool {
    let lower = sentence.to_lowercase();
    SIGNALS.iter().any(|signal| lower.contains(signal))
}

fn names_a_replacement(sentence: &str) -> bool {
    sentence.to_lowercase().contains("instead")
}

fn deprecation_sentences(sentences: &[String]) -> Option<String> {
    let at = sentences.iter().position(|s| speaks_of_deprecation(s))?;
    // A `Note:` label is the spec's layout, not part of what it says.
    let first = sentences[at]
        .strip_prefix("Note:")
        .map_or(sentences[at].as_str(), str::trim_start);
    match sentences.get(at + 1) {
        Some(next) if !names_a_replacement(first) && names_a_replacement(next) => {
            Some(format!("{first} {next}"))
        }
        _ => Some(first.to_owned()),
    }
}

/// The text a reader sees: HTML tags dropped, Markdown links reduced to their text, emphasis
/// markers removed. Line breaks stay: a blank line ends a sentence that has no full stop.
fn plain_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if in_tag => {}
            _ => out.push(c),
        }
    }
    markdown_links_as_text(&out)
        .replace("**", "")
        .replace("__", "")
}

/// Blocks separated by blank lines, each with its whitespace collapsed.
fn paragraphs(text: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    for line in text.lines() {
        if line.trim().is_empty() {
            out.push(String::new());
        } else if let Some(current) = out.last_mut() {
            current.push(' ');
            current.push_str(line);
        }
    }
    out.into_iter()
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty())
        .collect()
}

/// `[Search Contacts](https://…)` -> `Search Contacts`.
fn markdown_links_as_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let link = after.find("](").and_then(|close| {
            let target = &after[close + 2..];
            target.find(')').map(|end| (close, close + 2 + end + 1))
        });
        match link {
            Some((close, consumed)) if !after[..close].contains('[') => {
                out.push_str(&rest[..open]);
                out.push_str(&after[..close]);
                rest = &after[consumed..];
            }
            _ => {
                out.push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Sentences end at `.`, `!` or `?` followed by a space (or the end). Fragments without a
/// letter (a lone `!` badge from the HTML) are dropped.
fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        current.push(c);
        if matches!(c, '.' | '!' | '?') && chars.peek().is_none_or(|n| n.is_whitespace()) {
            out.push(std::mem::take(&mut current));
        }
    }
    out.push(current);
    out.into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| s.chars().any(char::is_alphabetic))
        .collect()
}

fn shortened(note: &str) -> String {
    if note.chars().count() <= MAX_NOTE_CHARS {
        return note.to_owned();
    }
    let cut: String = note.chars().take(MAX_NOTE_CHARS).collect();
    let at_word = cut.rfind(' ').map_or(cut.as_str(), |space| &cut[..space]);
    format!("{}…", at_word.trim_end_matches([',', ';', ':']))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_operation_not_marked_deprecated_has_no_note() {
        assert_eq!(
            note(&json!({ "description": "Deprecated. Use x instead." })),
            None
        );
        assert_eq!(note(&json!({ "deprecated": false })), None);
    }

    #[test]
    fn the_sentence_about_the_deprecation_is_quoted_with_its_replacement() {
        // Shapes taken from the pinned specs: contacts `get-contacts`, users
        // `get-user-by-location`, agent-studio `getAgents-deprecated`.
        let contacts = json!({ "deprecated": true, "summary": "Get Contacts",
            "description": "Get Contacts\n\n **Note:** This API endpoint is deprecated. Please use the [Search Contacts](https://marketplace.gohighlevel.com/docs/ghl/contacts/search-contacts-advanced) endpoint instead." });
        assert_eq!(
            note(&contacts).as_deref(),
            Some(
                "This API endpoint is deprecated. Please use the Search Contacts endpoint instead."
            )
        );
        let users = json!({ "deprecated": true,
            "description": "Deprecated. Use `GET /users/search` instead. Pass `locationId` as a query parameter." });
        assert_eq!(
            note(&users).as_deref(),
            Some("Deprecated. Use `GET /users/search` instead.")
        );
        let agents = json!({ "deprecated": true, "summary": "List Agents (Deprecated)",
            "description": "**Deprecated endpoint - use GET /agent instead.**\n\nLists all active agents." });
        assert_eq!(
            note(&agents).as_deref(),
            Some("Deprecated endpoint - use GET /agent instead.")
        );
    }

    #[test]
    fn html_is_read_as_text() {
        // social-media-posting's Twitter operations: a red `!` badge, then the reason.
        let twitter = json!({ "deprecated": true, "description": "<div><div>\n  <span style= \"color: black;\">\n    !\n  </span>\n  <span><strong>As of December 4, 2024, X (formerly Twitter) is no longer supported. We apologise for any inconvenience.</strong></span>\n</div></div>" });
        assert_eq!(
            note(&twitter).as_deref(),
            Some("As of December 4, 2024, X (formerly Twitter) is no longer supported.")
        );
    }

    #[test]
    fn a_description_silent_on_the_deprecation_gives_the_fallback() {
        let saas = json!({ "deprecated": true, "summary": "Get SaaS Plan",
            "description": "Fetch a specific SaaS plan by plan ID" });
        assert_eq!(note(&saas).as_deref(), Some(FALLBACK_NOTE));
        assert_eq!(
            note(&json!({ "deprecated": true })).as_deref(),
            Some(FALLBACK_NOTE)
        );
    }

    #[test]
    fn a_long_sentence_is_cut_at_a_word() {
        let long = format!("Deprecated: {}.", "word ".repeat(60));
        let cut = note(&json!({ "deprecated": true, "description": long })).expect("a note");
        assert!(cut.chars().count() <= MAX_NOTE_CHARS + 1, "{cut}");
        assert!(cut.ends_with("word…"), "{cut}");
    }
}
