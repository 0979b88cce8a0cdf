//! End users at the edge: every order route needs a valid token of the configured issuer, a
//! customer sees and changes only its own orders, staff read everyone's, order-node trusts
//! the end user only from the composer, idempotency keys are per end user, and a key
//! rotated out of the JWKS stops working once edge-host runs with the new set.

use reqwest::Method;
use serde_json::{Value, json};
use system_tests::composer::ComposerSystem;
use system_tests::http::Reply;
use system_tests::identity::{self, AUDIENCE, ISSUER, KID};
use system_tests::orders::items;
use system_tests::{EdgeHost, composer::composer_wasm, product};

use crate::id_of;

/// Every protected route, as `(method, path, body)`, for an order `id` of customer `owner`.
fn protected_routes(id: &str, owner: &str) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::GET, format!("/v1/order-views/{id}"), None),
        (
            Method::GET,
            format!("/v1/customers/{owner}/order-views"),
            None,
        ),
        (
            Method::POST,
            "/v1/orders".to_owned(),
            Some(json!({"customer_id": owner, "items": items(&[("lamp", 1)])})),
        ),
        (Method::POST, format!("/v1/orders/{id}/cancel"), None),
    ]
}

/// Tokens that must each be refused as `invalid_token`, by name.
fn bad_tokens(subject: &str) -> Vec<(&'static str, String)> {
    let key = identity::signing_key(1);
    let now = identity::now();
    let with = |change: &dyn Fn(&mut Value)| {
        let mut claims = identity::claims(subject, false);
        change(&mut claims);
        identity::sign(&claims, &key, KID)
    };
    let good = identity::token(subject);
    vec![
        (
            "expired",
            with(&|c| {
                c["exp"] = json!(now - 600);
                c["iat"] = json!(now - 4000);
                c["nbf"] = json!(now - 4000);
            }),
        ),
        ("not yet valid", with(&|c| c["nbf"] = json!(now + 600))),
        (
            "wrong issuer",
            with(&|c| c["iss"] = json!(format!("{ISSUER}.evil"))),
        ),
        (
            "wrong audience",
            with(&|c| c["aud"] = json!("someone-else")),
        ),
        (
            "signed by another key",
            identity::sign(
                &identity::claims(subject, false),
                &identity::signing_key(9),
                KID,
            ),
        ),
        (
            "unknown key id",
            identity::sign(&identity::claims(subject, false), &key, "no-such-kid"),
        ),
        ("alg none", identity::unsigned_token(subject)),
        ("truncated", good[..good.len() - 12].to_owned()),
        ("not a JWT", "not-a-jwt".to_owned()),
    ]
}

