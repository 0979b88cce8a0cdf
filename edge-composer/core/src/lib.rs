//! The edge composer's pure core: no I/O, no async runtime.
//!
//! Given the primary records (an order, a page of a customer's orders, search hits) it plans
//! the product lookups — every product id needed anywhere in the response, de-duplicated,
//! split into batches no larger than the catalog's maximum — and, given the batch answers,
//! builds the composed response. It also reads and writes the W3C `traceparent` the composer
//! passes on. The same code runs natively, inside the Spin component, and
//! in JavaScript hosts through wasm-bindgen.

pub mod assemble;
pub mod plan;
pub mod traceparent;

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod js;

pub use assemble::{Lookup, customer_views, order_view, order_view_json, search_view};
pub use plan::{ProductPlan, plan_products};
pub use traceparent::TraceParent;
