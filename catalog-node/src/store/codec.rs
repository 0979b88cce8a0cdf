//! The one module through which the catalog encodes and decodes stored values: bincode 2
//! behind a one-byte schema-version tag (see [`storage::codec`]). Each record type states its
//! layout version where it is defined, in `records.rs` and `migrate.rs`.

pub use storage::codec::{CodecError, Record, decode, decode_layout, encode, schema_of};
