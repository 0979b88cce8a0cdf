//! Prints the order view the native core composes from an order and batch answers (JSON
//! files), so other hosts' builds of the core can be checked against it byte for byte.
//!
//! `cargo run -p composer-core --example compose -- ORDER.json BATCH.json…`

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((order_path, batch_paths)) = args.split_first() else {
        eprintln!("usage: compose ORDER.json BATCH.json…");
        return ExitCode::FAILURE;
    };
    let read = |p: &String| std::fs::read_to_string(p).map_err(|e| format!("{p}: {e}"));
    let result = read(order_path).and_then(|order| {
        let batches = batch_paths
            .iter()
            .map(read)
            .collect::<Result<Vec<_>, _>>()?;
        let refs: Vec<&str> = batches.iter().map(String::as_str).collect();
        composer_core::order_view_json(&order, &refs).map_err(|e| e.to_string())
    });
    match result {
        Ok(json) => {
            print!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("compose: {e}");
            ExitCode::FAILURE
        }
    }
}
