//! The catalog, as order-node sees it: an HTTP API reached with a pooled client and a
//! bearer token of order-node's own (scopes `catalog:read` and `catalog:reserve`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use contracts::catalog::{
    BatchGetRequest, BatchGetResponse, Reservation, ReservationItem, ReservationRequest,
    ReservationStatus,
};
use contracts::{Code, ErrorBody, ShortItem};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use reqwest::StatusCode;
use thiserror::Error;

/// The catalog could not give an answer.
#[derive(Debug, Error)]
pub enum CatalogError {
    /// Not reachable, timed out, or answered 5xx.
    #[error("catalog unavailable: {0}")]
    Unavailable(String),
    /// Answered something this client does not expect (a bug or a misconfiguration, e.g. a
    /// token without the needed scope).
    #[error("catalog answered {status}: {body}")]
    Unexpected {
        /// The status.
        status: u16,
        /// The body, for the log.
        body: String,
    },
}

/// What the catalog said to a reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReserveReply {
    /// The stock is held (now or by an earlier identical request).
    Held,
    /// The reservation exists but was released; it will never hold again.
    Released,
    /// Not enough stock; nothing held.
    Insufficient(Vec<ShortItem>),
    /// Products no longer exist; nothing held.
    Unknown(Vec<String>),
}

/// What the catalog said to a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseReply {
    /// Released (now or before).
    Released,
    /// The catalog never held stock for this id.
    NotFound,
}

/// Labels of the catalog-call counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    op: &'static str,
    outcome: &'static str,
}

/// Client of catalog-node: reservations go to the primary, reads are spread over the read
/// URLs (the catalog's read replicas) in turn, each failing over to the next.
#[derive(Clone)]
pub struct CatalogClient {
    http: reqwest::Client,
    base: String,
    reads: Arc<[String]>,
    next_read: Arc<AtomicUsize>,
    token: String,
    calls: Family<CallLabels, Counter>,
}

