//! edge-composer: the queries a shared database would have answered with a JOIN, answered by
//! composing the services' APIs at the edge, as a Spin HTTP component (WASI 0.2).
//!
//! [`routes`], [`timing`], [`config`], the end-user token verifier [`jwt`] and the ownership
//! rules in [`access`] are plain Rust (tested natively); the Spin handler in `component` is
//! only compiled for WebAssembly and is the one place that knows the SDK, so moving to
//! WASI 0.3 touches nothing else. The composition itself lives in `composer-core`.

pub mod access;
pub mod config;
pub mod jwt;
pub mod routes;
pub mod timing;

// The SDK's export macro generates the component's ABI glue, which is `unsafe` by nature;
// nothing else in the project uses `unsafe`.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
mod component;
