//! The one module through which order-node encodes and decodes stored values: bincode 2
//! behind a one-byte schema-version tag (see [`storage::codec`]). Each record type states its
//! layout version where it is defined, in `records.rs`.

pub use storage::codec::{CodecError, Record, decode, decode_layout, encode, schema_of};
