//! Command line: every flag has an environment-variable fallback.

use std::net::SocketAddr;
use std::path::PathBuf;

use chassis::cli::{ArchiveCommand, ArchiveNames};
use clap::{Parser, Subcommand};

/// catalog-node: products, stock and reservations on sled, with a change feed.
///
/// Serves the catalog API on --listen. Every /v1 route needs a bearer token from the
/// callers file with the route's scope (catalog:read, catalog:write, catalog:reserve,
/// catalog:feed, catalog:admin); /healthz, /readyz and /metrics are open.
#[derive(Debug, Parser)]
#[command(name = "catalog-node", version, about, long_about)]
pub struct Cli {
    /// Directory of the node's sled store; created owner-only, used by this node alone.
    #[arg(
        long,
        env = "CATALOG_DATA_DIR",
        default_value = "./data/catalog",
        global = true
    )]
    pub data_dir: PathBuf,

    /// What to do; without a subcommand the node serves.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Serving options.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load products from a JSON Lines file (one product with its "id" per line) into the
    /// store, with a progress bar. Stop the node first: the store is locked while it runs.
    Import {
        /// The file to load.
        file: PathBuf,
    },
    /// Backups and restores.
    #[command(flatten)]
    Archive(ArchiveCommand),
}

/// Options of the server.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port, printed at start).
    #[arg(long, env = "CATALOG_LISTEN", default_value = "127.0.0.1:7001")]
    pub listen: SocketAddr,

    /// TOML file naming each caller, its bearer token and its scopes.
    #[arg(long, env = "CATALOG_CALLERS")]
    pub callers: Option<PathBuf>,

    /// Let every request in with every scope, without a token. Local experiments only.
    #[arg(long, env = "CATALOG_ALLOW_ANONYMOUS")]
    pub allow_anonymous: bool,

    /// Connection and request limits.
    #[command(flatten)]
    pub limits: chassis::limits::HttpLimits,

    /// Serve as a read replica of the catalog-node at this base URL: load its products, then
    /// follow its change feed into this node's own store, serving product reads with its
    /// sequence numbers and refusing writes, reservations and the feed. The token for the
    /// primary (scopes catalog:read and catalog:feed) comes from --primary-token-file or
    /// CATALOG_PRIMARY_TOKEN.
    #[arg(long, env = "CATALOG_REPLICA_OF", value_name = "URL")]
    pub replica_of: Option<String>,

    /// File holding the bearer token a replica presents to its primary.
    #[arg(long, env = "CATALOG_PRIMARY_TOKEN_FILE", requires = "replica_of")]
    pub primary_token_file: Option<std::path::PathBuf>,

    /// Refused with a message saying where the token goes instead.
    #[arg(long, hide = true)]
    pub primary_token: Option<String>,

    /// How long the change feed keeps delete events, in hours. A consumer whose cursor is
    /// older must bootstrap again from GET /v1/products (it gets 410 cursor_expired).
    #[arg(long, env = "CATALOG_TOMBSTONE_RETENTION_HOURS", default_value_t = 168)]
    pub tombstone_retention_hours: u64,
}

/// Where a replica's token for its primary may come from.
pub const PRIMARY_TOKEN: chassis::secret::SecretSource<'static> = chassis::secret::SecretSource {
    what: "the token for the primary",
    flag: "--primary-token",
    env: "CATALOG_PRIMARY_TOKEN",
};

/// catalog-node's names for `backup` and `restore`.
pub const ARCHIVE_NAMES: ArchiveNames = ArchiveNames {
    url_env: "CATALOG_BACKUP_URL",
    default_url: "http://127.0.0.1:7001",
    token_file_env: "CATALOG_BACKUP_TOKEN_FILE",
    token_env: "CATALOG_BACKUP_TOKEN",
    out_env: "CATALOG_BACKUP_OUT",
    from_env: "CATALOG_RESTORE_FROM",
    admin_scope: "catalog:admin",
};

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        super::ARCHIVE_NAMES
            .apply(super::Cli::command())
            .debug_assert();
    }
}
