//! End users at the edge: a test issuer's Ed25519 key, its JWKS for the composer, and tokens
//! signed with it (or with anything else a test needs to be refused).

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer as _, SigningKey};
use serde_json::{Value, json};

/// The issuer (`iss`) the test composer accepts.
pub const ISSUER: &str = "https://issuer.test.invalid";

/// The audience (`aud`) the test composer accepts.
pub const AUDIENCE: &str = "db-per-service-edge";

/// The key id of the test issuer's key.
pub const KID: &str = "test-key-1";

/// The scope that makes a token a staff token.
pub const STAFF_SCOPE: &str = "orders:staff";

/// The test issuer's signing key, from a fixed seed (`seed` picks another key).
pub fn signing_key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

/// A JWKS document holding the public halves of `keys` (`(kid, key)`).
pub fn jwks_of(keys: &[(&str, &SigningKey)]) -> String {
    let keys: Vec<Value> = keys
        .iter()
        .map(|(kid, key)| {
            json!({
                "kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA", "kid": kid,
                "x": URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes()),
            })
        })
        .collect();
    json!({ "keys": keys }).to_string()
}

/// The JWKS of the test issuer's one key.
pub fn jwks() -> String {
    jwks_of(&[(KID, &signing_key(1))])
}

/// The composer's identity variables (`KEY=VALUE`) for `jwks`.
pub fn vars_for(jwks: &str) -> Vec<String> {
    vec![
        format!("jwt_jwks={jwks}"),
        format!("jwt_issuer={ISSUER}"),
        format!("jwt_audience={AUDIENCE}"),
    ]
}

/// The composer's identity variables for the test issuer.
pub fn vars() -> Vec<String> {
    vars_for(&jwks())
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Valid claims for `subject`, an hour long.
pub fn claims(subject: &str, staff: bool) -> Value {
    claims_for(subject, staff, 3600)
}

/// Valid claims for `subject`, `ttl_s` seconds long.
pub fn claims_for(subject: &str, staff: bool, ttl_s: i64) -> Value {
    let now = now();
    let mut claims = json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": subject,
        "iat": now, "nbf": now - 5, "exp": now + ttl_s,
    });
    if staff {
        claims["scope"] = json!(STAFF_SCOPE);
    }
    claims
}

/// `header.claims`, base64url-encoded, unsigned.
pub fn signing_input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// `claims` signed with EdDSA by `key`, naming `kid`.
pub fn sign(claims: &Value, key: &SigningKey, kid: &str) -> String {
    let input = signing_input(&json!({"alg": "EdDSA", "typ": "JWT", "kid": kid}), claims);
    let signature = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

/// A valid token of the test issuer for customer `subject`.
pub fn token(subject: &str) -> String {
    sign(&claims(subject, false), &signing_key(1), KID)
}

/// A valid staff token of the test issuer.
pub fn staff_token(subject: &str) -> String {
    sign(&claims(subject, true), &signing_key(1), KID)
}

/// A valid token of the test issuer, `ttl_s` seconds long (for runs longer than an hour).
pub fn token_valid_for(subject: &str, staff: bool, ttl_s: i64) -> String {
    sign(&claims_for(subject, staff, ttl_s), &signing_key(1), KID)
}

/// A token with `alg: none` and no signature.
pub fn unsigned_token(subject: &str) -> String {
    format!(
        "{}.",
        signing_input(
            &json!({"alg": "none", "typ": "JWT"}),
            &claims(subject, false)
        )
    )
}
