//! Verifying end users' bearer JWTs against a configured JWKS: pure Rust, no I/O and no clock
//! of its own (the caller passes the time), so it runs the same natively and in the component.
//!
//! Only what the edge needs is accepted: compact JWS with `EdDSA` (Ed25519), `RS256` or
//! `ES256`, a key chosen by `kid` (or the one key of the token's algorithm when the set has
//! exactly one), `exp` required, `nbf` honoured, both with a small leeway, `iss` and `aud`
//! equal to the configured values. Everything else, `alg: none` first of all, is refused.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;
use thiserror::Error;

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const LEEWAY_S: i64 = 30;

/// Longest token accepted, in bytes: far above any real token, and it bounds the work a
/// hostile header can cause.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// Smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// The scope (in the space-separated `scope` claim) that makes a token a staff token.
pub const STAFF_SCOPE: &str = "orders:staff";

/// A signature algorithm the edge accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    /// Ed25519.
    EdDsa,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// ECDSA on P-256 with SHA-256.
    Es256,
}

impl Alg {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "EdDSA" => Some(Self::EdDsa),
            "RS256" => Some(Self::Rs256),
            "ES256" => Some(Self::Es256),
            _ => None,
        }
    }
}

/// A JWKS that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum JwksError {
    /// Not a JWKS document.
    #[error("the JWKS is not a JSON object with a \"keys\" array: {0}")]
    Shape(String),
    /// A key of a supported type is broken.
    #[error("JWKS key {index}: {why}")]
    Key {
        /// Its position in `keys`.
        index: usize,
        /// What is wrong.
        why: String,
    },
    /// No key the edge can verify with.
    #[error("the JWKS holds no Ed25519, RSA or P-256 signing key")]
    Empty,
}

/// Why a token is refused. Every variant is a 401 with `error="invalid_token"`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TokenError {
    /// Not three base64url parts of JSON, or too long.
    #[error("the token is malformed")]
    Malformed,
    /// `none` or any algorithm not accepted here.
    #[error("the token's algorithm {0:?} is not accepted")]
    Algorithm(String),
    /// The token names critical extensions.
    #[error("the token has critical header parameters this service does not understand")]
    Critical,
    /// No key of the set matches the token's `kid` (or, without one, its algorithm).
    #[error("the token's key is not in the key set")]
    UnknownKey,
    /// The key exists but is not for the token's algorithm.
    #[error("the token's key does not allow its algorithm")]
    KeyAlgorithm,
    /// The signature does not verify.
    #[error("the token's signature does not verify")]
    Signature,
    /// Past `exp`.
    #[error("the token has expired")]
    Expired,
    /// Before `nbf`.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iss` is not the configured issuer.
    #[error("the token's issuer is not accepted")]
    Issuer,
    /// `aud` does not name this service.
    #[error("the token is not for this audience")]
    Audience,
    /// A required claim is absent or of the wrong type.
    #[error("the token lacks a valid {0} claim")]
    Claim(&'static str),
}

/// The end user a verified token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// `sub`: the customer id.
    pub subject: String,
    /// Whether `scope` holds [`STAFF_SCOPE`].
    pub staff: bool,
}

enum Material {
    Ed25519(ed25519_dalek::VerifyingKey),
    Rsa(Box<rsa::pkcs1v15::VerifyingKey<Sha256>>),
    P256(p256::ecdsa::VerifyingKey),
}

impl Material {
    fn alg(&self) -> Alg {
        match self {
            Self::Ed25519(_) => Alg::EdDsa,
            Self::Rsa(_) => Alg::Rs256,
            Self::P256(_) => Alg::Es256,
        }
    }

    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        use p256::ecdsa::signature::Verifier as _;
        match self {
            Self::Ed25519(key) => ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|s| key.verify_strict(message, &s).is_ok()),
            Self::Rsa(key) => rsa::pkcs1v15::Signature::try_from(signature)
                .is_ok_and(|s| key.verify(message, &s).is_ok()),
            Self::P256(key) => p256::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|s| key.verify(message, &s).is_ok()),
        }
    }
}

