use serde_json::json;
use system_tests::{CatalogNode, product};

#[tokio::test]
async fn create_read_replace_patch_delete() {
    let cat = CatalogNode::start().await;
    let admin = cat.as_role("admin");

    let created = admin
        .put("/v1/products/skillet-1", &product("Skillet", 2999, 5))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(
        created.header("location").unwrap(),
        "/v1/products/skillet-1"
    );
    assert_eq!(created.header("etag").unwrap(), "\"1\"");
    let seq1 = created.seq();
    assert_eq!(created.body["name"], "Skillet");
    assert_eq!(created.body["price_minor"], 2999);
    assert_eq!(created.body["updated_seq"], seq1);

    let got = cat.as_role("reader").get("/v1/products/skillet-1").await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, created.body);

    let replaced = admin
        .put("/v1/products/skillet-1", &product("Skillet XL", 3999, 7))
        .await;
    assert_eq!(replaced.status, 200);
    assert_eq!(replaced.body["version"], 2);
    assert!(replaced.seq() > seq1);

    // PATCH needs If-Match with the current version.
    let patch = json!({"price_minor": 3499});
    let no_match = admin.patch("/v1/products/skillet-1", &patch).await;
    assert_eq!(
        (no_match.status.as_u16(), no_match.code()),
        (428, "precondition_required")
    );
    let stale = admin
        .send(
            reqwest::Method::PATCH,
            "/v1/products/skillet-1",
            Some(&patch),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(
        (stale.status.as_u16(), stale.code()),
        (412, "version_mismatch")
    );
    let patched = admin
        .send(
            reqwest::Method::PATCH,
            "/v1/products/skillet-1",
            Some(&patch),
            &[("if-match", "\"2\"")],
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(patched.body["price_minor"], 3499);
    assert_eq!(patched.body["name"], "Skillet XL");
    assert_eq!(patched.body["stock"], 7);
    assert_eq!(patched.body["version"], 3);

    let deleted = admin.delete("/v1/products/skillet-1").await;
    assert_eq!(deleted.status, 204);
    assert!(deleted.seq() > patched.seq());
    assert_eq!(
        admin.get("/v1/products/skillet-1").await.code(),
        "product_not_found"
    );
    let again = admin.delete("/v1/products/skillet-1").await;
    assert_eq!(again.status, 404);
    let missing_patch = admin
        .send(
            reqwest::Method::PATCH,
            "/v1/products/nope",
            Some(&patch),
            &[("if-match", "*")],
        )
        .await;
    assert_eq!(missing_patch.status, 404);
}

#[tokio::test]
async fn batch_reads_keep_request_order_and_name_the_missing() {
    let cat = CatalogNode::start().await;
    let admin = cat.as_role("admin");
    for id in ["a", "b", "c"] {
        assert_eq!(
            admin
                .put(&format!("/v1/products/{id}"), &product(id, 100, 1))
                .await
                .status,
            201
        );
    }
    let reader = cat.as_role("reader");
    let res = reader.get("/v1/products?ids=c,x,a,c,y,a").await;
    assert_eq!(res.status, 200, "{}", res.text);
    let ids: Vec<&str> = res.body["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["c", "a"]);
    assert_eq!(res.body["missing"], json!(["x", "y"]));

    let posted = reader
        .post("/v1/products:batchGet", &json!({"ids": ["b", "b", "zz"]}))
        .await;
    assert_eq!(posted.status, 200, "{}", posted.text);
    assert_eq!(posted.body["products"].as_array().unwrap().len(), 1);
    assert_eq!(posted.body["missing"], json!(["zz"]));

    // The documented maximum is 1000 ids.
    let ok: Vec<String> = (0..1000).map(|i| format!("id-{i}")).collect();
    let at_limit = reader
        .post("/v1/products:batchGet", &json!({"ids": ok}))
        .await;
    assert_eq!(at_limit.status, 200);
    assert_eq!(at_limit.body["missing"].as_array().unwrap().len(), 1000);
    let too_many: Vec<String> = (0..1001).map(|i| format!("id-{i}")).collect();
    let over = reader
        .post("/v1/products:batchGet", &json!({"ids": too_many}))
        .await;
    assert_eq!(
        (over.status.as_u16(), over.code()),
        (400, "batch_too_large")
    );
    let over_get = reader
        .get(&format!("/v1/products?ids={}", too_many.join(",")))
        .await;
    assert_eq!(
        (over_get.status.as_u16(), over_get.code()),
        (400, "batch_too_large")
    );
}

#[tokio::test]
async fn paging_walks_every_product_in_id_order() {
    let cat = CatalogNode::start().await;
    let admin = cat.as_role("admin");
    let mut expected: Vec<String> = (0..250).map(|i| format!("p-{i:04}")).collect();
    for chunk in expected.chunks(50) {
        let puts = chunk.iter().map(|id| {
            let admin = admin.clone();
            let id = id.clone();
            async move {
                admin
                    .put(&format!("/v1/products/{id}"), &product(&id, 100, 1))
                    .await
                    .status
            }
        });
        for status in futures::future::join_all(puts).await {
            assert_eq!(status, 201);
        }
    }
    expected.sort();
    let reader = cat.as_role("reader");
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &after {
            Some(a) => format!("/v1/products?after={a}&limit=100"),
            None => "/v1/products?limit=100".to_owned(),
        };
        let page = reader.get(&path).await;
        assert_eq!(page.status, 200, "{}", page.text);
        assert!(page.body["head_seq"].as_u64().unwrap() >= 250);
        pages += 1;
        for p in page.body["products"].as_array().unwrap() {
            seen.push(p["id"].as_str().unwrap().to_owned());
        }
        match page.body["next_after"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn stock_changes_never_go_below_zero() {
    let cat = CatalogNode::start().await;
    let admin = cat.as_role("admin");
    admin.put("/v1/products/p", &product("P", 100, 3)).await;
    let down = admin
        .patch("/v1/products/p/stock", &json!({"delta": -2}))
        .await;
    assert_eq!(down.status, 200, "{}", down.text);
    assert_eq!(down.body["stock"], 1);
    let too_far = admin
        .patch("/v1/products/p/stock", &json!({"delta": -2}))
        .await;
    assert_eq!(
        (too_far.status.as_u16(), too_far.code()),
        (409, "insufficient_stock")
    );
    assert_eq!(too_far.body["error"]["short_items"][0]["available"], 1);
    let up = admin
        .patch("/v1/products/p/stock", &json!({"delta": 10}))
        .await;
    assert_eq!(up.body["stock"], 11);
    let zero = admin
        .patch("/v1/products/p/stock", &json!({"delta": 0}))
        .await;
    assert_eq!(zero.status, 400);
    let missing = admin
        .patch("/v1/products/q/stock", &json!({"delta": 1}))
        .await;
    assert_eq!(missing.status, 404);
    assert_eq!(admin.get("/v1/products/p").await.body["stock"], 11);
}
