//! Building what the system runs: the node binaries, edge-host and the composer component.

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

/// The target the composer component is built for.
pub const COMPONENT_TARGET: &str = "wasm32-wasip2";

/// Builds the release binaries and the composer component in the workspace at `root`,
/// installing the wasm target through rustup if it is missing.
pub fn build(root: &Path) -> anyhow::Result<()> {
    ensure_target(COMPONENT_TARGET)?;
    eprintln!("==> building the nodes and edge-host (release)");
    cargo(
        root,
        &[
            "build",
            "--release",
            "-p",
            "catalog-node",
            "-p",
            "order-node",
            "-p",
            "search-node",
            "-p",
            "edge-host",
        ],
    )?;
    eprintln!("==> building the composer component ({COMPONENT_TARGET}, release)");
    cargo(
        root,
        &[
            "build",
            "--release",
            "-p",
            "edge-composer",
            "--target",
            COMPONENT_TARGET,
        ],
    )
}

/// Adds `target` through rustup unless it is installed (targets listed in a toolchain file
/// are not always installed by themselves).
fn ensure_target(target: &str) -> anyhow::Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    let Ok(installed) = installed else {
        // No rustup: a toolchain managed otherwise; the build will say if the target lacks.
        return Ok(());
    };
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|t| t.trim() == target)
    {
        return Ok(());
    }
    eprintln!("==> installing the {target} target (rustup target add {target})");
    let status = Command::new("rustup")
        .args(["target", "add", target])
        .status()
        .context("running rustup")?;
    if !status.success() {
        bail!("`rustup target add {target}` failed ({status})");
    }
    Ok(())
}

fn cargo(root: &Path, args: &[&str]) -> anyhow::Result<()> {
    // Under `cargo run`, CARGO names the cargo that started us; use the same one.
    let program = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let status = Command::new(&program)
        .args(args)
        .current_dir(root)
        .status()
        .with_context(|| format!("running {}", program.to_string_lossy()))?;
    if !status.success() {
        bail!("`cargo {}` failed ({status})", args.join(" "));
    }
    Ok(())
}