impl CatalogClient {
    /// A client for `base` presenting `token`, giving up on a call after `timeout`.
    pub fn new(base: &str, token: &str, timeout: Duration) -> Result<Self, CatalogError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(2)))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| CatalogError::Unavailable(e.to_string()))?;
        let base = base.trim_end_matches('/').to_owned();
        Ok(Self {
            http,
            reads: Arc::from(vec![base.clone()]),
            next_read: Arc::new(AtomicUsize::new(0)),
            base,
            token: token.to_owned(),
            calls: Family::default(),
        })
    }

    /// The same client reading from `reads` (base URLs of catalog nodes, typically read
    /// replicas); with none, reads stay on the primary.
    pub fn reading_from(mut self, reads: &[String]) -> Self {
        let reads: Vec<String> = reads
            .iter()
            .map(|url| url.trim().trim_end_matches('/').to_owned())
            .filter(|url| !url.is_empty())
            .collect();
        if !reads.is_empty() {
            self.reads = Arc::from(reads);
        }
        self
    }

    /// Calls to the catalog by operation and outcome, for `/metrics`.
    pub fn calls_metric(&self) -> Family<CallLabels, Counter> {
        self.calls.clone()
    }

    fn count(&self, op: &'static str, outcome: &'static str) {
        self.calls.get_or_create(&CallLabels { op, outcome }).inc();
    }

    async fn send(
        &self,
        op: &'static str,
        request: reqwest::RequestBuilder,
    ) -> Result<(StatusCode, bytes_body::Body), CatalogError> {
        let sent = chassis::trace::send(request.bearer_auth(&self.token)).await;
        let response = sent.map_err(|e| {
            self.count(op, "unreachable");
            CatalogError::Unavailable(e.to_string())
        })?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| {
            self.count(op, "unreachable");
            CatalogError::Unavailable(e.to_string())
        })?;
        if status.is_server_error() {
            self.count(op, "server_error");
            return Err(CatalogError::Unavailable(format!(
                "{status}: {}",
                String::from_utf8_lossy(&body)
            )));
        }
        self.count(op, "answered");
        Ok((status, bytes_body::Body(body.to_vec())))
    }

    /// Reads products in ONE call, whatever their number (at most the catalog's batch limit).
    ///
    /// Each read starts at the next read URL in turn; one that is unavailable (down, 5xx,
    /// or a replica not caught up) passes the read to the next, and when every one has
    /// failed the primary answers it.
    pub async fn batch_get(&self, ids: &[String]) -> Result<BatchGetResponse, CatalogError> {
        let first = self.next_read.fetch_add(1, Ordering::Relaxed);
        let n = self.reads.len();
        let mut failed = None;
        for i in 0..n {
            match self.batch_get_at(&self.reads[(first + i) % n], ids).await {
                Err(CatalogError::Unavailable(why)) => failed = Some(why),
                answered => return answered,
            }
        }
        match failed {
            Some(_) if !self.reads.contains(&self.base) => self.batch_get_at(&self.base, ids).await,
            Some(why) => Err(CatalogError::Unavailable(why)),
            None => Err(CatalogError::Unavailable(
                "no catalog URL to read from".into(),
            )),
        }
    }

    async fn batch_get_at(
        &self,
        base: &str,
        ids: &[String],
    ) -> Result<BatchGetResponse, CatalogError> {
        let request = self
            .http
            .post(format!("{base}/v1/products:batchGet"))
            .json(&BatchGetRequest { ids: ids.to_vec() });
        let (status, body) = self.send("batch_get", request).await?;
        match status {
            StatusCode::OK => body.json(status),
            _ => Err(body.unexpected(status)),
        }
    }

    /// Holds stock for an order; idempotent by the order id.
    pub async fn reserve(
        &self,
        order_id: &str,
        items: Vec<ReservationItem>,
    ) -> Result<ReserveReply, CatalogError> {
        let request = self
            .http
            .post(format!("{}/v1/reservations", self.base))
            .json(&ReservationRequest {
                id: order_id.to_owned(),
                items,
            });
        let (status, body) = self.send("reserve", request).await?;
        match status {
            StatusCode::OK | StatusCode::CREATED => {
                let reservation: Reservation = body.json(status)?;
                Ok(match reservation.status {
                    ReservationStatus::Held => ReserveReply::Held,
                    ReservationStatus::Released => ReserveReply::Released,
                })
            }
            StatusCode::CONFLICT | StatusCode::UNPROCESSABLE_ENTITY => {
                let error: ErrorBody = body.json(status)?;
                match error.error.code {
                    Code::InsufficientStock => {
                        Ok(ReserveReply::Insufficient(error.error.short_items))
                    }
                    Code::UnknownProducts => Ok(ReserveReply::Unknown(error.error.missing_ids)),
                    // A refusal this client does not act on (a reservation id reused with
                    // other items, a code added later): not a reply the saga can settle on.
                    _ => Err(body.unexpected(status)),
                }
            }
            _ => Err(body.unexpected(status)),
        }
    }

    /// Releases an order's stock; idempotent.
    pub async fn release(&self, order_id: &str) -> Result<ReleaseReply, CatalogError> {
        let request = self
            .http
            .delete(format!("{}/v1/reservations/{order_id}", self.base));
        let (status, body) = self.send("release", request).await?;
        match status {
            StatusCode::OK => Ok(ReleaseReply::Released),
            // Only the catalog's word that it never held stock for the order lets the cancel
            // finish; any other 404 (a wrong --catalog-url, say) must not pass for it.
            StatusCode::NOT_FOUND if body.code() == Some(Code::ReservationNotFound) => {
                Ok(ReleaseReply::NotFound)
            }
            _ => Err(body.unexpected(status)),
        }
    }
}

mod bytes_body {
    use contracts::{Code, ErrorBody};
    use reqwest::StatusCode;
    use serde::de::DeserializeOwned;

    use super::CatalogError;

    /// A response body.
    pub struct Body(pub Vec<u8>);

    impl Body {
        pub fn json<T: DeserializeOwned>(&self, status: StatusCode) -> Result<T, CatalogError> {
            serde_json::from_slice(&self.0).map_err(|_| self.unexpected(status))
        }

        /// The code of an error body; `None` when the body is not one.
        pub fn code(&self) -> Option<Code> {
            serde_json::from_slice::<ErrorBody>(&self.0)
                .ok()
                .map(|b| b.error.code)
        }

        pub fn unexpected(&self, status: StatusCode) -> CatalogError {
            let body = String::from_utf8_lossy(&self.0).chars().take(500).collect();
            tracing::error!(%status, %body, "unexpected answer from the catalog");
            CatalogError::Unexpected {
                status: status.as_u16(),
                body,
            }
        }
    }
}
