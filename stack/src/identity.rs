//! End users of the local system: this run's Ed25519 signing key (the stand-in for a real
//! identity provider), the JWKS the composer verifies tokens with, and `stack token`.
//!
//! The key is fresh at every start, like the service tokens: a token minted for an earlier
//! run stops working when the system restarts.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer as _, SigningKey};
use serde_json::{Value, json};
use thiserror::Error;

use crate::layout::Layout;
use crate::secrets::{SecretsError, write_private};

/// The issuer (`iss`) of the local system's tokens.
pub const ISSUER: &str = "db-per-service-stack";

/// The audience (`aud`) the local composer accepts.
pub const AUDIENCE: &str = "db-per-service-edge";

/// The scope of a staff token.
pub const STAFF_SCOPE: &str = "orders:staff";

/// The file of this run's signing key, under the secrets directory.
pub const KEY_FILE: &str = "jwt-signing.key";

/// Why a token cannot be minted.
#[derive(Debug, Error)]
pub enum IdentityError {
    /// No key: the system was never started with this data directory.
    #[error(
        "cannot read the signing key {path} ({source}); is `stack up` running with this \
         --data-dir?"
    )]
    NoKey {
        /// The key file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The key file is damaged.
    #[error("the signing key {0} is not a base64url Ed25519 seed")]
    BadKey(PathBuf),
}

/// This run's signing key.
pub struct Issuer {
    key: SigningKey,
}

impl Issuer {
    /// A fresh key, written owner-only under the secrets directory.
    pub fn generate(layout: &Layout) -> Result<Self, SecretsError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(SecretsError::Random)?;
        let issuer = Self {
            key: SigningKey::from_bytes(&seed),
        };
        write_private(
            &key_file(&layout.data),
            &format!("{}\n", URL_SAFE_NO_PAD.encode(seed)),
        )?;
        Ok(issuer)
    }

    /// The key of the run whose data is under `data`.
    pub fn load(data: &Path) -> Result<Self, IdentityError> {
        let path = key_file(data);
        let text = fs::read_to_string(&path).map_err(|source| IdentityError::NoKey {
            path: path.clone(),
            source,
        })?;
        let seed: [u8; 32] = URL_SAFE_NO_PAD
            .decode(text.trim())
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(IdentityError::BadKey(path))?;
        Ok(Self {
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// The key id: derived from the public key, so a new key is a new id.
    pub fn kid(&self) -> String {
        let public = URL_SAFE_NO_PAD.encode(self.key.verifying_key().as_bytes());
        format!("stack-{}", &public[..12])
    }

    /// The JWKS the composer verifies this run's tokens with.
    pub fn jwks(&self) -> String {
        json!({"keys": [{
            "kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA", "kid": self.kid(),
            "x": URL_SAFE_NO_PAD.encode(self.key.verifying_key().as_bytes()),
        }]})
        .to_string()
    }

    /// A token for customer `subject` (a staff token when `staff`), valid `ttl_s` seconds
    /// from `now` (seconds since the epoch).
    pub fn token_at(&self, subject: &str, staff: bool, ttl_s: u64, now: u64) -> String {
        let mut claims = json!({
            "iss": ISSUER, "aud": AUDIENCE, "sub": subject,
            "iat": now, "nbf": now, "exp": now.saturating_add(ttl_s),
        });
        if staff {
            claims["scope"] = Value::String(STAFF_SCOPE.to_owned());
        }
        let header = json!({"alg": "EdDSA", "typ": "JWT", "kid": self.kid()});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self.key.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }

    /// [`Self::token_at`] now.
    pub fn token(&self, subject: &str, staff: bool, ttl_s: u64) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.token_at(subject, staff, ttl_s, now)
    }
}

/// Where the signing key of the run with data under `data` is kept.
pub fn key_file(data: &Path) -> PathBuf {
    data.join("secrets").join(KEY_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_name_the_key_and_the_claims() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("secrets")).unwrap();
        let layout = Layout {
            data: dir.path().to_owned(),
            bin_dir: PathBuf::new(),
            component: PathBuf::new(),
            base_port: 7000,
            replicas: 0,
        };
        let issuer = Issuer::generate(&layout).unwrap();
        let again = Issuer::load(dir.path()).unwrap();
        assert_eq!(issuer.kid(), again.kid());
        assert_ne!(issuer.kid(), Issuer::generate(&layout).unwrap().kid());
        let token = again.token_at("alice", true, 60, 1000);
        let claims = token.split('.').nth(1).unwrap();
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
        assert_eq!(claims["sub"], "alice");
        assert_eq!(claims["exp"], 1060);
        assert_eq!(claims["scope"], STAFF_SCOPE);
        let jwks: Value = serde_json::from_str(&issuer.jwks()).unwrap();
        assert_eq!(jwks["keys"][0]["kty"], "OKP");
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &fs::metadata(key_file(dir.path())).unwrap().permissions(),
        );
        assert_eq!(mode & 0o077, 0, "the key is owner-only");
    }

    #[test]
    fn a_missing_key_says_where_it_was_looked_for() {
        let dir = tempfile::tempdir().unwrap();
        let err = Issuer::load(dir.path()).err().unwrap();
        assert!(err.to_string().contains(KEY_FILE), "{err}");
    }
}
