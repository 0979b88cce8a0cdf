use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signer as _;
use rsa::pkcs8::DecodePrivateKey as _;
use rsa::traits::PublicKeyParts as _;
use serde_json::{Value, json};

use super::*;

/// A throwaway RSA key for these tests only; it signs nothing anywhere else.
const RSA_PEM: &str = include_str!("test-rsa-key.pem");
const NOW: i64 = 1_800_000_000;
const ISS: &str = "https://issuer.test";
const AUD: &str = "db-per-service";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn ed_key(seed: u8) -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[seed; 32])
}

fn ec_key() -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_slice(&[7; 32]).unwrap()
}

fn rsa_key() -> rsa::RsaPrivateKey {
    rsa::RsaPrivateKey::from_pkcs8_pem(RSA_PEM).unwrap()
}

fn ed_jwk(kid: &str, key: &ed25519_dalek::SigningKey) -> Value {
    json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "use": "sig",
           "x": b64(key.verifying_key().as_bytes())})
}

fn ec_jwk(kid: &str) -> Value {
    let point = ec_key().verifying_key().to_encoded_point(false);
    json!({"kty": "EC", "crv": "P-256", "kid": kid,
           "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap())})
}

fn rsa_jwk(kid: &str) -> Value {
    let public = rsa_key().to_public_key();
    json!({"kty": "RSA", "kid": kid, "alg": "RS256",
           "n": b64(&public.n().to_bytes_be()), "e": b64(&public.e().to_bytes_be())})
}

fn verifier(keys: Vec<Value>) -> Verifier {
    let jwks = Jwks::parse(&json!({ "keys": keys }).to_string()).unwrap();
    Verifier::new(jwks, ISS, AUD)
}

fn claims(sub: &str) -> Value {
    json!({"sub": sub, "iss": ISS, "aud": AUD, "exp": NOW + 300, "iat": NOW})
}

fn unsigned(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    )
}

fn ed_token(kid: &str, key: &ed25519_dalek::SigningKey, claims: &Value) -> String {
    let input = unsigned(&json!({"alg": "EdDSA", "typ": "JWT", "kid": kid}), claims);
    let sig = key.sign(input.as_bytes());
    format!("{input}.{}", b64(&sig.to_bytes()))
}

fn ec_token(kid: &str, claims: &Value) -> String {
    use p256::ecdsa::signature::Signer as _;
    let input = unsigned(&json!({"alg": "ES256", "kid": kid}), claims);
    let sig: p256::ecdsa::Signature = ec_key().sign(input.as_bytes());
    format!("{input}.{}", b64(&sig.to_bytes()))
}

fn rsa_token(kid: &str, claims: &Value) -> String {
    use rsa::signature::{SignatureEncoding as _, Signer as _};
    let input = unsigned(&json!({"alg": "RS256", "kid": kid}), claims);
    let signer = rsa::pkcs1v15::SigningKey::<Sha256>::new(rsa_key());
    let sig = signer.sign(input.as_bytes());
    format!("{input}.{}", b64(&sig.to_bytes()))
}

#[test]
fn accepts_each_algorithm() {
    let v = verifier(vec![ed_jwk("ed", &ed_key(1)), ec_jwk("ec"), rsa_jwk("rsa")]);
    let alice = Verified {
        subject: "alice".into(),
        staff: false,
    };
    assert_eq!(
        v.verify(&ed_token("ed", &ed_key(1), &claims("alice")), NOW),
        Ok(alice.clone())
    );
    assert_eq!(
        v.verify(&ec_token("ec", &claims("alice")), NOW),
        Ok(alice.clone())
    );
    assert_eq!(
        v.verify(&rsa_token("rsa", &claims("alice")), NOW),
        Ok(alice)
    );
}

#[test]
fn staff_scope_and_audience_lists() {
    let v = verifier(vec![ed_jwk("ed", &ed_key(1))]);
    let mut c = claims("carol");
    c["scope"] = json!("orders:read orders:staff");
    c["aud"] = json!(["other", AUD]);
    let got = v.verify(&ed_token("ed", &ed_key(1), &c), NOW).unwrap();
    assert!(got.staff);
    c["scope"] = json!("orders:staffer");
    assert!(
        !v.verify(&ed_token("ed", &ed_key(1), &c), NOW)
            .unwrap()
            .staff
    );
}

#[test]
fn time_claims_with_leeway() {
    let v = verifier(vec![ed_jwk("ed", &ed_key(1))]);
    let key = ed_key(1);
    let mut c = claims("alice");
    c["exp"] = json!(NOW - LEEWAY_S);
    assert!(v.verify(&ed_token("ed", &key, &c), NOW).is_ok());
    c["exp"] = json!(NOW - LEEWAY_S - 1);
    assert_eq!(
        v.verify(&ed_token("ed", &key, &c), NOW),
        Err(TokenError::Expired)
    );
    let mut c = claims("alice");
    c["nbf"] = json!(NOW + LEEWAY_S);
    assert!(v.verify(&ed_token("ed", &key, &c), NOW).is_ok());
    c["nbf"] = json!(NOW + LEEWAY_S + 1);
    assert_eq!(
        v.verify(&ed_token("ed", &key, &c), NOW),
        Err(TokenError::NotYetValid)
    );
    let mut c = claims("alice");
    c.as_object_mut().unwrap().remove("exp");
    assert_eq!(
        v.verify(&ed_token("ed", &key, &c), NOW),
        Err(TokenError::Claim("exp"))
    );
    c["exp"] = json!("soon");
    assert_eq!(
        v.verify(&ed_token("ed", &key, &c), NOW),
        Err(TokenError::Claim("exp"))
    );
}

#[test]
fn issuer_audience_and_subject_are_checked() {
    let v = verifier(vec![ed_jwk("ed", &ed_key(1))]);
    let key = ed_key(1);
    for (claim, value, error) in [
        ("iss", json!("https://elsewhere"), TokenError::Issuer),
        ("iss", Value::Null, TokenError::Issuer),
        ("aud", json!("other"), TokenError::Audience),
        ("aud", json!(["a", "b"]), TokenError::Audience),
        ("sub", json!("bad id!"), TokenError::Claim("sub")),
        ("sub", json!(7), TokenError::Claim("sub")),
    ] {
        let mut c = claims("alice");
        c[claim] = value;
        assert_eq!(
            v.verify(&ed_token("ed", &key, &c), NOW),
            Err(error),
            "{claim}"
        );
    }
}

#[test]
fn refuses_none_foreign_keys_and_damage() {
    let v = verifier(vec![ed_jwk("ed", &ed_key(1)), rsa_jwk("rsa")]);
    let good = ed_token("ed", &ed_key(1), &claims("alice"));
    let none = format!("{}.", unsigned(&json!({"alg": "none"}), &claims("alice")));
    assert_eq!(
        v.verify(&none, NOW),
        Err(TokenError::Algorithm("none".into()))
    );
    let hs = format!(
        "{}.c2ln",
        unsigned(&json!({"alg": "HS256", "kid": "ed"}), &claims("a"))
    );
    assert_eq!(
        v.verify(&hs, NOW),
        Err(TokenError::Algorithm("HS256".into()))
    );
    // Another key, same kid: the signature does not hold.
    assert_eq!(
        v.verify(&ed_token("ed", &ed_key(2), &claims("alice")), NOW),
        Err(TokenError::Signature)
    );
    assert_eq!(
        v.verify(&ed_token("gone", &ed_key(1), &claims("alice")), NOW),
        Err(TokenError::UnknownKey)
    );
    // An RSA key named by an EdDSA token.
    assert_eq!(
        v.verify(&ed_token("rsa", &ed_key(1), &claims("alice")), NOW),
        Err(TokenError::KeyAlgorithm)
    );
    // Claims changed after signing.
    let parts: Vec<&str> = good.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64(claims("mallory").to_string().as_bytes()),
        parts[2]
    );
    assert_eq!(v.verify(&forged, NOW), Err(TokenError::Signature));
    for bad in [
        "",
        "abc",
        &good[..good.len() / 2],
        &format!("{good}.x"),
        &good.replace('.', ".="),
        &"a".repeat(MAX_TOKEN_LEN + 1),
    ] {
        assert!(v.verify(bad, NOW).is_err(), "{bad:?}");
    }
    let crit = unsigned(
        &json!({"alg": "EdDSA", "kid": "ed", "crit": ["exp"]}),
        &claims("a"),
    );
    let sig = ed_key(1).sign(crit.as_bytes());
    assert_eq!(
        v.verify(&format!("{crit}.{}", b64(&sig.to_bytes())), NOW),
        Err(TokenError::Critical)
    );
}

