//! edge-host: serves the edge composer's WebAssembly component with embedded wasmtime, the
//! way `wasmtime serve` does (the wasi:http 0.2 proxy world plus the WASI CLI interfaces
//! Rust's std imports), with two things Spin does and `wasmtime serve` does not: the
//! component's configuration through `wasi:config/store`, and an allow-list of outbound hosts.

pub mod outbound;
pub mod server;
pub mod sources;
pub mod state;
pub mod upstream;
pub mod vars;
