//! What every node's storage layer shares besides its engine.
//!
//! - [`codec`]: stored values as versioned bincode records, decoded within a size bound, so
//!   that a record layout can change and old data stays readable (each node migrates its own).
//! - [`datadir`]: the data directory, created owner-only.
//! - [`archive`]: the backup archive format (a header naming the node kind and the point in
//!   the node's history it captures, then entries, then a checksum over everything).
//! - [`backup`]: staging an archive beside the store, and restoring one into a data directory
//!   so that the directory is only ever absent, as it was, or completely restored.
//! - [`progress`]: progress bars for the long ones.
//! - [`clock`]: wall-clock milliseconds and their RFC 3339 form.
//!
//! Nothing here speaks HTTP (serving and fetching backups is `chassis`'s) or knows any node's
//! data: each node's `store` module says what its records and entries are.

pub mod archive;
pub mod backup;
pub mod clock;
pub mod codec;
pub mod datadir;
pub mod progress;
