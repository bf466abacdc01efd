// Placeholder until `cargo xtask codegen` writes the generated scope table.
//! OAuth scopes.
use std::fmt;
/// An OAuth scope.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Scope {
    /// `contacts.readonly`
    ContactsReadonly,
    /// Another scope.
    Other(String),
}
/// Who a scope is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ScopeAccess {
    /// Sub-account.
    SubAccount,
}
impl Scope {
    /// The scope as HighLevel writes it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::ContactsReadonly => "contacts.readonly",
            Self::Other(s) => s,
        }
    }
    /// Space-separated.
    pub fn join(scopes: &[Scope]) -> String {
        scopes
            .iter()
            .map(Scope::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    }
}
impl From<&str> for Scope {
    fn from(s: &str) -> Self {
        if s == "contacts.readonly" {
            Self::ContactsReadonly
        } else {
            Self::Other(s.to_owned())
        }
    }
}
impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
