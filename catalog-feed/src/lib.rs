//! The catalog's change feed and product pages, as the catalog's followers read them
//! (search-node and catalog read replicas, each with a token holding `catalog:read` and
//! `catalog:feed`).

use std::time::Duration;

use contracts::catalog::{EventsPage, ProductPage};
use contracts::{Code, ErrorBody};
use reqwest::StatusCode;
use thiserror::Error;

/// The catalog did not give a usable answer.
#[derive(Debug, Error)]
pub enum FeedError {
    /// Our cursor is older than the feed's retention: rebuild from a snapshot.
    #[error("feed cursor expired")]
    Expired,
    /// Unreachable, timed out, or an unexpected answer.
    #[error("catalog unavailable: {0}")]
    Unavailable(String),
}

/// How long past its `wait_ms` a long-poll may take before the catalog counts as silent. The
/// catalog answers by `wait_ms` at the latest, so this only covers a page's transfer; a
/// larger slack delays noticing a partition (and resuming after it heals) by as much.
pub const LONG_POLL_SLACK: Duration = Duration::from_secs(2);

/// Client of the catalog's feed.
#[derive(Clone)]
pub struct FeedClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl FeedClient {
    /// A client for `base` presenting `token`.
    pub fn new(base: &str, token: &str) -> Result<Self, FeedError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| FeedError::Unavailable(e.to_string()))?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
        })
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        timeout: Duration,
    ) -> Result<T, FeedError> {
        let request = self.http.get(format!("{}{path}", self.base));
        let response = chassis::trace::send(request.bearer_auth(&self.token).timeout(timeout))
            .await
            .map_err(|e| FeedError::Unavailable(e.to_string()))?;
        match response.status() {
            StatusCode::OK => response
                .json()
                .await
                .map_err(|e| FeedError::Unavailable(e.to_string())),
            status => {
                let body = response.text().await.unwrap_or_default();
                let code = serde_json::from_str::<ErrorBody>(&body).map(|b| b.error.code);
                match (status, code) {
                    (StatusCode::GONE, Ok(Code::CursorExpired)) => Err(FeedError::Expired),
                    _ => Err(FeedError::Unavailable(format!("{status}: {body}"))),
                }
            }
        }
    }

    /// Events after `after`, long-polling up to `wait`.
    pub async fn events(
        &self,
        after: u64,
        limit: usize,
        wait: Duration,
    ) -> Result<EventsPage, FeedError> {
        let wait_ms = wait.as_millis();
        self.get(
            &format!("/v1/events?after={after}&limit={limit}&wait_ms={wait_ms}"),
            wait + LONG_POLL_SLACK,
        )
        .await
    }

    /// A page of products in id order.
    pub async fn products(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<ProductPage, FeedError> {
        let path = match after {
            Some(a) => format!("/v1/products?after={a}&limit={limit}"),
            None => format!("/v1/products?limit={limit}"),
        };
        self.get(&path, Duration::from_secs(30)).await
    }
}
