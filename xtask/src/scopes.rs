//! The OAuth scope table (`docs/oauth/Scopes.md` of the pinned specs) as a Rust enum:
//! `crates/highlevel-runtime/src/scope.rs`.
//!
//! The table's rows are `| scope | endpoint | webhook event | access type |`; a row whose scope
//! cell is empty (`&nbsp;`) continues the scope above it. A scope listed twice has its rows
//! merged; two scopes whose Rust names collide stop the generator.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use heck::ToUpperCamelCase;

use crate::Result;
use crate::config::Project;
use crate::specs;

/// Where the table is in the pinned spec repository.
pub const SCOPES_DOC: &str = "docs/oauth/Scopes.md";
/// Where the enum is written.
pub const SCOPE_FILE: &str = "crates/highlevel-runtime/src/scope.rs";
/// Endpoints named in a variant's rustdoc before "and N more".
const DOC_ENDPOINTS: usize = 4;

#[derive(Debug, Default, PartialEq)]
pub struct ScopeRow {
    pub endpoints: Vec<String>,
    pub events: Vec<String>,
    pub access: Vec<String>,
}

/// The generated file, keyed by its path.
pub fn scope_file(project: &Project) -> Result<BTreeMap<String, String>> {
    let bytes = specs::read_verified(project, SCOPES_DOC)?;
    let text = String::from_utf8(bytes).map_err(|e| format!("{SCOPES_DOC}: {e}"))?;
    let scopes = parse(&text)?;
    Ok(BTreeMap::from([(SCOPE_FILE.to_owned(), render(&scopes)?)]))
}

fn cell(raw: &str) -> Option<String> {
    let text = raw.replace("&nbsp;", " ");
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// The scopes in table order (a `Vec` of pairs, to keep the docs' grouping).
pub fn parse(markdown: &str) -> Result<Vec<(String, ScopeRow)>> {
    let mut scopes: Vec<(String, ScopeRow)> = Vec::new();
    let mut current: Option<usize> = None;
    let mut in_table = false;
    for line in markdown.lines() {
        let line = line.trim();
        if !line.starts_with('|') {
            in_table = false;
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').collect();
        if !in_table {
            // The header row, then the `---` separator.
            in_table = cells.first().is_some_and(|c| c.trim() == "Scope");
            continue;
        }
        if cells
            .iter()
            .all(|c| c.trim().chars().all(|ch| ch == '-' || ch == ':'))
        {
            continue;
        }
        let get = |i: usize| cells.get(i).and_then(|c| cell(c));
        let index = match get(0) {
            Some(name) => {
                if !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "./-_".contains(c))
                {
                    return Err(format!("{SCOPES_DOC}: `{name}` does not look like a scope").into());
                }
                match scopes.iter().position(|(n, _)| *n == name) {
                    Some(i) => i,
                    None => {
                        scopes.push((name, ScopeRow::default()));
                        scopes.len() - 1
                    }
                }
            }
            None => current
                .ok_or_else(|| format!("{SCOPES_DOC}: a continuation row before any scope"))?,
        };
        current = Some(index);
        let row = &mut scopes[index].1;
        if let Some(endpoint) = get(1) {
            row.endpoints.push(endpoint);
        }
        if let Some(event) = get(2) {
            row.events.push(event);
        }
        if let Some(access) = get(3) {
            for kind in access.split(',').map(str::trim).filter(|k| !k.is_empty()) {
                if !row.access.iter().any(|a| a == kind) {
                    row.access.push(kind.to_owned());
                }
            }
        }
    }
    if scopes.is_empty() {
        return Err(format!("{SCOPES_DOC}: no scope table found").into());
    }
    Ok(scopes)
}

/// `calendars/groups.readonly` → `CalendarsGroupsReadonly`.
pub fn variant_name(scope: &str) -> String {
    scope.replace(['/', '.', '-'], "_").to_upper_camel_case()
}

fn access_variant(access: &[String]) -> Result<&'static str> {
    let sub = access.iter().any(|a| a == "Sub-Account");
    let agency = access.iter().any(|a| a == "Agency");
    if let Some(other) = access
        .iter()
        .find(|a| *a != "Sub-Account" && *a != "Agency")
    {
        return Err(format!("{SCOPES_DOC}: unknown access type `{other}`").into());
    }
    Ok(match (sub, agency) {
        (true, true) => "SubAccountAndAgency",
        (false, true) => "Agency",
        _ => "SubAccount",
    })
}

