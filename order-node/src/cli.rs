//! Command line: every flag has an environment-variable fallback.

use std::net::SocketAddr;
use std::path::PathBuf;

use chassis::cli::{ArchiveCommand, ArchiveNames};
use clap::{Parser, Subcommand};

/// order-node: orders with denormalized product data and a durable stock saga, on redb.
///
/// Serves the order API on --listen. It knows products only through catalog-node's API
/// (--catalog-url, with its own token holding catalog:read and catalog:reserve, from
/// --catalog-token-file or ORDERS_CATALOG_TOKEN).
/// Every /v1 route needs a bearer token from the callers file with the route's scope
/// (orders:read, orders:write, orders:admin); /healthz, /readyz and /metrics are open.
#[derive(Debug, Parser)]
#[command(name = "order-node", version, about, long_about)]
pub struct Cli {
    /// What to do; without a subcommand the node serves.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Directory of the node's redb database; created owner-only, used by this node alone.
    #[arg(
        long,
        env = "ORDERS_DATA_DIR",
        default_value = "./data/orders",
        global = true
    )]
    pub data_dir: PathBuf,

    /// Serving options.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// Options of the server.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port, printed at start).
    #[arg(long, env = "ORDERS_LISTEN", default_value = "127.0.0.1:7002")]
    pub listen: SocketAddr,

    /// TOML file naming each caller, its bearer token and its scopes.
    #[arg(long, env = "ORDERS_CALLERS")]
    pub callers: Option<PathBuf>,

    /// Let every request in with every scope, without a token. Local experiments only.
    #[arg(long, env = "ORDERS_ALLOW_ANONYMOUS")]
    pub allow_anonymous: bool,

    /// Base URL of catalog-node.
    #[arg(
        long,
        env = "ORDERS_CATALOG_URL",
        default_value = "http://127.0.0.1:7001"
    )]
    pub catalog_url: String,

    /// Base URLs of catalog nodes to read products from (the catalog's read replicas),
    /// comma-separated: reads go to each in turn and fail over to the next, then to
    /// --catalog-url. Reservations always go to --catalog-url, the primary.
    #[arg(
        long,
        env = "ORDERS_CATALOG_READ_URLS",
        value_delimiter = ',',
        value_name = "URL,..."
    )]
    pub catalog_read_urls: Vec<String>,

    /// File holding the bearer token order-node presents to the catalog (scopes
    /// catalog:read, catalog:reserve); the token may instead be in ORDERS_CATALOG_TOKEN.
    /// Required to serve. Never on the command line, where every local user can read it.
    #[arg(long, env = "ORDERS_CATALOG_TOKEN_FILE")]
    pub catalog_token_file: Option<PathBuf>,

    /// Refused with a message saying where the token goes instead.
    #[arg(long, hide = true)]
    pub catalog_token: Option<String>,

    /// Connection and request limits.
    #[command(flatten)]
    pub limits: chassis::limits::HttpLimits,

    /// Time limit of one catalog call, in milliseconds; past it a reservation is retried later
    /// and the client gets 202.
    #[arg(long, env = "ORDERS_CATALOG_TIMEOUT_MS", default_value_t = 2000)]
    pub catalog_timeout_ms: u64,

    /// Base delay of the saga recovery loop, in milliseconds (doubles per failed attempt on an
    /// order, up to 30 s).
    #[arg(long, env = "ORDERS_SAGA_RETRY_MS", default_value_t = 1000)]
    pub saga_retry_ms: u64,

    /// A pending order older than this (seconds) is given up: its reservation is released and
    /// the order rejected.
    #[arg(long, env = "ORDERS_PENDING_TIMEOUT_SECS", default_value_t = 900)]
    pub pending_timeout_secs: u64,

    /// How long Idempotency-Keys are remembered, in hours.
    #[arg(long, env = "ORDERS_IDEMPOTENCY_TTL_HOURS", default_value_t = 24)]
    pub idempotency_ttl_hours: u64,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Backups and restores (a backup pauses nothing on the node).
    #[command(flatten)]
    Archive(ArchiveCommand),
}

/// Where order-node's catalog token may come from.
pub const CATALOG_TOKEN: chassis::secret::SecretSource<'static> = chassis::secret::SecretSource {
    what: "the catalog token",
    flag: "--catalog-token",
    env: "ORDERS_CATALOG_TOKEN",
};

/// order-node's names for `backup` and `restore`.
pub const ARCHIVE_NAMES: ArchiveNames = ArchiveNames {
    url_env: "ORDERS_BACKUP_URL",
    default_url: "http://127.0.0.1:7002",
    token_file_env: "ORDERS_BACKUP_TOKEN_FILE",
    token_env: "ORDERS_BACKUP_TOKEN",
    out_env: "ORDERS_BACKUP_OUT",
    from_env: "ORDERS_RESTORE_FROM",
    admin_scope: "orders:admin",
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