#[test]
fn kid_less_tokens_need_exactly_one_candidate() {
    let input = unsigned(&json!({"alg": "EdDSA"}), &claims("alice"));
    let token = format!(
        "{input}.{}",
        b64(&ed_key(1).sign(input.as_bytes()).to_bytes())
    );
    let one = verifier(vec![ed_jwk("a", &ed_key(1)), rsa_jwk("rsa")]);
    assert!(one.verify(&token, NOW).is_ok());
    let two = verifier(vec![ed_jwk("a", &ed_key(1)), ed_jwk("b", &ed_key(2))]);
    assert_eq!(two.verify(&token, NOW), Err(TokenError::UnknownKey));
}

#[test]
fn jwks_parsing() {
    assert!(matches!(Jwks::parse("[]"), Err(JwksError::Shape(_))));
    assert_eq!(Jwks::parse(r#"{"keys": []}"#).err(), Some(JwksError::Empty));
    // Encryption keys and unknown types are skipped, not fatal.
    let mixed = json!({"keys": [
        {"kty": "oct", "k": "c2VjcmV0"},
        {"kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB"},
        ed_jwk("ed", &ed_key(1)),
    ]});
    assert_eq!(Jwks::parse(&mixed.to_string()).unwrap().len(), 1);
    let short_x = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}]});
    assert!(matches!(
        Jwks::parse(&short_x.to_string()),
        Err(JwksError::Key { index: 0, .. })
    ));
    let small_rsa = json!({"keys": [{"kty": "RSA", "n": b64(&[0xc5; 128]), "e": "AQAB"}]});
    assert!(matches!(
        Jwks::parse(&small_rsa.to_string()),
        Err(JwksError::Key { .. })
    ));
    // A key published for another algorithm is not used for this one.
    let mut ed = ed_jwk("ed", &ed_key(1));
    ed["alg"] = json!("RS256");
    assert_eq!(
        Jwks::parse(&json!({"keys": [ed]}).to_string()).err(),
        Some(JwksError::Empty)
    );
}
