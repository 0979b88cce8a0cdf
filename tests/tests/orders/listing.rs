use std::collections::HashSet;

use serde_json::json;
use system_tests::OrderSystem;

use crate::id_of;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customers_orders_page_newest_first_and_the_cursor_walk_is_exact() {
    let sys = OrderSystem::start().await;
    sys.seed(&[("a", "A", 100, 1000)]).await;
    let mut mine = Vec::new();
    let mut theirs = Vec::new();
    for i in 0..25u32 {
        mine.push(id_of(&sys.place_confirmed("c1", &[("a", 1 + i % 3)]).await));
        if i % 5 == 0 {
            theirs.push(id_of(&sys.place_confirmed("c2", &[("a", 1)]).await));
        }
    }
    let newest_first: Vec<String> = mine.iter().rev().cloned().collect();
    let client = sys.orders();

    let first = client.get("/v1/orders?customer_id=c1&limit=10").await;
    assert_eq!(first.status, 200, "{}", first.text);
    let ids = |page: &serde_json::Value| -> Vec<String> {
        page["orders"]
            .as_array()
            .unwrap_or_else(|| panic!("no orders in {page}"))
            .iter()
            .map(id_of)
            .collect()
    };
    assert_eq!(ids(&first.body), newest_first[..10]);
    let mut cursor = first.body["next_cursor"]
        .as_str()
        .expect("a next_cursor after a full page")
        .to_owned();

    // An order placed mid-walk is newer than the cursor: it neither shifts nor repeats pages.
    let newcomer = id_of(&sys.place_confirmed("c1", &[("a", 1)]).await);
    let mut walked = ids(&first.body);
    let mut pages = vec![first.body.clone()];
    for _ in 0..10 {
        let page = client
            .get(&format!(
                "/v1/orders?customer_id=c1&limit=10&cursor={cursor}"
            ))
            .await;
        assert_eq!(page.status, 200, "{}", page.text);
        walked.extend(ids(&page.body));
        pages.push(page.body.clone());
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    assert_eq!(
        pages.iter().map(|p| ids(p).len()).collect::<Vec<_>>(),
        [10, 10, 5]
    );
    assert_eq!(
        walked, newest_first,
        "every order exactly once, newest first"
    );
    assert!(!walked.contains(&newcomer));
    for page in &pages {
        for order in page["orders"].as_array().unwrap() {
            assert_eq!(order["customer_id"], "c1");
        }
    }

    // Default page size 20; a large page holds everything, without a cursor.
    let default = client.get("/v1/orders?customer_id=c1").await;
    assert_eq!(ids(&default.body).len(), 20);
    assert!(default.body["next_cursor"].is_string());
    let all = client.get("/v1/orders?customer_id=c1&limit=200").await;
    assert_eq!(ids(&all.body).len(), 26);
    assert_eq!(ids(&all.body)[0], newcomer);
    assert!(all.body.get("next_cursor").is_none_or(|c| c.is_null()));

    let other = sys.customer_orders("c2", 2).await;
    let other_ids: Vec<String> = other.iter().map(id_of).collect();
    assert_eq!(other_ids, theirs.iter().rev().cloned().collect::<Vec<_>>());
    let none = client.get("/v1/orders?customer_id=nobody").await;
    assert_eq!(none.status, 200, "{}", none.text);
    assert_eq!(none.body["orders"], json!([]));
    assert!(none.body.get("next_cursor").is_none_or(|c| c.is_null()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_read_by_ids_answers_found_and_missing() {
    let sys = OrderSystem::start().await;
    sys.seed(&[("a", "A", 100, 10), ("b", "B", 100, 0)]).await;
    let one = sys.place_confirmed("vic", &[("a", 1)]).await;
    let two = sys.place_confirmed("wes", &[("a", 2)]).await;
    let rejected = sys.place("vic", &[("b", 1)]).await;
    assert_eq!(rejected.status, 409, "{}", rejected.text);
    let rejected_id = rejected
        .header("location")
        .unwrap()
        .trim_start_matches("/v1/orders/")
        .to_owned();
    let (one, two) = (id_of(&one), id_of(&two));

    let batch = sys
        .orders()
        .get(&format!(
            "/v1/orders?ids={two},nope-1,{rejected_id},{one},nope-2"
        ))
        .await;
    assert_eq!(batch.status, 200, "{}", batch.text);
    let found: Vec<String> = batch.body["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(found, [two.clone(), rejected_id.clone(), one.clone()]);
    assert_eq!(batch.body["missing"], json!(["nope-1", "nope-2"]));
    assert_eq!(batch.body["orders"][1]["status"], "rejected");
    assert_eq!(batch.body["orders"][0]["lines"][0]["qty"], 2);

    let unique: HashSet<&str> = [one.as_str(), two.as_str(), rejected_id.as_str()].into();
    assert_eq!(unique.len(), 3);
    let none = sys.orders().get("/v1/orders?ids=nope-3").await;
    assert_eq!(none.body["orders"], json!([]));
    assert_eq!(none.body["missing"], json!(["nope-3"]));
}
