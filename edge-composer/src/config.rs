//! The composer's configuration, read through one lookup function (in the component,
//! `wasi:config/store`, which Spin serves from its variables and edge-host from `--var`).

use thiserror::Error;

use crate::jwt::{Jwks, JwksError, Verifier};

/// Where the upstreams are and the composer's own service tokens.
pub const UPSTREAM_KEYS: [&str; 6] = [
    "catalog_url",
    "catalog_token",
    "orders_url",
    "orders_token",
    "search_url",
    "search_token",
];

/// Base URLs of catalog nodes to read products from (the catalog's read replicas),
/// comma-separated; optional. Without it the composer reads from `catalog_url`.
pub const CATALOG_READS_KEY: &str = "catalog_read_urls";

/// How end users' tokens are verified: the issuer's key set (a JWKS document), the issuer
/// (`iss`) and the audience (`aud`) tokens must name.
pub const IDENTITY_KEYS: [&str; 3] = ["jwt_jwks", "jwt_issuer", "jwt_audience"];

/// The configuration is unusable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// A key has no value.
    #[error("configuration {0:?} is not set")]
    Missing(String),
    /// The store failed.
    #[error("configuration {key:?} cannot be read: {why}")]
    Store {
        /// The key.
        key: String,
        /// The store's error.
        why: String,
    },
    /// The JWKS is not usable.
    #[error("configuration \"jwt_jwks\": {0}")]
    Jwks(#[from] JwksError),
}

fn required(
    get: &impl Fn(&str) -> Result<Option<String>, String>,
    key: &str,
) -> Result<String, ConfigError> {
    match get(key) {
        Ok(Some(value)) if !value.is_empty() => Ok(value),
        Ok(_) => Err(ConfigError::Missing(key.to_owned())),
        Err(why) => Err(ConfigError::Store {
            key: key.to_owned(),
            why,
        }),
    }
}

/// Where the upstreams are and how the composer authenticates to them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstreams {
    /// catalog-node's base URL.
    pub catalog_url: String,
    /// The composer's token at catalog-node.
    pub catalog_token: String,
    /// Where product reads go, in turn, each failing over to the next: the catalog's read
    /// replicas, or `catalog_url` alone.
    pub catalog_reads: Vec<String>,
    /// order-node's base URL.
    pub orders_url: String,
    /// The composer's token at order-node.
    pub orders_token: String,
    /// search-node's base URL.
    pub search_url: String,
    /// The composer's token at search-node.
    pub search_token: String,
}

impl Upstreams {
    /// Reads the upstreams through `get`.
    pub fn load(get: impl Fn(&str) -> Result<Option<String>, String>) -> Result<Self, ConfigError> {
        let url = |key: &str| required(&get, key).map(|v| v.trim_end_matches('/').to_owned());
        let catalog_url = url("catalog_url")?;
        let reads: Vec<String> = get(CATALOG_READS_KEY)
            .map_err(|why| ConfigError::Store {
                key: CATALOG_READS_KEY.to_owned(),
                why,
            })?
            .unwrap_or_default()
            .split(',')
            .map(|u| u.trim().trim_end_matches('/').to_owned())
            .filter(|u| !u.is_empty())
            .collect();
        Ok(Self {
            catalog_reads: if reads.is_empty() {
                vec![catalog_url.clone()]
            } else {
                reads
            },
            catalog_url,
            catalog_token: required(&get, "catalog_token")?,
            orders_url: url("orders_url")?,
            orders_token: required(&get, "orders_token")?,
            search_url: url("search_url")?,
            search_token: required(&get, "search_token")?,
        })
    }
}

/// The end-user token verifier configured through `get`.
pub fn verifier(
    get: impl Fn(&str) -> Result<Option<String>, String>,
) -> Result<Verifier, ConfigError> {
    let jwks = Jwks::parse(&required(&get, "jwt_jwks")?)?;
    Ok(Verifier::new(
        jwks,
        required(&get, "jwt_issuer")?,
        required(&get, "jwt_audience")?,
    ))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn store(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Result<Option<String>, String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |key| Ok(map.get(key).cloned())
    }

    #[test]
    fn upstreams_need_every_key() {
        let pairs: Vec<(&str, &str)> = UPSTREAM_KEYS
            .iter()
            .map(|k| (*k, "http://127.0.0.1:1/"))
            .collect();
        let up = Upstreams::load(store(&pairs)).unwrap();
        assert_eq!(up.orders_url, "http://127.0.0.1:1");
        assert_eq!(up.catalog_reads, vec!["http://127.0.0.1:1".to_owned()]);
        let mut with_replicas = pairs.clone();
        with_replicas.push((CATALOG_READS_KEY, " http://r1:7001/, http://r2:7001 ,"));
        let up = Upstreams::load(store(&with_replicas)).unwrap();
        assert_eq!(up.catalog_reads, ["http://r1:7001", "http://r2:7001"]);
        assert_eq!(
            Upstreams::load(store(&pairs[1..])),
            Err(ConfigError::Missing("catalog_url".into()))
        );
        let failing = |key: &str| Err(format!("{key} broke"));
        assert!(matches!(
            Upstreams::load(failing),
            Err(ConfigError::Store { .. })
        ));
    }

    #[test]
    fn the_verifier_needs_a_usable_jwks() {
        let jwks = r#"{"keys": [{"kty": "OKP", "crv": "Ed25519",
            "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
        assert!(
            verifier(store(&[
                ("jwt_jwks", jwks),
                ("jwt_issuer", "i"),
                ("jwt_audience", "a")
            ]))
            .is_ok()
        );
        assert!(matches!(
            verifier(store(&[
                ("jwt_jwks", "{}"),
                ("jwt_issuer", "i"),
                ("jwt_audience", "a")
            ])),
            Err(ConfigError::Jwks(_))
        ));
        assert_eq!(
            verifier(store(&[("jwt_jwks", jwks), ("jwt_issuer", "i")])).err(),
            Some(ConfigError::Missing("jwt_audience".into()))
        );
    }
}
