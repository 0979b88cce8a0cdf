//! End-to-end tests of backup and restore: the real binaries, `<node> backup` against a
//! running node while writes go on, the data directory destroyed, `<node> restore`, the node
//! started again and compared with what it held at the backup's point.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod catalog;
mod orders;
mod refusals;
mod search;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A flag the background writers of a test watch.
#[derive(Clone, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    /// Tells the writers to stop.
    pub fn now(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Whether they should stop.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// How long writers keep going before and after a backup, so that it surely runs among them.
pub const WRITES_AROUND_BACKUP: Duration = Duration::from_millis(300);
