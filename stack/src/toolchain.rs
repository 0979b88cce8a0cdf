//! Building what the system runs: the node binaries, edge-host and the composer component.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// The target the composer component is built for.
pub const COMPONENT_TARGET: &str = "wasm32-wasip2";

/// The cargo profile `up` builds the nodes and edge-host with (see the workspace's
/// Cargo.toml): quick to build, lightly optimised.
pub const PROFILE: &str = "local";

/// Builds the binaries in [`PROFILE`] into `target` (the target directory this binary was
/// built in) and the composer component into its own target directory beside them (see
/// [`crate::layout::component_beside`]), installing the wasm target through rustup if it is
/// missing.
///
/// The two builds run at once: cargo locks a target directory for the whole of a build, and
/// the nodes' build leaves a core idle for long stretches while one large crate compiles
/// alone (wasmtime, tantivy); the component's build fills them.
pub fn build(root: &Path, target: &Path) -> anyhow::Result<()> {
    ensure_target(COMPONENT_TARGET)?;
    eprintln!(
        "==> building the composer component ({COMPONENT_TARGET}, release) alongside the nodes"
    );
    let component_dir = component_target_dir(target);
    let component_dir = component_dir.to_string_lossy();
    let mut component = cargo_command(
        root,
        &[
            "build",
            "--quiet",
            "--release",
            "-p",
            "edge-composer",
            "--target",
            COMPONENT_TARGET,
            "--target-dir",
            &component_dir,
        ],
    )
    .spawn()
    .context("starting the component's build")?;
    eprintln!("==> building the nodes and edge-host (profile {PROFILE})");
    let nodes = cargo(
        root,
        &[
            "build",
            "--profile",
            PROFILE,
            "-p",
            "catalog-node",
            "-p",
            "order-node",
            "-p",
            "search-node",
            "-p",
            "edge-host",
        ],
    );
    let component = component
        .wait()
        .context("waiting for the component's build")?;
    nodes?;
    if !component.success() {
        bail!("the composer component's build failed ({component})");
    }
    Ok(())
}

/// The target directory the component is built in, inside `target`.
pub fn component_target_dir(target: &Path) -> PathBuf {
    target.join("component")
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

fn cargo_command(root: &Path, args: &[&str]) -> Command {
    // Under `cargo run`, CARGO names the cargo that started us; use the same one.
    let program = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut command = Command::new(program);
    command.args(args).current_dir(root);
    command
}

fn cargo(root: &Path, args: &[&str]) -> anyhow::Result<()> {
    let status = cargo_command(root, args)
        .status()
        .context("running cargo")?;
    if !status.success() {
        bail!("`cargo {}` failed ({status})", args.join(" "));
    }
    Ok(())
}
