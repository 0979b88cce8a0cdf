//! Loading the component once and serving each HTTP request with a cheap new instance,
//! within limits: a request body is read only up to its limit before the guest sees it, each
//! instance gets a memory cap and a deadline, and instances beyond a cap are refused rather
//! than queued. Connections are accepted under the same limits as the nodes'.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use contracts::{Code, ErrorBody, ErrorDetail};
use http::{HeaderValue, StatusCode, header};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tracing::Instrument;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{
    Cache, CacheConfig, Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store,
};
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use crate::outbound::{AllowList, Hooks};
use crate::state::State;
use crate::upstream::Upstreams;
use crate::vars::{self, Variables};

/// What one request may cost the host.
#[derive(Debug, Clone, Copy)]
pub struct EdgeLimits {
    /// Largest request body, in bytes.
    pub max_body: usize,
    /// Instances running at once at most.
    pub max_instances: usize,
    /// Linear memory of one instance at most, in bytes.
    pub instance_memory: usize,
    /// Time one instance may run, streaming its answer included.
    pub deadline: Duration,
}

/// Where compiled components are kept between starts. Compiling the composer takes seconds
/// on a small machine; a start with a warm cache takes milliseconds. Entries are keyed by the
/// component's bytes and the engine's settings, so a rebuilt `.wasm` is compiled afresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompileCache {
    /// Compile at every start.
    Off,
    /// wasmtime's per-user cache directory (on Linux `~/.cache/wasmtime`).
    UserDefault,
    /// This directory.
    Dir(PathBuf),
}

impl CompileCache {
    fn open(&self) -> anyhow::Result<Option<Cache>> {
        let mut config = CacheConfig::new();
        match self {
            Self::Off => return Ok(None),
            Self::UserDefault => {}
            Self::Dir(dir) => {
                config.with_directory(dir);
            }
        }
        Cache::new(config)
            .map(Some)
            .map_err(anyhow::Error::from)
            .context("cannot open the compile cache (--no-compile-cache runs without it)")
    }
}

/// Core instances and tables one component instance may hold in the pool: the composer is
/// one module plus the small shim modules the component model adds.
const CORE_PER_COMPONENT: u32 = 16;

/// Linear memories one component instance may hold: the composer's module has one.
const MEMORIES_PER_COMPONENT: u32 = 2;

/// The smallest linear-memory slot: room for any module's initial memory.
const MIN_MEMORY_SLOT: usize = 16 << 20;

/// Slots for every instance the semaphore admits, and some for instances whose permit is
/// already returned while their store is still being dropped.
const SPARE_SLOTS: u32 = 16;

/// The pooling allocator's sizes for `limits`: a slot for each instance edge-host admits,
/// each memory slot as large as the instance cap. A profile of the composer under load showed
/// about a fifth of edge-host's time in the kernel, mapping, faulting in and unmapping each
/// request's fresh linear memory and fiber stack (and in the TLB shootdowns the unmaps
/// cause); the pool reserves them once and reuses them, resetting memory from its image.
fn pool(limits: &EdgeLimits) -> PoolingAllocationConfig {
    let instances = u32::try_from(limits.max_instances.max(1))
        .unwrap_or(u32::MAX)
        .saturating_add(SPARE_SLOTS);
    let cores = instances.saturating_mul(CORE_PER_COMPONENT);
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(instances)
        .total_core_instances(cores)
        .total_tables(cores)
        .total_memories(instances.saturating_mul(MEMORIES_PER_COMPONENT))
        .total_stacks(instances)
        // The store's limiter enforces the cap, and stops the instance with a reason; a slot
        // smaller than a module's initial memory would instead refuse the component at start.
        .max_memory_size(limits.instance_memory.max(MIN_MEMORY_SLOT));
    pool
}

/// How often the engine's epoch advances: the granularity of the instance deadline.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The component, pre-instantiated, and what each instance gets.
pub struct Host {
    pre: ProxyPre<State>,
    variables: Variables,
    allow: AllowList,
    upstreams: Upstreams,
    limits: EdgeLimits,
    instances: Arc<Semaphore>,
}

