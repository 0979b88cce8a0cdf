//! The composer's routes (the real `.wasm` in edge-host): every order route refuses every
//! credential that is not a valid end-user token of the configured issuer, service tokens
//! included (the composer must not be a confused deputy), and a valid end user's malformed
//! requests get a 4xx, never a 5xx, and write nothing.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use serde_json::{Value, json};
use system_tests::composer::{COMPOSER, ComposerSystem};
use system_tests::identity::{self, KID};
use system_tests::{Rng, product};

/// The composer's order routes with an order `id` of `owner`.
fn order_routes(id: &str, owner: &str) -> Vec<(Method, String)> {
    vec![
        (Method::GET, format!("/v1/order-views/{id}")),
        (Method::GET, format!("/v1/customers/{owner}/order-views")),
        (Method::POST, "/v1/orders".to_owned()),
        (Method::POST, format!("/v1/orders/{id}/cancel")),
    ]
}

/// An HS256 token keyed with the issuer's public key: the classic algorithm-confusion forgery.
fn hmac_confusion(subject: &str) -> String {
    use sha2_hmac::hmac_sha256;
    let key = identity::signing_key(1).verifying_key().to_bytes();
    let input = identity::signing_input(
        &json!({"alg": "HS256", "kid": KID}),
        &identity::claims(subject, true),
    );
    let mac = hmac_sha256(&key, input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac))
}

/// HMAC-SHA-256 (RFC 2104) over the harness's SHA-256, enough to forge a test token.
mod sha2_hmac {
    use sha2::{Digest, Sha256};

    pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
        let mut block = [0u8; 64];
        block[..key.len()].copy_from_slice(key);
        let pad = |byte: u8| block.map(|b| b ^ byte);
        let inner = Sha256::new()
            .chain_update(pad(0x36))
            .chain_update(message)
            .finalize();
        Sha256::new()
            .chain_update(pad(0x5c))
            .chain_update(inner)
            .finalize()
            .into()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn composer_order_routes_refuse_service_tokens_and_forgeries() {
    let sys = ComposerSystem::start_with(false).await;
    sys.put_product("lamp", &product("Lamp", 2500, 10)).await;
    let placed = sys
        .composer_for("alice")
        .post(
            "/v1/orders",
            &json!({"items": [{"product_id": "lamp", "qty": 1}]}),
        )
        .await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    let id = placed.body["id"].as_str().unwrap().to_owned();
    sys.reset_counts();

    let good = identity::token("alice");
    let (header, rest) = good.split_once('.').unwrap();
    let none_with_signature = {
        let (_, signature) = rest.rsplit_once('.').unwrap();
        let input = identity::signing_input(
            &json!({"alg": "none", "kid": KID}),
            &identity::claims("alice", true),
        );
        format!("{input}.{signature}")
    };
    let mut claims = identity::claims("alice", false);
    claims["iss"] = Value::Null;
    let credentials: Vec<(&str, String)> = vec![
        // Service tokens, valid at the nodes, mean nothing at the edge.
        (
            "the composer's own order-node token",
            format!("Bearer {}", sys.order_callers.token(COMPOSER)),
        ),
        (
            "order-node's shop token",
            format!("Bearer {}", sys.order_callers.token("shop")),
        ),
        (
            "the catalog admin token",
            format!("Bearer {}", sys.catalog.callers.token("admin")),
        ),
        (
            "HS256 keyed with the public key",
            format!("Bearer {}", hmac_confusion("alice")),
        ),
        (
            "alg none with a signature",
            format!("Bearer {none_with_signature}"),
        ),
        (
            "a header of another token",
            format!("Bearer {header}.{}", rest.replace('.', ".x")),
        ),
        (
            "kid as a path",
            format!(
                "Bearer {}",
                identity::sign(
                    &identity::claims("alice", false),
                    &identity::signing_key(1),
                    "../../etc/passwd"
                )
            ),
        ),
        (
            "no issuer",
            format!(
                "Bearer {}",
                identity::sign(&claims, &identity::signing_key(1), KID)
            ),
        ),
        ("two tokens", format!("Bearer {good} {good}")),
        (
            "a token with spaces inside",
            format!("Bearer {}", good.replacen('.', " .", 1)),
        ),
    ];
    for (method, path) in order_routes(&id, "alice") {
        for (what, authorization) in &credentials {
            let r = sys
                .composer_with(None)
                .send(
                    method.clone(),
                    &path,
                    Some(&json!({"items": [{"product_id": "lamp", "qty": 1}]})),
                    &[("authorization", authorization)],
                )
                .await;
            assert_eq!(r.status, 401, "{method} {path} with {what}: {}", r.text);
            assert_eq!(
                r.header("www-authenticate").as_deref(),
                Some("Bearer error=\"invalid_token\""),
                "{method} {path} with {what}"
            );
        }
        // Another scheme is no bearer token at all.
        let basic = format!("Basic {}", URL_SAFE_NO_PAD.encode("alice:secret"));
        let r = sys
            .composer_with(None)
            .send(method.clone(), &path, None, &[("authorization", &basic)])
            .await;
        assert_eq!(r.status, 401, "{method} {path} with Basic: {}", r.text);
        assert_eq!(r.header("www-authenticate").as_deref(), Some("Bearer"));
    }
    assert_eq!(
        sys.orders_proxy.total(),
        0,
        "a refused request reached order-node"
    );
    assert_eq!(sys.product("lamp").await["stock"], 9);
    assert_eq!(sys.order(&id).await.body["status"], "confirmed");
}

/// A malformed request to an order route, for a valid end user.
fn bad_request(rng: &mut Rng) -> (Method, String, Option<Vec<u8>>) {
    let weird_ids = [
        "bad id",
        "a/b",
        "%00",
        "..",
        "x".repeat(65).as_str(),
        "é",
        "a%20b",
        "*",
        "",
    ]
    .map(str::to_owned);
    let id = weird_ids[rng.index(weird_ids.len())].clone();
    let bodies: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"{".to_vec(),
        b"[]".to_vec(),
        b"null".to_vec(),
        b"\"alice\"".to_vec(),
        vec![0xff, 0xfe, 0x00],
        json!({"customer_id": 7, "items": []}).to_string().into_bytes(),
        json!({"customer_id": "bob", "items": [{"product_id": "lamp", "qty": 1}]})
            .to_string()
            .into_bytes(),
        json!({"items": "lamp"}).to_string().into_bytes(),
        json!({"items": [{"product_id": "no-such", "qty": 1}]})
            .to_string()
            .into_bytes(),
        json!({"items": [{"product_id": "lamp", "qty": -1}]})
            .to_string()
            .into_bytes(),
        json!({"items": [{"product_id": "lamp", "qty": 1e30}]})
            .to_string()
            .into_bytes(),
        json!({"items": [{"product_id": "'; DROP TABLE orders; --", "qty": 1}]})
            .to_string()
            .into_bytes(),
        format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(),
        json!({"items": (0..2000).map(|i| json!({"product_id": format!("p{i}"), "qty": 1})).collect::<Vec<_>>()})
            .to_string()
            .into_bytes(),
    ];
    match rng.index(4) {
        0 => (Method::GET, format!("/v1/order-views/{id}"), None),
        1 => {
            let queries = [
                "limit=0",
                "limit=x",
                "cursor=-1",
                "cursor=abc",
                "x=1",
                "limit=99999999999999999999",
            ];
            let customer = if rng.index(2) == 0 {
                "alice".to_owned()
            } else {
                id
            };
            let query = queries[rng.index(queries.len())];
            (
                Method::GET,
                format!("/v1/customers/{customer}/order-views?{query}"),
                None,
            )
        }
        2 => (
            Method::POST,
            "/v1/orders".to_owned(),
            Some(bodies[rng.index(bodies.len())].clone()),
        ),
        _ => (
            Method::POST,
            format!("/v1/orders/{id}/cancel"),
            Some(b"{}".to_vec()),
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn composer_refuses_a_valid_end_users_bad_input_without_writing() {
    let sys = ComposerSystem::start_with(false).await;
    sys.put_product("lamp", &product("Lamp", 2500, 10)).await;
    let mut rng = Rng::new(0x1d_e47);
    let http = reqwest::Client::new();
    let token = identity::token("alice");
    for case in 0..300 {
        let (method, path, body) = bad_request(&mut rng);
        let mut request = http
            .request(method.clone(), format!("{}{path}", sys.host.base()))
            .bearer_auth(&token);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let response = request.send().await.unwrap_or_else(|e| {
            panic!(
                "case {case}: {method} {path}: no answer ({e})\n{}",
                sys.logs()
            )
        });
        let status = response.status();
        assert!(
            status.is_client_error(),
            "case {case}: {method} {path} answered {status}: {}\n{}",
            response.text().await.unwrap_or_default(),
            sys.logs()
        );
    }
    // Nothing was stored and no stock moved: order-node's audit trail is empty.
    let audit = sys.orders_operator().get("/v1/admin/audit").await;
    assert_eq!(audit.status, 200, "{}", audit.text);
    assert_eq!(audit.body["entries"], json!([]), "{}", audit.text);
    assert_eq!(sys.product("lamp").await["stock"], 10);
}
