//! The subcommands every node has besides serving, `backup` and `restore`, declared and run
//! once here. A node flattens [`ArchiveCommand`] into its own subcommands and names its
//! environment variables with [`ArchiveNames`].

use std::path::{Path, PathBuf};

use clap::{CommandFactory, FromArgMatches};
use thiserror::Error;

use storage::backup::{Restore, RestoreError};

use crate::backup::{self, FetchError};
use crate::secret::{SecretError, SecretSource};

/// `backup` and `restore`.
#[derive(Debug, clap::Subcommand)]
pub enum ArchiveCommand {
    /// Fetch a consistent backup of the running node's store into a file (needs a token with
    /// the node's admin scope). Writes may pause on the node while its store is copied.
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
    #[arg(long)]
    pub url: String,

    /// File holding a bearer token with the node's admin scope (or the token in the
    /// environment, see --help of the node).
    #[arg(long)]
    pub token_file: Option<PathBuf>,

    /// Refused with a message saying where the token goes instead.
    #[arg(long, hide = true)]
    pub token: Option<String>,

    /// File to write; it appears only once the whole archive has arrived and been verified.
    #[arg(long)]
    pub out: PathBuf,
}

/// Options of `restore`.
#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// The backup file to restore.
    #[arg(long)]
    pub from: PathBuf,

    /// Replace a non-empty data directory; its contents are moved aside to
    /// DIR.replaced-<ms>, never deleted. Deliberately without an environment variable, so
    /// that it is asked for every time.
    #[arg(long)]
    pub force: bool,
}

/// A node's names for the archive subcommands: its environment variables, its default URL
/// and its admin scope.
#[derive(Debug, Clone, Copy)]
pub struct ArchiveNames {
    /// Variable holding the node's URL (`CATALOG_BACKUP_URL`).
    pub url_env: &'static str,
    /// The node's usual address.
    pub default_url: &'static str,
    /// Variable naming the token file.
    pub token_file_env: &'static str,
    /// Variable holding the token itself.
    pub token_env: &'static str,
    /// Variable naming the output file.
    pub out_env: &'static str,
    /// Variable naming the archive to restore.
    pub from_env: &'static str,
    /// The scope a backup needs.
    pub admin_scope: &'static str,
}

impl ArchiveNames {
    fn token(&self) -> SecretSource<'static> {
        SecretSource {
            what: "the backup token",
            flag: "--token",
            env: self.token_env,
        }
    }

    /// `command` (a node's whole command line) with these names on its archive subcommands.
    pub fn apply(&self, command: clap::Command) -> clap::Command {
        let names = *self;
        command
            .mut_subcommand("backup", move |backup| {
                backup
                    .mut_arg("url", |a| {
                        // The derive made it required, having no default of its own.
                        a.env(names.url_env)
                            .default_value(names.default_url)
                            .required(false)
                    })
                    .mut_arg("token_file", |a| {
                        a.env(names.token_file_env).help(format!(
                            "File holding a bearer token with the {} scope; the token may \
                             instead be in {}",
                            names.admin_scope, names.token_env
                        ))
                    })
                    .mut_arg("out", |a| a.env(names.out_env))
            })
            .mut_subcommand("restore", move |restore| {
                restore.mut_arg("from", |a| a.env(names.from_env))
            })
    }

    /// Parses the process's command line as `C`, with these names applied; exits with
    /// clap's message on a bad command line, as `C::parse()` would.
    pub fn parse<C: CommandFactory + FromArgMatches>(&self) -> C {
        let matches = self.apply(C::command()).get_matches();
        C::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }
}

/// A subcommand failed.
#[derive(Debug, Error)]
pub enum ArchiveCommandError<E: std::error::Error + 'static> {
    /// The token cannot be had.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// No token was given.
    #[error("a token with {scope} is required: --token-file or {env}")]
    NoToken {
        /// The scope needed.
        scope: &'static str,
        /// The variable that may hold it.
        env: &'static str,
    },
    /// The backup could not be fetched.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The restore failed.
    #[error(transparent)]
    Restore(RestoreError<E>),
    /// The restore's thread failed.
    #[error("the restore stopped unexpectedly: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// Runs `command` for `node`, whose store lives in `data_dir`; prints what was done.
pub async fn run<N>(
    command: ArchiveCommand,
    names: &ArchiveNames,
    node: N,
    data_dir: &Path,
) -> Result<(), ArchiveCommandError<N::Error>>
where
    N: Restore + Send + 'static,
    N::Error: Send,
{
    match command {
        ArchiveCommand::Backup(args) => {
            let token = names
                .token()
                .read(args.token_file.as_deref(), args.token.as_deref())?
                .ok_or(ArchiveCommandError::NoToken {
                    scope: names.admin_scope,
                    env: names.token_env,
                })?;
            let summary = backup::fetch(&args.url, &token, &args.out, node.kind()).await?;
            println!("wrote {}: {summary}", args.out.display());
        }
        ArchiveCommand::Restore(args) => {
            let dir = data_dir.to_owned();
            let restored = tokio::task::spawn_blocking(move || {
                storage::backup::restore(&node, &args.from, &dir, args.force)
            })
            .await?
            .map_err(ArchiveCommandError::Restore)?;
            println!("{restored}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: Option<Command>,
    }

    #[derive(Debug, clap::Subcommand)]
    enum Command {
        #[command(flatten)]
        Archive(ArchiveCommand),
    }

    const NAMES: ArchiveNames = ArchiveNames {
        url_env: "TESTNODE_BACKUP_URL",
        default_url: "http://127.0.0.1:7009",
        token_file_env: "TESTNODE_BACKUP_TOKEN_FILE",
        token_env: "TESTNODE_BACKUP_TOKEN",
        out_env: "TESTNODE_BACKUP_OUT",
        from_env: "TESTNODE_RESTORE_FROM",
        admin_scope: "testnode:admin",
    };

    #[test]
    fn the_names_reach_the_subcommands() {
        let command = NAMES.apply(Cli::command());
        command.clone().debug_assert();
        let matches = command
            .try_get_matches_from(["node", "backup", "--out", "x.backup"])
            .unwrap();
        let cli = Cli::from_arg_matches(&matches).unwrap();
        let Some(Command::Archive(ArchiveCommand::Backup(args))) = cli.command else {
            panic!("not a backup: {cli:?}");
        };
        assert_eq!(args.url, "http://127.0.0.1:7009");
        let help = NAMES
            .apply(Cli::command())
            .find_subcommand_mut("backup")
            .unwrap()
            .render_long_help()
            .to_string();
        assert!(help.contains("TESTNODE_BACKUP_TOKEN_FILE"), "{help}");
        assert!(help.contains("testnode:admin"), "{help}");
    }
}