impl Host {
    /// Compiles (or finds in `cache`) and links the component at `path`.
    pub fn load(
        path: &Path,
        variables: Variables,
        limits: EdgeLimits,
        cache: &CompileCache,
    ) -> anyhow::Result<Self> {
        let mut config = Config::new();
        // A guest stuck in a loop never yields to the host: only an epoch check inside the
        // guest's own code can stop it.
        config.epoch_interruption(true);
        config.cache(cache.open()?);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool(&limits)));
        let engine = Engine::new(&config)?;
        start_epoch_ticker(&engine);
        let component = Component::from_file(&engine, path)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("cannot load the component {}", path.display()))?;
        let mut linker = Linker::<State>::new(&engine);
        // Rust's std in the component imports wasi:cli and friends besides wasi:http.
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        vars::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s)?;
        let pre = ProxyPre::new(linker.instantiate_pre(&component)?)
            .map_err(anyhow::Error::from)
            .context("the component does not export wasi:http/incoming-handler@0.2")?;
        let allow = AllowList::from_urls(variables.upstream_urls());
        Ok(Self {
            pre,
            variables,
            allow,
            upstreams: Upstreams::new(),
            limits,
            instances: Arc::new(Semaphore::new(limits.max_instances.max(1))),
        })
    }

    /// Answers one request within its server span; every failure becomes an answer, never a
    /// dropped connection.
    async fn handle(
        self: Arc<Self>,
        mut request: hyper::Request<Incoming>,
    ) -> Result<hyper::Response<HyperOutgoingBody>, Infallible> {
        let span = chassis::trace::server_span(request.method(), None, request.headers());
        // The composer continues the trace from edge-host's span, the one edge-host exports.
        chassis::trace::inject(&span, request.headers_mut());
        let response = match self.admit(request).instrument(span.clone()).await {
            Ok(response) => response,
            Err(refusal) => refusal.into_response(),
        };
        chassis::trace::record_status(&span, response.status().as_u16());
        Ok(response)
    }

    async fn admit(
        self: Arc<Self>,
        request: hyper::Request<Incoming>,
    ) -> Result<hyper::Response<HyperOutgoingBody>, Refusal> {
        let Ok(permit) = self.instances.clone().try_acquire_owned() else {
            return Err(Refusal::Overloaded);
        };
        let request = self.buffered(request).await?;
        let hooks = Hooks {
            allow: self.allow.clone(),
            upstreams: self.upstreams.clone(),
        };
        let mut store = Store::new(
            self.pre.engine(),
            State::new(self.variables.clone(), hooks, self.limits.instance_memory),
        );
        store.limiter(|state| state.limits());
        let ticks = u64::try_from(self.limits.deadline.as_millis() / EPOCH_TICK.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        store.set_epoch_deadline(ticks);
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let request = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, request)
            .map_err(Refusal::host)?;
        let out = store
            .data_mut()
            .http()
            .new_response_outparam(sender)
            .map_err(Refusal::host)?;
        let pre = self.pre.clone();
        let deadline = self.limits.deadline;
        // The guest may keep running (streaming the body) after it has sent the head; the
        // permit stays with it until it ends, and the deadline bounds it even while it waits
        // on the host.
        // In the request's span: the guest's upstream calls and whatever is logged about
        // them belong to the request.
        let task = tokio::task::spawn(Instrument::in_current_span(async move {
            let run = async {
                let proxy = pre.instantiate_async(&mut store).await?;
                proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, request, out)
                    .await
            };
            let result = tokio::time::timeout(deadline, run).await;
            drop(permit);
            match result {
                Ok(Ok(())) => Ok(()),
                Ok(Err(_)) if store.data().memory_refused() => Err(Refusal::Memory),
                Ok(Err(e)) => Err(Refusal::from_guest(e)),
                Err(_) => Err(Refusal::Deadline),
            }
        }));
        match tokio::time::timeout(deadline, receiver).await {
            Ok(Ok(Ok(response))) => Ok(response),
            Ok(Ok(Err(e))) => Err(Refusal::host(e)),
            Ok(Err(_)) => Err(match task.await {
                Ok(Ok(())) => Refusal::host("the component never set a response"),
                Ok(Err(refusal)) => refusal,
                Err(e) => Refusal::host(e),
            }),
            Err(_) => {
                task.abort();
                Err(Refusal::Deadline)
            }
        }
    }

    /// The request with its body read into memory, refused with 413 past the limit: from its
    /// `Content-Length` before a byte is read, or as soon as a chunked body passes it.
    async fn buffered(
        &self,
        request: hyper::Request<Incoming>,
    ) -> Result<hyper::Request<Full<Bytes>>, Refusal> {
        let limit = self.limits.max_body;
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > u64::try_from(limit).unwrap_or(u64::MAX)) {
            return Err(Refusal::TooLarge(limit));
        }
        let (parts, body) = request.into_parts();
        let bytes = Limited::new(body, limit)
            .collect()
            .await
            .map_err(|e| {
                if e.downcast_ref::<LengthLimitError>().is_some() {
                    Refusal::TooLarge(limit)
                } else {
                    Refusal::BadBody(e.to_string())
                }
            })?
            .to_bytes();
        Ok(hyper::Request::from_parts(parts, Full::new(bytes)))
    }
}