fn doc_line(scope: &str, row: &ScopeRow) -> String {
    let mut doc = format!("`{scope}`");
    let shown: Vec<String> = row
        .endpoints
        .iter()
        .take(DOC_ENDPOINTS)
        .map(|e| format!("`{e}`"))
        .collect();
    if !shown.is_empty() {
        let _ = write!(doc, ": {}", shown.join(", "));
        if row.endpoints.len() > DOC_ENDPOINTS {
            let _ = write!(doc, " and {} more", row.endpoints.len() - DOC_ENDPOINTS);
        }
    }
    if !row.events.is_empty() {
        let _ = write!(doc, "; webhook events {}", row.events.join(", "));
    }
    if !row.access.is_empty() {
        let _ = write!(doc, " ({})", row.access.join(", "));
    }
    doc
}

pub fn render(scopes: &[(String, ScopeRow)]) -> Result<String> {
    let mut names: BTreeMap<String, &str> = BTreeMap::new();
    for (scope, _) in scopes {
        let name = variant_name(scope);
        if name == "Other" {
            return Err(format!("{SCOPES_DOC}: `{scope}` would be named Other").into());
        }
        // `Self` is the one keyword an upper-camel name can be, and it has no raw form.
        if name == "Self" || !name.starts_with(|c: char| c.is_ascii_uppercase()) {
            return Err(
                format!("{SCOPES_DOC}: `{scope}` gives no usable Rust name (`{name}`)").into(),
            );
        }
        if let Some(previous) = names.insert(name.clone(), scope) {
            return Err(format!(
                "{SCOPES_DOC}: `{previous}` and `{scope}` would both be Scope::{name}"
            )
            .into());
        }
    }
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(
        w,
        "// @generated by `cargo xtask codegen` from {SCOPES_DOC} of the pinned specs; do not edit by hand.\n"
    );
    let _ = writeln!(
        w,
        "//! OAuth scopes, as listed in HighLevel's scope table ({} scopes).\n",
        scopes.len()
    );
    w.push_str(
        "use std::fmt;\n\n\
         /// An OAuth scope an app asks for on the authorization page.\n\
         ///\n\
         /// Each variant's doc names the endpoints it opens. A scope newer than the pinned table\n\
         /// is still expressible as [`Scope::Other`] (`Scope::from(\"new.scope\")`).\n\
         #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]\n\
         #[non_exhaustive]\n\
         pub enum Scope {\n",
    );
    for (scope, row) in scopes {
        let _ = writeln!(w, "    /// {}", doc_line(scope, row));
        let _ = writeln!(w, "    {},", variant_name(scope));
    }
    w.push_str(
        "    /// A scope this SDK's table does not list (newer than the pinned docs); sent as written.\n    Other(String),\n}\n\n",
    );
    w.push_str(
        "/// Which tokens a scope is for, per the scope table.\n\
         #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]\n\
         #[non_exhaustive]\n\
         pub enum ScopeAccess {\n    \
         /// Sub-account (location) tokens.\n    SubAccount,\n    \
         /// Agency (company) tokens.\n    Agency,\n    \
         /// Both.\n    SubAccountAndAgency,\n}\n\n",
    );
    w.push_str("impl Scope {\n    /// Every scope of the table, in its order.\n    pub const ALL: &'static [Scope] = &[\n");
    for (scope, _) in scopes {
        let _ = writeln!(w, "        Scope::{},", variant_name(scope));
    }
    w.push_str("    ];\n\n    /// The scope as HighLevel writes it (`contacts.readonly`).\n    pub fn as_str(&self) -> &str {\n        match self {\n");
    for (scope, _) in scopes {
        let _ = writeln!(
            w,
            "            Self::{} => \"{scope}\",",
            variant_name(scope)
        );
    }
    w.push_str("            Self::Other(scope) => scope,\n        }\n    }\n\n    /// Which tokens the scope is for; `None` for [`Scope::Other`].\n    pub fn access(&self) -> Option<ScopeAccess> {\n        match self {\n");
    for (scope, row) in scopes {
        let _ = writeln!(
            w,
            "            Self::{} => Some(ScopeAccess::{}),",
            variant_name(scope),
            access_variant(&row.access)?
        );
    }
    w.push_str(
        "            Self::Other(_) => None,\n        }\n    }\n\n    \
         /// The scopes of a token answer's `scope` (space- or comma-separated).\n    \
         pub fn parse_list(text: &str) -> Vec<Scope> {\n        \
         text.split(|c: char| c.is_whitespace() || c == ',')\n            \
         .filter(|item| !item.is_empty())\n            \
         .map(Scope::from)\n            \
         .collect()\n    }\n\n    \
         /// Space-separated, as the authorization URL takes them.\n    \
         pub fn join(scopes: &[Scope]) -> String {\n        \
         scopes.iter().map(Scope::as_str).collect::<Vec<_>>().join(\" \")\n    }\n}\n\n",
    );
    w.push_str(
        "impl From<&str> for Scope {\n    fn from(text: &str) -> Self {\n        match text {\n",
    );
    for (scope, _) in scopes {
        let _ = writeln!(
            w,
            "            \"{scope}\" => Self::{},",
            variant_name(scope)
        );
    }
    w.push_str(
        "            other => Self::Other(other.to_owned()),\n        }\n    }\n}\n\n\
         impl std::str::FromStr for Scope {\n    type Err = std::convert::Infallible;\n\n    \
         fn from_str(text: &str) -> Result<Self, Self::Err> {\n        Ok(Self::from(text))\n    }\n}\n\n\
         impl fmt::Display for Scope {\n    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {\n        \
         f.write_str(self.as_str())\n    }\n}\n\n\
         impl serde::Serialize for Scope {\n    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {\n        \
         serializer.serialize_str(self.as_str())\n    }\n}\n\n\
         impl<'de> serde::Deserialize<'de> for Scope {\n    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {\n        \
         let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;\n        Ok(Self::from(text.as_ref()))\n    }\n}\n",
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "intro\n\n| Scope | API Endpoints | Webhook Events | Access Type |\n\
        | --- | --- | --- | --- |\n\
        | contacts.readonly | GET /contacts/:id | ContactCreate | Sub-Account |\n\
        | &nbsp; | GET /contacts/ | ContactDelete | Sub-Account |\n\
        | &nbsp; | | OutboundMessage |\n\
        | users.write | POST /users/ | &nbsp; | Sub-Account, Agency |\n\
        | calendars/groups.readonly | GET /calendars/groups | &nbsp; | Agency |\n\
        | contacts.readonly | GET /contacts/x | &nbsp; | Sub-Account |\n\
        \ntrailing text | not a row\n";

    #[test]
    fn rows_continue_and_repeat_scopes_merge() {
        let scopes = parse(TABLE).expect("parses");
        let names: Vec<&str> = scopes.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "contacts.readonly",
                "users.write",
                "calendars/groups.readonly"
            ]
        );
        let contacts = &scopes[0].1;
        assert_eq!(
            contacts.endpoints,
            ["GET /contacts/:id", "GET /contacts/", "GET /contacts/x"]
        );
        assert_eq!(
            contacts.events,
            ["ContactCreate", "ContactDelete", "OutboundMessage"]
        );
        assert_eq!(scopes[1].1.access, ["Sub-Account", "Agency"]);
    }

    #[test]
    fn names_and_access() {
        assert_eq!(
            variant_name("calendars/groups.readonly"),
            "CalendarsGroupsReadonly"
        );
        assert_eq!(
            variant_name("blogs/post-update.write"),
            "BlogsPostUpdateWrite"
        );
        assert_eq!(access_variant(&["Agency".into()]).ok(), Some("Agency"));
        assert!(access_variant(&["Partner".into()]).is_err());
    }

    #[test]
    fn colliding_names_stop_the_generator() {
        let scopes = vec![
            ("a.b".to_owned(), ScopeRow::default()),
            ("a/b".to_owned(), ScopeRow::default()),
        ];
        let err = render(&scopes)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("would both be Scope::AB"), "{err}");
    }

    #[test]
    fn unusable_names_stop_the_generator() {
        for scope in ["self", "2fa.write", "other"] {
            let err = render(&[(scope.to_owned(), ScopeRow::default())])
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(scope), "{scope}: {err}");
        }
    }

    /// The `Self::X => "x"` / `"x" => Self::X` arms and the `ALL` items of the rendered text.
    fn arms(
        text: &str,
    ) -> (
        Vec<String>,
        BTreeMap<String, String>,
        BTreeMap<String, String>,
    ) {
        let mut all = Vec::new();
        let mut as_str = BTreeMap::new();
        let mut from = BTreeMap::new();
        for line in text.lines().map(str::trim) {
            if let Some(name) = line
                .strip_prefix("Scope::")
                .and_then(|l| l.strip_suffix(','))
            {
                all.push(name.to_owned());
            } else if let Some((name, scope)) = line
                .strip_prefix("Self::")
                .and_then(|l| l.split_once(" => \""))
            {
                as_str.insert(name.to_owned(), scope.trim_end_matches("\",").to_owned());
            } else if let Some((scope, name)) = line
                .strip_prefix('"')
                .and_then(|l| l.split_once("\" => Self::"))
            {
                from.insert(scope.to_owned(), name.trim_end_matches(',').to_owned());
            }
        }
        (all, as_str, from)
    }

    /// The pinned table itself (from the spec cache, verified against the pin; `cargo xtask
    /// test` fills the cache first): every scope of `ALL` is written by `as_str` and read back
    /// by `From<&str>` as the same variant, and every access type is known.
    #[test]
    fn pinned_table_round_trips() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let project = Project::load(&root).expect("project");
        let bytes = specs::read_verified(&project, SCOPES_DOC)
            .expect("Scopes.md in the spec cache: run `cargo xtask specs fetch`");
        let markdown = String::from_utf8(bytes).expect("text");
        let scopes = parse(&markdown).expect("parses");
        assert!(scopes.len() >= 90, "{} scopes", scopes.len());
        let text = render(&scopes).expect("renders");
        let (all, as_str, from) = arms(&text);
        assert_eq!(all.len(), scopes.len());
        for name in &all {
            let scope = as_str
                .get(name)
                .unwrap_or_else(|| panic!("{name} has no as_str"));
            assert_eq!(from.get(scope), Some(name), "{scope}");
        }
        assert_eq!(as_str.len(), all.len());
        assert_eq!(from.len(), all.len());
    }

    #[test]
    fn rendered_enum_lists_every_scope_both_ways() {
        let scopes = parse(TABLE).expect("parses");
        let text = render(&scopes).expect("renders");
        for (scope, _) in &scopes {
            let name = variant_name(scope);
            assert!(
                text.contains(&format!("Self::{name} => \"{scope}\"")),
                "{scope}"
            );
            assert!(
                text.contains(&format!("\"{scope}\" => Self::{name}")),
                "{scope}"
            );
            assert!(text.contains(&format!("        Scope::{name},")), "{scope}");
        }
        assert!(text.starts_with("// @generated"));
    }
}
