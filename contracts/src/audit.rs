//! The audit trail every node that takes writes keeps of them: `GET /v1/admin/audit`.

use serde::{Deserialize, Serialize};

/// Entries answered when `limit` is not given.
pub const DEFAULT_AUDIT_PAGE: usize = 100;

/// Most entries one request may ask for.
pub const MAX_AUDIT_PAGE: usize = 1000;

/// One write, as the node recorded it in the same transaction as the write itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the node's audit trail, strictly increasing.
    pub seq: u64,
    /// When, RFC 3339 UTC.
    pub at: String,
    /// The authenticated caller (its name in the node's callers file).
    pub caller: String,
    /// The end user the caller acted for, when it said so with the right scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_user: Option<String>,
    /// What was done, e.g. `order.place`, `order.cancel`, `product.put`, `stock.reserve`.
    pub action: String,
    /// What it was done to: an order id, a product id, a reservation id.
    pub target: String,
}

/// Answer of `GET /v1/admin/audit?limit=N`: the newest entries first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    /// Newest first.
    pub entries: Vec<AuditEntry>,
}