fn assert_challenge(r: &Reply, expected: &str, what: &str) {
    assert_eq!(r.status, 401, "{what}: {}", r.text);
    assert_eq!(
        r.header("www-authenticate").as_deref(),
        Some(expected),
        "{what}: {r:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_order_route_refuses_missing_and_bad_tokens() {
    let sys = ComposerSystem::start_with(false).await;
    sys.put_product("lamp", &product("Lamp", 2500, 10)).await;
    let placed = sys
        .composer_for("alice")
        .post(
            "/v1/orders",
            &json!({"customer_id": "alice", "items": items(&[("lamp", 1)])}),
        )
        .await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    let id = id_of(&placed.body);
    sys.reset_counts();

    for (method, path, body) in protected_routes(&id, "alice") {
        let r = sys
            .composer_with(None)
            .send(method.clone(), &path, body.as_ref(), &[])
            .await;
        assert_challenge(&r, "Bearer", &format!("{method} {path} without a token"));
        assert_eq!(r.code(), "unauthorized");
        for (what, token) in bad_tokens("alice") {
            let r = sys
                .composer_with(None)
                .send(
                    method.clone(),
                    &path,
                    body.as_ref(),
                    &[("authorization", &format!("Bearer {token}"))],
                )
                .await;
            assert_challenge(
                &r,
                "Bearer error=\"invalid_token\"",
                &format!("{method} {path} with a token {what}"),
            );
            assert_eq!(r.code(), "invalid_token", "{what}");
        }
    }
    // Nothing reached order-node, nothing changed.
    assert_eq!(sys.orders_proxy.total(), 0);
    assert_eq!(sys.product("lamp").await["stock"], 9);
    assert_eq!(sys.order(&id).await.body["status"], "confirmed");

    // Search and health stay open to anyone.
    let anonymous = sys.composer_with(None);
    let search = anonymous.get("/v1/search?q=lamp").await;
    assert_eq!(search.status, 200, "{}", search.text);
    assert_eq!(anonymous.get("/healthz").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_see_and_change_only_their_own_orders() {
    let sys = ComposerSystem::start_with(false).await;
    sys.put_product("lamp", &product("Lamp", 2500, 20)).await;
    let alice = sys.composer_for("alice");
    let bob = sys.composer_for("bob");

    // Without a customer_id the order is the token's subject's.
    let placed = alice
        .post("/v1/orders", &json!({"items": items(&[("lamp", 2)])}))
        .await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    assert_eq!(placed.body["customer_id"], "alice");
    let id = id_of(&placed.body);

    // Someone else's order reads exactly like one that does not exist.
    let missing = bob.get("/v1/order-views/no-such-order").await;
    assert_eq!(missing.status, 404, "{}", missing.text);
    let theirs = bob.get(&format!("/v1/order-views/{id}")).await;
    assert_eq!(
        (theirs.status, theirs.body["error"]["code"].clone()),
        (missing.status, missing.body["error"]["code"].clone()),
        "{}",
        theirs.text
    );
    let page = bob.get("/v1/customers/alice/order-views").await;
    assert_eq!(page.status, 404, "{}", page.text);
    let cancel = bob
        .post(&format!("/v1/orders/{id}/cancel"), &json!({}))
        .await;
    assert_eq!(cancel.status, 404, "{}", cancel.text);
    assert_eq!(sys.order(&id).await.body["status"], "confirmed");
    // Placing in someone else's name is forbidden, and nothing is stored.
    let forged = bob
        .post(
            "/v1/orders",
            &json!({"customer_id": "alice", "items": items(&[("lamp", 1)])}),
        )
        .await;
    assert_eq!(
        (forged.status.as_u16(), forged.code()),
        (403, "forbidden"),
        "{}",
        forged.text
    );
    assert_eq!(sys.product("lamp").await["stock"], 18);

    // Staff read anyone's orders.
    let staff = sys.composer();
    let view = staff.get(&format!("/v1/order-views/{id}")).await;
    assert_eq!(view.status, 200, "{}", view.text);
    let page = staff.get("/v1/customers/alice/order-views").await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_eq!(page.body["views"].as_array().unwrap().len(), 1);

    // The owner reads and cancels its own order.
    let own = alice.get(&format!("/v1/order-views/{id}")).await;
    assert_eq!(own.status, 200, "{}", own.text);
    let own_page = alice.get("/v1/customers/alice/order-views").await;
    assert_eq!(own_page.status, 200, "{}", own_page.text);
    let cancelled = alice
        .post(&format!("/v1/orders/{id}/cancel"), &json!({}))
        .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.text);
    assert_eq!(cancelled.body["status"], "cancelled");
    assert_eq!(sys.product("lamp").await["stock"], 20);

    // order-node's audit trail names the end user of both writes, and the composer as the
    // caller that vouched for it; bob's refused attempts left nothing.
    let audit = sys.orders_operator().get("/v1/admin/audit?limit=10").await;
    assert_eq!(audit.status, 200, "{}", audit.text);
    let entries: Vec<(String, String, String, String)> = audit.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or("").to_owned(),
                e["target"].as_str().unwrap_or("").to_owned(),
                e["caller"].as_str().unwrap_or("").to_owned(),
                e["end_user"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let entry = |action: &str| {
        (
            action.into(),
            id.clone(),
            "edge-composer".into(),
            "alice".into(),
        )
    };
    assert_eq!(
        entries,
        vec![entry("order.cancel"), entry("order.place")],
        "{}",
        audit.text
    );
    // The catalog's trail names order-node as the caller of the reservation and its release,
    // and its feed carries the caller of each change.
    let catalog_audit = sys
        .catalog
        .as_role("operator")
        .get("/v1/admin/audit?limit=3")
        .await;
    assert_eq!(catalog_audit.status, 200, "{}", catalog_audit.text);
    let newest = &catalog_audit.body["entries"][0];
    assert_eq!(
        (
            newest["action"].as_str(),
            newest["target"].as_str(),
            newest["caller"].as_str()
        ),
        (
            Some("reservation.release"),
            Some(id.as_str()),
            Some("order-node")
        ),
        "{}",
        catalog_audit.text
    );
    let feed = sys
        .catalog
        .as_role("search-node")
        .get("/v1/events?after=0&limit=10")
        .await;
    assert_eq!(feed.status, 200, "{}", feed.text);
    let lamp = feed.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["product_id"] == "lamp")
        .cloned()
        .unwrap_or_else(|| panic!("no lamp event in {}", feed.text));
    assert_eq!(lamp["caller"], "order-node", "{lamp}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_are_per_end_user_and_only_the_composer_names_one() {
    let sys = ComposerSystem::start_with(false).await;
    sys.put_product("lamp", &product("Lamp", 2500, 20)).await;
    let body = json!({"items": items(&[("lamp", 1)])});
    let place = |who: &str| {
        let client = sys.composer_for(who);
        let body = body.clone();
        async move {
            client
                .send(
                    Method::POST,
                    "/v1/orders",
                    Some(&body),
                    &[("idempotency-key", "same-key-for-both")],
                )
                .await
        }
    };
    let a = place("alice").await;
    let b = place("bob").await;
    assert_eq!(
        (a.status.as_u16(), b.status.as_u16()),
        (201, 201),
        "{} / {}",
        a.text,
        b.text
    );
    assert_ne!(id_of(&a.body), id_of(&b.body));
    assert_eq!(a.body["customer_id"], "alice");
    assert_eq!(b.body["customer_id"], "bob");
    // Each one's retry is its own order again.
    let again = place("alice").await;
    assert_eq!(id_of(&again.body), id_of(&a.body));
    assert_eq!(sys.product("lamp").await["stock"], 18);

    // order-node takes X-End-User only from a caller holding orders:on-behalf.
    let direct = json!({"customer_id": "alice", "items": items(&[("lamp", 1)])});
    let shop = sys
        .orders_shop()
        .send(
            Method::POST,
            "/v1/orders",
            Some(&direct),
            &[("x-end-user", "alice")],
        )
        .await;
    assert_eq!(shop.status, 403, "{}", shop.text);
    let cancel = sys
        .orders_shop()
        .send(
            Method::POST,
            &format!("/v1/orders/{}/cancel", id_of(&a.body)),
            None,
            &[("x-end-user", "alice")],
        )
        .await;
    assert_eq!(cancel.status, 403, "{}", cancel.text);
    // The composer's own token cannot place for anyone but the end user it names.
    let composer = sys
        .orders
        .client(Some(sys.order_callers.token("edge-composer")));
    let mismatch = composer
        .send(
            Method::POST,
            "/v1/orders",
            Some(&direct),
            &[("x-end-user", "bob")],
        )
        .await;
    assert_eq!(mismatch.status, 403, "{}", mismatch.text);
    assert_eq!(sys.product("lamp").await["stock"], 18);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotated_out_of_the_jwks_is_refused_after_the_change() {
    let mut sys = ComposerSystem::start_with(false).await;
    let old = identity::token("alice");
    let page = "/v1/customers/alice/order-views";
    let r = sys.composer_with(Some(old.clone())).get(page).await;
    assert_eq!(r.status, 200, "{}", r.text);

    // The issuer rotates: the new set holds only the new key.
    let new_key = identity::signing_key(2);
    let jwks = identity::jwks_of(&[("test-key-2", &new_key)]);
    let vars = sys.host_vars(identity::vars_for(&jwks));
    let log = sys.dir.path().join("edge-host-rotated.log");
    sys.host = EdgeHost::start(&composer_wasm(), &vars, &log).await;

    let r = sys.composer_with(Some(old)).get(page).await;
    assert_challenge(&r, "Bearer error=\"invalid_token\"", "a rotated-out key");
    let fresh = identity::sign(&identity::claims("alice", false), &new_key, "test-key-2");
    let r = sys.composer_with(Some(fresh)).get(page).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // The audience is still checked with the new keys.
    let mut claims = identity::claims("alice", false);
    claims["aud"] = json!(format!("{AUDIENCE}-other"));
    let r = sys
        .composer_with(Some(identity::sign(&claims, &new_key, "test-key-2")))
        .get(page)
        .await;
    assert_challenge(&r, "Bearer error=\"invalid_token\"", "another audience");
}