/// Advances the engine's epoch every [`EPOCH_TICK`] for as long as the engine lives.
fn start_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    let spawned = std::thread::Builder::new()
        .name("epoch-ticker".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        });
    if let Err(e) = spawned {
        // Without the ticker the deadline still holds for guests waiting on the host.
        tracing::error!(error = %e, "cannot start the epoch ticker; instance deadlines only bound waits");
    }
}

/// Why the host answered instead of the component.
#[derive(Debug)]
enum Refusal {
    Overloaded,
    TooLarge(usize),
    BadBody(String),
    Deadline,
    Memory,
    Host(String),
}

impl Refusal {
    fn host(error: impl std::fmt::Debug) -> Self {
        Self::Host(format!("{error:?}"))
    }

    fn from_guest(error: wasmtime::Error) -> Self {
        match error.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::Interrupt) => Self::Deadline,
            _ => Self::host(error),
        }
    }

    fn into_response(self) -> hyper::Response<HyperOutgoingBody> {
        let (code, message) = match self {
            Self::Overloaded => (
                Code::Overloaded,
                "the edge is running as many requests as it may; retry shortly".to_owned(),
            ),
            Self::TooLarge(limit) => (
                Code::PayloadTooLarge,
                format!("the body is larger than the {limit} bytes accepted"),
            ),
            Self::BadBody(e) => (
                Code::InvalidBody,
                format!("the request body could not be read: {e}"),
            ),
            Self::Deadline => (
                Code::DeadlineExceeded,
                "the request did not finish within the edge's deadline".to_owned(),
            ),
            Self::Memory => (
                Code::MemoryLimit,
                "the request needed more memory than an instance may have".to_owned(),
            ),
            Self::Host(e) => {
                tracing::error!(error = %e, "the component failed before answering");
                (
                    Code::ComposerFailed,
                    "the composer failed before answering".to_owned(),
                )
            }
        };
        let status = StatusCode::from_u16(code.status()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let body = serde_json::to_vec(&ErrorBody {
            error: ErrorDetail::new(code, message),
        })
        .unwrap_or_default();
        let mut response = hyper::Response::new(
            Full::new(Bytes::from(body))
                .map_err(wasmtime_wasi_http::Error::from)
                .boxed_unsync(),
        );
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        // The host answers before the component read the request's body (or instead of it):
        // the connection is not fit for another request, and the client must know.
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        if status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// Serves `host` on `listener` under the connection limits until `shutdown` resolves.
pub async fn serve(
    host: Host,
    listener: TcpListener,
    limits: &chassis::limits::HttpLimits,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    chassis::server::announce(&listener)?;
    let host = Arc::new(host);
    let service = hyper::service::service_fn(move |request| host.clone().handle(request));
    chassis::conn::serve_connections(
        listener,
        chassis::conn::ConnLimits::from_http(limits),
        service,
        shutdown,
    )
    .await;
    tracing::info!("stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_host_refuses_with_the_codes_and_statuses_it_always_had() {
        let cases = [
            (Refusal::Overloaded, 503, "overloaded"),
            (Refusal::TooLarge(8), 413, "payload_too_large"),
            (Refusal::BadBody("cut".into()), 400, "invalid_body"),
            (Refusal::Deadline, 504, "deadline_exceeded"),
            (Refusal::Memory, 503, "memory_limit"),
            (Refusal::Host("trap".into()), 503, "composer_failed"),
        ];
        for (refusal, status, code) in cases {
            let response = refusal.into_response();
            assert_eq!(response.status().as_u16(), status, "{code}");
            assert_eq!(response.headers()[header::CONNECTION], "close");
            assert_eq!(
                response.headers().contains_key(header::RETRY_AFTER),
                status == 503,
                "{code}"
            );
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(body["error"]["code"], code);
            assert_eq!(
                body.as_object().unwrap().len() + body["error"].as_object().unwrap().len(),
                3,
                "{body}"
            );
        }
    }
}
