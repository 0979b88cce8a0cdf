//! The callers file: who may call a node, with which token and which scopes.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

/// Shortest token accepted; shorter secrets are guessable.
pub const MIN_TOKEN_LEN: usize = 16;

/// A permission a caller may hold, named `namespace:name` (`catalog:read`). Each node
/// declares the scopes it checks; chassis knows none of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Scope(&'static str);

impl Scope {
    /// The scope called `name` (`namespace:name`).
    pub const fn new(name: &'static str) -> Self {
        Self(name)
    }

    /// The scope as written in callers files.
    pub fn as_str(self) -> &'static str {
        self.0
    }

    /// The part before the colon: the node that checks it.
    pub fn namespace(self) -> &'static str {
        namespace(self.0)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

fn namespace(scope: &str) -> &str {
    scope.split_once(':').map_or(scope, |(ns, _)| ns)
}

/// Whether `scope` has the `namespace:name` shape (lowercase letters, digits, `-`, `_`).
fn well_formed(scope: &str) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    };
    scope
        .split_once(':')
        .is_some_and(|(ns, name)| part(ns) && part(name))
}

/// Checks the scopes of `entries` against the scopes a node `declared`: a scope in one of
/// the node's namespaces that the node does not declare is a mistake (a typo would otherwise
/// silently grant nothing); scopes of other namespaces belong to other nodes sharing the file.
pub fn check_declared(entries: &[CallerEntry], declared: &[Scope]) -> Result<(), String> {
    for entry in entries {
        for scope in &entry.scopes {
            let ours = declared.iter().any(|d| d.namespace() == namespace(scope));
            if ours && !declared.iter().any(|d| d.as_str() == scope) {
                let known: Vec<&str> = declared.iter().map(|d| d.as_str()).collect();
                return Err(format!(
                    "caller {:?} has the unknown scope {scope:?}; this node knows {}",
                    entry.name,
                    known.join(", ")
                ));
            }
        }
    }
    Ok(())
}

/// One `[[caller]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallerEntry {
    /// Who the caller is, for logs and metrics.
    pub name: String,
    /// The bearer token it presents.
    pub token: String,
    /// What it may do, as written in the file.
    pub scopes: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CallersFile {
    #[serde(default, rename = "caller")]
    callers: Vec<CallerEntry>,
}

/// A callers file that cannot be used.
#[derive(Debug, Error)]
pub enum CallersError {
    /// The file could not be read.
    #[error("cannot read callers file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML of the expected shape.
    #[error("callers file {path} is not valid: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        source: toml::de::Error,
    },
    /// The file parses but breaks a rule.
    #[error("callers file {path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Reads and checks a callers file.
pub fn load(path: &Path) -> Result<Vec<CallerEntry>, CallersError> {
    let text = std::fs::read_to_string(path).map_err(|source| CallersError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&text).map_err(|e| match e {
        ParseError::Toml(source) => CallersError::Parse {
            path: path.to_owned(),
            source,
        },
        ParseError::Rule(message) => CallersError::Invalid {
            path: path.to_owned(),
            message,
        },
    })
}

enum ParseError {
    Toml(toml::de::Error),
    Rule(String),
}

fn parse(text: &str) -> Result<Vec<CallerEntry>, ParseError> {
    let file: CallersFile = toml::from_str(text).map_err(ParseError::Toml)?;
    if file.callers.is_empty() {
        return Err(ParseError::Rule("lists no [[caller]]".into()));
    }
    let mut names = HashSet::new();
    let mut tokens = HashSet::new();
    for caller in &file.callers {
        if caller.name.trim().is_empty() {
            return Err(ParseError::Rule("a caller has an empty name".into()));
        }
        if !names.insert(caller.name.as_str()) {
            return Err(ParseError::Rule(format!(
                "caller {:?} is listed twice",
                caller.name
            )));
        }
        if caller.token.len() < MIN_TOKEN_LEN {
            return Err(ParseError::Rule(format!(
                "caller {:?} has a token shorter than {MIN_TOKEN_LEN} characters",
                caller.name
            )));
        }
        if !tokens.insert(caller.token.as_str()) {
            return Err(ParseError::Rule(format!(
                "caller {:?} shares its token with another caller; give each its own",
                caller.name
            )));
        }
        if caller.scopes.is_empty() {
            return Err(ParseError::Rule(format!(
                "caller {:?} has no scopes",
                caller.name
            )));
        }
        if let Some(bad) = caller.scopes.iter().find(|s| !well_formed(s)) {
            return Err(ParseError::Rule(format!(
                "caller {:?} has the scope {bad:?}, which is not of the form namespace:name",
                caller.name
            )));
        }
    }
    Ok(file.callers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> Vec<CallerEntry> {
        match parse(text) {
            Ok(c) => c,
            Err(ParseError::Toml(e)) => panic!("toml: {e}"),
            Err(ParseError::Rule(m)) => panic!("rule: {m}"),
        }
    }

    #[test]
    fn reads_the_documented_shape() {
        let callers = parse_ok(
            r#"
            [[caller]]
            name = "order-node"
            token = "a-long-random-secret"
            scopes = ["catalog:read", "catalog:reserve"]

            [[caller]]
            name = "operator"
            token = "another-long-random-secret"
            scopes = ["catalog:admin", "orders:admin", "search:admin"]
            "#,
        );
        assert_eq!(callers.len(), 2);
        assert_eq!(callers[0].scopes, ["catalog:read", "catalog:reserve"]);
        assert_eq!(
            callers[1].scopes,
            ["catalog:admin", "orders:admin", "search:admin"]
        );
    }

    #[test]
    fn a_node_refuses_unknown_scopes_of_its_own_namespace_only() {
        const READ: Scope = Scope::new("catalog:read");
        let callers = parse_ok(
            "[[caller]]\nname=\"a\"\ntoken=\"0123456789abcdef\"\n\
             scopes=[\"catalog:read\", \"orders:admin\"]",
        );
        assert_eq!(check_declared(&callers, &[READ]), Ok(()));
        let typo = parse_ok(
            "[[caller]]\nname=\"a\"\ntoken=\"0123456789abcdef\"\nscopes=[\"catalog:raed\"]",
        );
        let refused = check_declared(&typo, &[READ]).unwrap_err();
        assert!(refused.contains("catalog:raed"), "{refused}");
    }

    #[test]
    fn refuses_unsafe_files() {
        let short = "[[caller]]\nname=\"a\"\ntoken=\"short\"\nscopes=[\"catalog:read\"]";
        assert!(matches!(parse(short), Err(ParseError::Rule(_))));
        let shared = "[[caller]]\nname=\"a\"\ntoken=\"0123456789abcdef\"\nscopes=[\"catalog:read\"]\n\
                      [[caller]]\nname=\"b\"\ntoken=\"0123456789abcdef\"\nscopes=[\"catalog:read\"]";
        assert!(matches!(parse(shared), Err(ParseError::Rule(_))));
        let unknown = "[[caller]]\nname=\"a\"\ntoken=\"0123456789abcdef\"\nscopes=[\"root\"]";
        assert!(matches!(parse(unknown), Err(ParseError::Rule(_))));
        assert!(matches!(parse(""), Err(ParseError::Rule(_))));
    }
}
