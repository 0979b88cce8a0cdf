//! `--var KEY=VALUE`, served to the component through `wasi:config/store` at the version
//! Spin's variables host serves, so the very same component runs here and on Spin.
//!
//! The interface is generated from the composer's own WIT (`edge-composer/wit/config.wit`)
//! rather than taken from `wasmtime-wasi-config`: that crate serves another version of the
//! package (`0.2.0-draft` / `0.2.0-rc.1`), which a component built against Spin's
//! `0.2.0-draft-2024-09-27` would not link with.

use std::collections::HashMap;
use std::sync::Arc;

use thiserror::Error;

#[allow(missing_docs)] // generated from the WIT below
mod bindings {
    wasmtime::component::bindgen!({
        path: "../edge-composer/wit/config.wit",
        world: "imports",
    });
}

pub use bindings::wasi::config::store::{Error as ConfigError, Host as ConfigHost, add_to_linker};

/// Every variable the composer reads: its upstreams, its own tokens, and how end users'
/// tokens are verified.
pub const KNOWN: [&str; 9] = [
    "catalog_url",
    "catalog_token",
    "orders_url",
    "orders_token",
    "search_url",
    "search_token",
    "jwt_jwks",
    "jwt_issuer",
    "jwt_audience",
];

/// Variables the composer reads when given: the catalog's read replicas
/// (`catalog_read_urls`, comma-separated base URLs).
pub const OPTIONAL: [&str; 1] = ["catalog_read_urls"];

/// A `--var` that cannot be used.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum VarError {
    /// Not `KEY=VALUE`.
    #[error("--var {0:?} is not KEY=VALUE")]
    Shape(String),
    /// A key the composer does not read.
    #[error(
        "--var {0:?}: unknown key (known: {known}, {optional})",
        known = KNOWN.join(", "),
        optional = OPTIONAL.join(", ")
    )]
    Unknown(String),
    /// A required key is missing.
    #[error("--var {0}=… is required")]
    Missing(&'static str),
}

/// The variables given on the command line.
#[derive(Debug, Clone, Default)]
pub struct Variables(Arc<HashMap<String, String>>);

impl Variables {
    /// Parses `KEY=VALUE` pairs; every known key must be given.
    pub fn parse(pairs: &[String]) -> Result<Self, VarError> {
        let mut map = HashMap::new();
        for pair in pairs {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| VarError::Shape(pair.clone()))?;
            if !KNOWN.contains(&key) && !OPTIONAL.contains(&key) {
                return Err(VarError::Unknown(key.to_owned()));
            }
            map.insert(key.to_owned(), value.to_owned());
        }
        if let Some(missing) = KNOWN.iter().find(|k| !map.contains_key(**k)) {
            return Err(VarError::Missing(missing));
        }
        Ok(Self(Arc::new(map)))
    }

    /// A variable's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Every variable, for `get-all`.
    pub fn all(&self) -> Vec<(String, String)> {
        self.0.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// The values of the `*_url` variables and each URL of the `*_urls` lists: the only
    /// hosts the component may call.
    pub fn upstream_urls(&self) -> Vec<&str> {
        let mut urls = Vec::new();
        for (key, value) in self.0.iter() {
            if key.ends_with("_url") {
                urls.push(value.as_str());
            } else if key.ends_with("_urls") {
                urls.extend(value.split(',').map(str::trim).filter(|u| !u.is_empty()));
            }
        }
        urls
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<String> {
        KNOWN.iter().map(|k| format!("{k}=v-{k}")).collect()
    }

    #[test]
    fn parses_every_known_variable() {
        let vars = Variables::parse(&all()).unwrap();
        assert_eq!(vars.get("orders_token"), Some("v-orders_token"));
        assert_eq!(vars.upstream_urls().len(), 3);
        let mut with_replicas = all();
        with_replicas.push("catalog_read_urls=http://r1:7001, http://r2:7001,".into());
        let vars = Variables::parse(&with_replicas).unwrap();
        let urls = vars.upstream_urls();
        assert_eq!(urls.len(), 5);
        assert!(urls.contains(&"http://r1:7001") && urls.contains(&"http://r2:7001"));
    }

    #[test]
    fn refuses_bad_or_missing_variables() {
        assert_eq!(
            Variables::parse(&["x".into()]).unwrap_err(),
            VarError::Shape("x".into())
        );
        let mut extra = all();
        extra.push("colour=red".into());
        assert_eq!(
            Variables::parse(&extra).unwrap_err(),
            VarError::Unknown("colour".into())
        );
        assert_eq!(
            Variables::parse(&all()[1..]).unwrap_err(),
            VarError::Missing("catalog_url")
        );
    }
}
