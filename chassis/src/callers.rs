//! The callers file: who may call a node, with which token and which scopes.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

/// Shortest token accepted; shorter secrets are guessable.
pub const MIN_TOKEN_LEN: usize = 16;

/// A permission a caller may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum Scope {
    /// Read products.
    #[serde(rename = "catalog:read")]
    CatalogRead,
    /// Create, change and delete products.
    #[serde(rename = "catalog:write")]
    CatalogWrite,
    /// Hold and release stock.
    #[serde(rename = "catalog:reserve")]
    CatalogReserve,
    /// Follow the change feed.
    #[serde(rename = "catalog:feed")]
    CatalogFeed,
    /// Operate the catalog: take backups of its store.
    #[serde(rename = "catalog:admin")]
    CatalogAdmin,
    /// Read orders.
    #[serde(rename = "orders:read")]
    OrdersRead,
    /// Place and cancel orders.
    #[serde(rename = "orders:write")]
    OrdersWrite,
    /// Operate order-node: take backups of its store.
    #[serde(rename = "orders:admin")]
    OrdersAdmin,
    /// Act for an end user the caller has authenticated (`X-End-User`): only the edge
    /// composer holds it.
    #[serde(rename = "orders:on-behalf")]
    OrdersOnBehalf,
    /// Search the product index.
    #[serde(rename = "search:read")]
    SearchRead,
    /// Operate search-node: take backups of its index.
    #[serde(rename = "search:admin")]
    SearchAdmin,
}

impl Scope {
    /// The scope as written in callers files.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::CatalogRead => "catalog:read",
            Scope::CatalogWrite => "catalog:write",
            Scope::CatalogReserve => "catalog:reserve",
            Scope::CatalogFeed => "catalog:feed",
            Scope::CatalogAdmin => "catalog:admin",
            Scope::OrdersRead => "orders:read",
            Scope::OrdersWrite => "orders:write",
            Scope::OrdersAdmin => "orders:admin",
            Scope::OrdersOnBehalf => "orders:on-behalf",
            Scope::SearchRead => "search:read",
            Scope::SearchAdmin => "search:admin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `[[caller]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallerEntry {
    /// Who the caller is, for logs and metrics.
    pub name: String,
    /// The bearer token it presents.
    pub token: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
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
        assert_eq!(
            callers[0].scopes,
            vec![Scope::CatalogRead, Scope::CatalogReserve]
        );
        assert_eq!(
            callers[1].scopes,
            vec![Scope::CatalogAdmin, Scope::OrdersAdmin, Scope::SearchAdmin]
        );
        for scope in &callers[1].scopes {
            assert!(scope.as_str().ends_with(":admin"));
        }
    }

    #[test]
    fn refuses_unsafe_files() {
        let short = "[[caller]]\nname=\"a\"\ntoken=\"short\"\nscopes=[\"catalog:read\"]";
        assert!(matches!(parse(short), Err(ParseError::Rule(_))));
        let shared = "[[caller]]\nname=\"a\"\ntoken=\"0123456789abcdef\"\nscopes=[\"catalog:read\"]\n\
                      [[caller]]\nname=\"b\"\ntoken=\"0123456789abcdef\"\nscopes=[\"catalog:read\"]";
        assert!(matches!(parse(shared), Err(ParseError::Rule(_))));
        let unknown = "[[caller]]\nname=\"a\"\ntoken=\"0123456789abcdef\"\nscopes=[\"root\"]";
        assert!(matches!(parse(unknown), Err(ParseError::Toml(_))));
        assert!(matches!(parse(""), Err(ParseError::Rule(_))));
    }
}
