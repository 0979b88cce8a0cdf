//! The search-node binary: parses the command line and hands over to the library.

use std::process::ExitCode;

use search_node::backup::SearchRestore;
use search_node::cli::{ARCHIVE_NAMES, Cli, Command};
use search_node::node::{self, CatalogSource, Config};

fn main() -> ExitCode {
    let cli: Cli = ARCHIVE_NAMES.parse();
    chassis::telemetry::run_async("search-node", run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let catalog = CatalogSource {
        url: cli.catalog_url,
        token_file: cli.catalog_token_file,
        token_on_argv: cli.catalog_token,
    };
    match cli.command {
        Some(Command::Reindex) => node::reindex(&cli.data_dir, &catalog).await?,
        Some(Command::Archive(command)) => {
            chassis::cli::run(command, &ARCHIVE_NAMES, SearchRestore, &cli.data_dir).await?;
        }
        None => {
            let listener = chassis::server::bind(cli.serve.listen).await?;
            let shutdown = chassis::lifecycle::on_signal();
            let config = Config {
                data_dir: cli.data_dir,
                catalog,
                serve: cli.serve,
            };
            node::run(config, listener, shutdown).await?;
        }
    }
    Ok(())
}