struct Key {
    kid: Option<String>,
    material: Material,
}

/// One JWK as published; only the members the edge reads.
#[derive(Deserialize)]
struct RawJwk {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default, rename = "use")]
    usage: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
}

#[derive(Deserialize)]
struct RawJwks {
    keys: Vec<RawJwk>,
}

fn b64(field: &str, value: Option<&str>) -> Result<Vec<u8>, String> {
    let value = value.ok_or_else(|| format!("lacks {field:?}"))?;
    URL_SAFE_NO_PAD
        .decode(value)
        .map_err(|e| format!("{field:?} is not base64url: {e}"))
}

impl RawJwk {
    /// The key's material, `None` for a key the edge does not verify with (another type, or
    /// one published for encryption or another algorithm).
    fn material(&self) -> Result<Option<Material>, String> {
        if self.usage.as_deref().is_some_and(|u| u != "sig") {
            return Ok(None);
        }
        let material = match (self.kty.as_str(), self.crv.as_deref()) {
            ("OKP", Some("Ed25519")) => {
                let x: [u8; 32] = b64("x", self.x.as_deref())?
                    .try_into()
                    .map_err(|_| "\"x\" is not 32 bytes".to_owned())?;
                let key = ed25519_dalek::VerifyingKey::from_bytes(&x)
                    .map_err(|e| format!("not an Ed25519 public key: {e}"))?;
                Material::Ed25519(key)
            }
            ("RSA", _) => {
                let n = rsa::BigUint::from_bytes_be(&b64("n", self.n.as_deref())?);
                let e = rsa::BigUint::from_bytes_be(&b64("e", self.e.as_deref())?);
                let key =
                    rsa::RsaPublicKey::new(n, e).map_err(|e| format!("not an RSA key: {e}"))?;
                if rsa::traits::PublicKeyParts::size(&key) * 8 < MIN_RSA_BITS {
                    return Err(format!("RSA keys need at least {MIN_RSA_BITS} bits"));
                }
                Material::Rsa(Box::new(rsa::pkcs1v15::VerifyingKey::new(key)))
            }
            ("EC", Some("P-256")) => {
                let x = b64("x", self.x.as_deref())?;
                let y = b64("y", self.y.as_deref())?;
                if x.len() != 32 || y.len() != 32 {
                    return Err("P-256 coordinates are 32 bytes each".to_owned());
                }
                let point = p256::EncodedPoint::from_affine_coordinates(
                    p256::FieldBytes::from_slice(&x),
                    p256::FieldBytes::from_slice(&y),
                    false,
                );
                let key = p256::ecdsa::VerifyingKey::from_encoded_point(&point)
                    .map_err(|_| "not a point on P-256".to_owned())?;
                Material::P256(key)
            }
            _ => return Ok(None),
        };
        match self.alg.as_deref() {
            // A key published for another algorithm is not one to verify this one with.
            Some(alg) if Alg::parse(alg) != Some(material.alg()) => Ok(None),
            _ => Ok(Some(material)),
        }
    }
}

/// The keys tokens may be signed with.
pub struct Jwks {
    keys: Vec<Key>,
}

impl Jwks {
    /// Parses a JWKS document (`{"keys": [...]}`), keeping the keys the edge can verify with.
    pub fn parse(json: &str) -> Result<Self, JwksError> {
        let raw: RawJwks =
            serde_json::from_str(json).map_err(|e| JwksError::Shape(e.to_string()))?;
        let mut keys = Vec::new();
        for (index, jwk) in raw.keys.iter().enumerate() {
            if let Some(material) = jwk
                .material()
                .map_err(|why| JwksError::Key { index, why })?
            {
                keys.push(Key {
                    kid: jwk.kid.clone(),
                    material,
                });
            }
        }
        if keys.is_empty() {
            return Err(JwksError::Empty);
        }
        Ok(Self { keys })
    }

