//! search-node's HTTP API: `GET /v1/search`.

use std::sync::Arc;
use std::time::Duration;

use axum::Json as JsonOut;
use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use chassis::backup::Slot;
use chassis::extract::Query;
use chassis::routes::ApiInfo;
use chassis::{ApiError, Auth, Routes};
use contracts::search::{
    DEFAULT_SEARCH_LIMIT, DEFAULT_SEARCH_WAIT_MS, MAX_QUERY_CHARS, MAX_SEARCH_LIMIT,
    MAX_SEARCH_OFFSET, MAX_SEARCH_WAIT_MS, SearchHit, SearchResponse,
};
use contracts::{Code, validate};
use serde::Deserialize;

use crate::backup::BackupError;
use crate::follower::FeedState;
use crate::index::{IndexError, ProductIndex};

/// What the handlers share.
pub struct Search {
    /// The index.
    pub index: Arc<ProductIndex>,
    /// The follower's state.
    pub state: Arc<FeedState>,
    /// Searches running at once. Each is CPU work on a blocking thread: hundreds of them at
    /// once would only fight over the cores (and starve the accept loop), so the rest wait
    /// their turn here, where waiting costs nothing but the request's own time limit.
    pub running: tokio::sync::Semaphore,
}

impl Search {
    /// The handlers' state over `index` and `state`, running at most twice as many searches
    /// at once as there are cores.
    pub fn new(index: Arc<ProductIndex>, state: Arc<FeedState>) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        Self {
            index,
            state,
            running: tokio::sync::Semaphore::new(cores * 2),
        }
    }
}

/// Largest request body: search takes none.
pub const BODY_LIMIT: usize = 16 * 1024;

/// Title and version of the node's OpenAPI document.
pub const INFO: ApiInfo = ApiInfo {
    title: "search-node",
    version: env!("CARGO_PKG_VERSION"),
};

/// The scopes search-node checks; callers files grant them.
pub mod scopes {
    use chassis::Scope;

    /// Search the product index.
    pub const READ: Scope = Scope::new("search:read");
    /// Operate the node: backups.
    pub const ADMIN: Scope = Scope::new("search:admin");
    /// All of them.
    pub const ALL: &[Scope] = &[READ, ADMIN];
}

/// The `/v1` routes, each behind the scope it needs: the one table the router and the OpenAPI
/// document are built from.
pub fn routes(search: Arc<Search>, auth: &Auth) -> Routes {
    let index = search.index.clone();
    let api = Routes::new(auth)
        .route(Method::GET, "/v1/search", scopes::READ, search_products)
        // A search with min_seq waits for the index to catch up.
        .time_limit(
            "/v1/search",
            Duration::from_millis(MAX_SEARCH_WAIT_MS) + Duration::from_secs(5),
        )
        .with_state(search);
    let admin = Routes::new(auth)
        .route(Method::GET, chassis::backup::ROUTE, scopes::ADMIN, backup)
        .time_limit(chassis::backup::ROUTE, chassis::backup::STAGE_LIMIT)
        .with_state((index, Slot::default()));
    api.merge(admin)
}

/// `GET /v1/admin/backup`: the index's last commit as an archive, streamed.
pub async fn backup(
    State((index, slot)): State<(Arc<ProductIndex>, Slot)>,
) -> Result<Response, ApiError> {
    let permit = slot.take()?;
    let staged = tokio::task::spawn_blocking(move || crate::backup::stage(&index))
        .await
        .map_err(|e| ApiError::internal("staging a backup", &e))?
        .map_err(|e| match e {
            BackupError::NotBootstrapped => ApiError::new(Code::IndexNotReady, e.to_string()),
            other => ApiError::new(Code::BackupFailed, format!("the backup failed: {other}")),
        })?;
    tracing::info!(
        cursor = staged.summary.header.point.value,
        bytes = staged.summary.bytes,
        "backup staged"
    );
    Ok(chassis::backup::respond(staged, permit))
}

/// Query of `GET /v1/search`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    q: String,
    limit: Option<usize>,
    offset: Option<usize>,
    category: Option<String>,
    min_seq: Option<u64>,
    wait_ms: Option<u64>,
}

/// `GET /v1/search?q=…&limit=N&offset=K&category=C&min_seq=S&wait_ms=M`.
pub async fn search_products(
    State(search): State<Arc<Search>>,
    Query(q): Query<SearchQuery>,
) -> Result<JsonOut<SearchResponse>, ApiError> {
    validate::text("q", &q.q, 1, MAX_QUERY_CHARS)?;
    let limit = q.limit.unwrap_or(DEFAULT_SEARCH_LIMIT);
    validate::range("limit", limit, 1, MAX_SEARCH_LIMIT)?;
    let offset = q.offset.unwrap_or(0);
    validate::range("offset", offset, 0, MAX_SEARCH_OFFSET)?;
    if let Some(c) = &q.category {
        validate::category("category", c)?;
    }
    let wait_ms = q.wait_ms.unwrap_or(DEFAULT_SEARCH_WAIT_MS);
    validate::range("wait_ms", wait_ms, 0, MAX_SEARCH_WAIT_MS)?;
    let caught_up = match q.min_seq {
        Some(seq) => {
            search
                .state
                .wait_for(seq, Duration::from_millis(wait_ms))
                .await
        }
        None => true,
    };
    let indexed_seq = search.state.indexed_seq();
    let index = search.index.clone();
    let _turn = search
        .running
        .acquire()
        .await
        .map_err(|e| ApiError::internal("waiting for a search slot", &e))?;
    let (hits, total) = tokio::task::spawn_blocking(move || {
        index.search(&q.q, q.category.as_deref(), limit, offset)
    })
    .await
    .map_err(|e| ApiError::internal("searching", &e))?
    .map_err(|e| match e {
        IndexError::Query(message) => ApiError::new(Code::InvalidQuerySyntax, message),
        other => ApiError::internal("searching", &other),
    })?;
    Ok(JsonOut(SearchResponse {
        hits: hits
            .into_iter()
            .map(|h| SearchHit {
                product_id: h.product_id,
                score: h.score,
                name: h.name,
                category: h.category,
            })
            .collect(),
        total,
        indexed_seq,
        caught_up,
    }))
}
