//! Loading the component once and serving each HTTP request with a cheap new instance.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use hyper::server::conn::http1;
use tokio::net::TcpListener;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Engine, Store};
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use crate::outbound::{AllowList, Hooks};
use crate::state::State;
use crate::vars::{self, Variables};

/// The component, pre-instantiated, and what each instance gets.
pub struct Host {
    pre: ProxyPre<State>,
    variables: Variables,
    allow: AllowList,
}

impl Host {
    /// Compiles and links the component at `path`.
    pub fn load(path: &Path, variables: Variables) -> anyhow::Result<Self> {
        let engine = Engine::default();
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
        })
    }

    async fn handle(
        self: Arc<Self>,
        request: hyper::Request<hyper::body::Incoming>,
    ) -> anyhow::Result<hyper::Response<HyperOutgoingBody>> {
        let hooks = Hooks {
            allow: self.allow.clone(),
        };
        let mut store = Store::new(self.pre.engine(), State::new(self.variables.clone(), hooks));
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let request = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, request)?;
        let out = store.data_mut().http().new_response_outparam(sender)?;
        let pre = self.pre.clone();
        // The guest may keep running (streaming the body) after it has sent the head.
        let task = tokio::task::spawn(async move {
            let proxy = pre.instantiate_async(&mut store).await?;
            proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, request, out)
                .await
        });
        match receiver.await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => Err(e.into()),
            Err(_) => {
                let error = match task.await {
                    Ok(Ok(())) => anyhow::anyhow!("the component never set a response"),
                    Ok(Err(e)) => e.into(),
                    Err(e) => e.into(),
                };
                Err(error.context("the component failed before answering"))
            }
        }
    }
}

/// Serves `host` on `listener` until `shutdown` resolves.
pub async fn serve(
    host: Host,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let addr: SocketAddr = listener.local_addr()?;
    println!("listening on http://{addr}");
    tracing::info!(%addr, "serving the component");
    let host = Arc::new(host);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => accepted?,
            () = &mut shutdown => break,
        };
        let host = host.clone();
        tokio::task::spawn(async move {
            let service = hyper::service::service_fn(move |req| host.clone().handle(req));
            if let Err(e) = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    tracing::info!("stopped");
    Ok(())
}
