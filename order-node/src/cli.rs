//! Command line: every flag has an environment-variable fallback.

use std::net::SocketAddr;
use std::path::PathBuf;

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

    /// Address to listen on (port 0 picks a free port, printed at start).
    #[arg(long, env = "ORDERS_LISTEN", default_value = "127.0.0.1:7002")]
    pub listen: SocketAddr,

    /// Directory of the node's redb database; created owner-only, used by this node alone.
    #[arg(
        long,
        env = "ORDERS_DATA_DIR",
        default_value = "./data/orders",
        global = true
    )]
    pub data_dir: PathBuf,

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
    /// Fetch a consistent backup of a running order-node's store into a file (needs a token
    /// with orders:admin). Nothing pauses on the node.
    Backup(BackupArgs),
    /// Restore a backup into --data-dir, with the node stopped. The archive is verified
    /// completely before anything is written; the directory must be empty or absent unless
    /// --force is given.
    Restore(RestoreArgs),
}

/// Options of `backup`.
#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// Base URL of the running node.
    #[arg(
        long,
        env = "ORDERS_BACKUP_URL",
        default_value = "http://127.0.0.1:7002"
    )]
    pub url: String,

    /// File holding a bearer token with the orders:admin scope; the token may instead be in
    /// ORDERS_BACKUP_TOKEN.
    #[arg(long, env = "ORDERS_BACKUP_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,

    /// Refused with a message saying where the token goes instead.
    #[arg(long, hide = true)]
    pub token: Option<String>,

    /// File to write; it appears only once the whole archive has arrived and been verified.
    #[arg(long, env = "ORDERS_BACKUP_OUT")]
    pub out: PathBuf,
}

/// Options of `restore`.
#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// The backup file to restore.
    #[arg(long, env = "ORDERS_RESTORE_FROM")]
    pub from: PathBuf,

    /// Replace a non-empty data directory; its contents are moved aside to
    /// DIR.replaced-<ms>, never deleted. Deliberately without an environment variable, so
    /// that it is asked for every time.
    #[arg(long)]
    pub force: bool,
}

/// Where order-node's catalog token may come from.
pub const CATALOG_TOKEN: chassis::secret::SecretSource<'static> = chassis::secret::SecretSource {
    what: "the catalog token",
    flag: "--catalog-token",
    env: "ORDERS_CATALOG_TOKEN",
};

/// Where `backup`'s token may come from.
pub const BACKUP_TOKEN: chassis::secret::SecretSource<'static> = chassis::secret::SecretSource {
    what: "the backup token",
    flag: "--token",
    env: "ORDERS_BACKUP_TOKEN",
};

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
