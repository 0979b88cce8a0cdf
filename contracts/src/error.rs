//! The error body every node answers with: `{"error": {"code": "...", "message": "..."}}`.

use serde::{Deserialize, Serialize};

/// The JSON body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error itself.
    pub error: ErrorDetail,
}

/// A machine-readable code, a human message, and the details some codes carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable, snake_case code that clients branch on (e.g. `insufficient_stock`).
    pub code: String,
    /// Human-readable explanation; wording may change.
    pub message: String,
    /// The request field at fault, for validation errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Ids named by the request that do not exist (422).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_ids: Vec<String>,
    /// Items that could not be served from stock (409 `insufficient_stock`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub short_items: Vec<ShortItem>,
}

/// One line of a stock request that the stock cannot cover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShortItem {
    /// The product that is short.
    pub product_id: String,
    /// Units the request asked for.
    pub requested: u64,
    /// Units available when the request was evaluated.
    pub available: u64,
}