    /// How many usable keys the set holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set holds no usable key (never true for a parsed set).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn key_for(&self, kid: Option<&str>, alg: Alg) -> Result<&Material, TokenError> {
        match kid {
            Some(kid) => {
                let key = self
                    .keys
                    .iter()
                    .find(|k| k.kid.as_deref() == Some(kid))
                    .ok_or(TokenError::UnknownKey)?;
                if key.material.alg() == alg {
                    Ok(&key.material)
                } else {
                    Err(TokenError::KeyAlgorithm)
                }
            }
            None => {
                // Without a kid, guessing among several keys would let a token pick its key.
                let mut candidates = self.keys.iter().filter(|k| k.material.alg() == alg);
                match (candidates.next(), candidates.next()) {
                    (Some(only), None) => Ok(&only.material),
                    _ => Err(TokenError::UnknownKey),
                }
            }
        }
    }
}

/// What a token must say besides being well signed.
pub struct Verifier {
    jwks: Jwks,
    issuer: String,
    audience: String,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<Value>,
}

fn seconds(claims: &Value, name: &'static str) -> Result<Option<i64>, TokenError> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(Some)
            .ok_or(TokenError::Claim(name)),
    }
}

impl Verifier {
    /// A verifier accepting tokens signed by `jwks`, issued by `issuer` for `audience`.
    pub fn new(jwks: Jwks, issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            jwks,
            issuer: issuer.into(),
            audience: audience.into(),
        }
    }

    /// Verifies `token` at `now` (seconds since the epoch) and returns its end user.
    pub fn verify(&self, token: &str, now: i64) -> Result<Verified, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(header_b64), Some(claims_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let decode = |part: &str| {
            URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|_| TokenError::Malformed)
        };
        let header: Header =
            serde_json::from_slice(&decode(header_b64)?).map_err(|_| TokenError::Malformed)?;
        let Some(alg) = Alg::parse(&header.alg) else {
            return Err(TokenError::Algorithm(header.alg));
        };
        if header.crit.is_some() {
            return Err(TokenError::Critical);
        }
        let key = self.jwks.key_for(header.kid.as_deref(), alg)?;
        let signature = decode(signature_b64)?;
        let signed = &token[..header_b64.len() + 1 + claims_b64.len()];
        if !key.verify(signed.as_bytes(), &signature) {
            return Err(TokenError::Signature);
        }
        // Claims are read only once the signature holds: nothing unsigned is interpreted.
        let claims: Value =
            serde_json::from_slice(&decode(claims_b64)?).map_err(|_| TokenError::Malformed)?;
        if !claims.is_object() {
            return Err(TokenError::Malformed);
        }
        let exp = seconds(&claims, "exp")?.ok_or(TokenError::Claim("exp"))?;
        if now > exp.saturating_add(LEEWAY_S) {
            return Err(TokenError::Expired);
        }
        if let Some(nbf) = seconds(&claims, "nbf")?
            && now.saturating_add(LEEWAY_S) < nbf
        {
            return Err(TokenError::NotYetValid);
        }
        if claims.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return Err(TokenError::Issuer);
        }
        let audience_ok = match claims.get("aud") {
            Some(Value::String(aud)) => *aud == self.audience,
            Some(Value::Array(auds)) => auds
                .iter()
                .any(|a| a.as_str() == Some(self.audience.as_str())),
            _ => false,
        };
        if !audience_ok {
            return Err(TokenError::Audience);
        }
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| contracts::validate::id("sub", s).is_ok())
            .ok_or(TokenError::Claim("sub"))?
            .to_owned();
        let staff = claims
            .get("scope")
            .and_then(Value::as_str)
            .is_some_and(|s| s.split_whitespace().any(|s| s == STAFF_SCOPE));
        Ok(Verified { subject, staff })
    }
}

#[cfg(test)]
mod tests;
