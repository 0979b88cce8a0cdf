//! The core for JavaScript hosts (wasm-bindgen): JSON in, JSON out, the same bytes as the
//! native core.

use wasm_bindgen::prelude::*;

/// Composes an order view from an order and the catalog's batch answers, all as JSON.
#[wasm_bindgen(js_name = orderView)]
pub fn order_view(order: &str, batches: Vec<String>) -> Result<String, JsError> {
    let batches: Vec<&str> = batches.iter().map(String::as_str).collect();
    crate::order_view_json(order, &batches).map_err(|e| JsError::new(&e.to_string()))
}

/// Plans the product lookups of an order: the batches of de-duplicated ids, as JSON.
#[wasm_bindgen(js_name = planOrder)]
pub fn plan_order(order: &str, max_batch: usize) -> Result<String, JsError> {
    let order: contracts::orders::Order =
        serde_json::from_str(order).map_err(|e| JsError::new(&e.to_string()))?;
    let plan = crate::plan_products(
        order.lines.iter().map(|l| l.product_id.as_str()),
        max_batch,
        true,
    );
    serde_json::to_string(&plan.batches).map_err(|e| JsError::new(&e.to_string()))
}
