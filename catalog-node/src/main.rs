//! The catalog-node binary: parses the command line and hands over to the library.

use std::process::ExitCode;

use catalog_node::backup::CatalogRestore;
use catalog_node::cli::{ARCHIVE_NAMES, Cli, Command};
use catalog_node::node::{self, Config};

fn main() -> ExitCode {
    let cli: Cli = ARCHIVE_NAMES.parse();
    chassis::telemetry::run_async("catalog-node", run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Some(Command::Import { file }) => catalog_node::import::run_command(&cli.data_dir, &file)?,
        Some(Command::Archive(command)) => {
            chassis::cli::run(command, &ARCHIVE_NAMES, CatalogRestore, &cli.data_dir).await?;
        }
        None => {
            let listener = chassis::server::bind(cli.serve.listen).await?;
            let shutdown = chassis::lifecycle::on_signal();
            let config = Config {
                data_dir: cli.data_dir,
                serve: cli.serve,
            };
            node::run(config, listener, shutdown).await?;
        }
    }
    Ok(())
}
