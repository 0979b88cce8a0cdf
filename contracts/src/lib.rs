//! Public wire types of the system's HTTP APIs.
//!
//! Only what crosses the network lives here: request and response bodies, the error shape and
//! the validation rules every client and server agree on. Storage records are private to each
//! node and never appear in this crate. It has no I/O so that it compiles to WebAssembly.

pub mod audit;
pub mod catalog;
pub mod composer;
pub mod error;
pub mod orders;
pub mod search;
pub mod validate;

pub use error::{Code, ErrorBody, ErrorDetail, ShortItem};
pub use validate::ValidationError;
