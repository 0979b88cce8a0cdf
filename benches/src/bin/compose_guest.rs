//! The WebAssembly guest of the `compose_core_wasm` benchmark: composer-core's
//! `order_view_json` (the entry point every host calls) run as a WASI command.
//!
//! Standard input: the order JSON on the first line, then one catalog batch answer per line.
//! It composes the order view `REPEAT` times (first argument, default 1) and writes the last
//! view to standard output. When `REPEAT` is given, it also writes the nanoseconds the compose
//! loop alone took (monotonic clock, around the loop only) as one line on standard error.
//!
//! The benchmark builds it for wasm32-wasip2 (`cargo build --release --target wasm32-wasip2
//! -p benches --bin compose-guest`); it also runs natively with the same protocol.

use std::hint::black_box;
use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let arg = std::env::args().nth(1);
    let timed = arg.is_some();
    let repeat = match arg.map(|a| a.parse::<u64>()) {
        None => 1,
        Some(Ok(n)) if n > 0 => n,
        _ => {
            eprintln!("usage: compose-guest [REPEAT] < ORDER-AND-BATCH-LINES");
            return ExitCode::FAILURE;
        }
    };
    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        eprintln!("compose-guest: reading standard input: {e}");
        return ExitCode::FAILURE;
    }
    let mut lines = input.lines();
    let Some(order) = lines.next() else {
        eprintln!("compose-guest: no order on standard input");
        return ExitCode::FAILURE;
    };
    let batches: Vec<&str> = lines.filter(|l| !l.trim().is_empty()).collect();

    let started = Instant::now();
    let mut view = String::new();
    for _ in 0..repeat {
        // black_box keeps the optimiser from hoisting the pure call out of the loop.
        match composer_core::order_view_json(black_box(order), black_box(&batches)) {
            Ok(json) => view = black_box(json),
            Err(e) => {
                eprintln!("compose-guest: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let took = started.elapsed();

    let mut out = std::io::stdout().lock();
    if out
        .write_all(view.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        return ExitCode::FAILURE;
    }
    if timed {
        eprintln!("{}", took.as_nanos());
    }
    ExitCode::SUCCESS
}
