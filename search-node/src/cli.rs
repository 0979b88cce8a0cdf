//! Command line: every flag has an environment-variable fallback.

use std::net::SocketAddr;
use std::path::PathBuf;

use chassis::cli::{ArchiveCommand, ArchiveNames};
use clap::{Parser, Subcommand};

/// search-node: a tantivy read model of the catalog, kept up to date from its change feed.
///
/// Serves GET /v1/search on --listen (scope search:read) and GET /v1/admin/backup (scope
/// search:admin). It follows catalog-node's change
/// feed with its own token (scopes catalog:read and catalog:feed, from --catalog-token-file
/// or SEARCH_CATALOG_TOKEN) and never writes
/// to anything but its own index.
#[derive(Debug, Parser)]
#[command(name = "search-node", version, about, long_about)]
pub struct Cli {
    /// Directory of the node's tantivy index; created owner-only, used by this node alone.
    #[arg(
        long,
        env = "SEARCH_DATA_DIR",
        default_value = "./data/search",
        global = true
    )]
    pub data_dir: PathBuf,

    /// Base URL of catalog-node.
    #[arg(
        long,
        env = "SEARCH_CATALOG_URL",
        default_value = "http://127.0.0.1:7001",
        global = true
    )]
    pub catalog_url: String,

    /// File holding the bearer token search-node presents to the catalog (scopes
    /// catalog:read, catalog:feed); the token may instead be in SEARCH_CATALOG_TOKEN.
    /// Required to serve and to reindex. Never on the command line, where every local user
    /// can read it.
    #[arg(long, env = "SEARCH_CATALOG_TOKEN_FILE", global = true)]
    pub catalog_token_file: Option<PathBuf>,

    /// Refused with a message saying where the token goes instead.
    #[arg(long, hide = true, global = true)]
    pub catalog_token: Option<String>,

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
    /// Rebuild the index from a snapshot of the catalog, with a progress bar. Stop the node
    /// first: the index is locked while it runs.
    Reindex,
    /// Backups and restores (a backup pauses nothing on the node; a restored node resumes
    /// following the catalog from the backup's cursor).
    #[command(flatten)]
    Archive(ArchiveCommand),
}

/// Options of the server.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port, printed at start).
    #[arg(long, env = "SEARCH_LISTEN", default_value = "127.0.0.1:7003")]
    pub listen: SocketAddr,

    /// TOML file naming each caller, its bearer token and its scopes.
    #[arg(long, env = "SEARCH_CALLERS")]
    pub callers: Option<PathBuf>,

    /// Let every request in with every scope, without a token. Local experiments only.
    #[arg(long, env = "SEARCH_ALLOW_ANONYMOUS")]
    pub allow_anonymous: bool,

    /// Connection and request limits.
    #[command(flatten)]
    pub limits: chassis::limits::HttpLimits,

    /// Commit once this many changes wait.
    #[arg(long, env = "SEARCH_COMMIT_MAX_CHANGES", default_value_t = 1000)]
    pub commit_max_changes: usize,

    /// Commit once the oldest waiting change is this old, in milliseconds.
    #[arg(long, env = "SEARCH_COMMIT_DELAY_MS", default_value_t = 50)]
    pub commit_delay_ms: u64,
}

/// Where search-node's catalog token may come from.
pub const CATALOG_TOKEN: chassis::secret::SecretSource<'static> = chassis::secret::SecretSource {
    what: "the catalog token",
    flag: "--catalog-token",
    env: "SEARCH_CATALOG_TOKEN",
};

/// search-node's names for `backup` and `restore`.
pub const ARCHIVE_NAMES: ArchiveNames = ArchiveNames {
    url_env: "SEARCH_BACKUP_URL",
    default_url: "http://127.0.0.1:7003",
    token_file_env: "SEARCH_BACKUP_TOKEN_FILE",
    token_env: "SEARCH_BACKUP_TOKEN",
    out_env: "SEARCH_BACKUP_OUT",
    from_env: "SEARCH_RESTORE_FROM",
    admin_scope: "search:admin",
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
