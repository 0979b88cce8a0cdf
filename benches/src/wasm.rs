//! Running the composition core inside WebAssembly: the `compose-guest` command component
//! (src/bin/compose_guest.rs) built for wasm32-wasip2, in wasmtime 48 the way edge-host runs
//! the composer: compiled and pre-instantiated once, a fresh `Store` and instance per run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::p2::bindings::CommandPre;
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// The guest binary's name (a `[[bin]]` of this package).
pub const GUEST: &str = "compose-guest";

/// Largest view the guest may write to its standard output (a 200-line view is ~60 KiB).
const STDOUT_CAPACITY: usize = 16 * 1024 * 1024;

/// What one guest instance sees: WASI with in-memory standard streams.
struct GuestState {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Builds the guest for wasm32-wasip2 (release) with cargo, which does nothing when it is up
/// to date, and returns the `.wasm` cargo reports; `$COMPOSE_GUEST_WASM` names a prebuilt one
/// instead. Panics with what to do when the target is not installed or the build fails.
pub fn build_guest() -> PathBuf {
    if let Some(path) = std::env::var_os("COMPOSE_GUEST_WASM") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "COMPOSE_GUEST_WASM={} does not exist",
            path.display()
        );
        return path;
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let out = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--bin",
            GUEST,
        ])
        .args(["--message-format", "json", "--manifest-path"])
        .arg(&manifest)
        .output()
        .unwrap_or_else(|e| panic!("cannot run cargo to build the {GUEST} guest: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        let hint = if stderr.contains("target may not be installed") {
            "\nthe wasm32-wasip2 target is missing: `rustup target add wasm32-wasip2`"
        } else {
            ""
        };
        panic!(
            "`cargo build --release --target wasm32-wasip2 -p benches --bin {GUEST}` failed{hint}\n{stderr}"
        );
    }
    // cargo names the artifact in its JSON messages, wherever the target directory is.
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == GUEST)
        .flat_map(|m| {
            m["filenames"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|f| f.as_str().map(PathBuf::from))
        })
        .find(|f| f.extension().is_some_and(|e| e == "wasm"))
        .unwrap_or_else(|| panic!("cargo built the {GUEST} guest but named no .wasm:\n{stdout}"))
}

/// The guest's output of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestOutput {
    /// Standard output: the composed view.
    pub stdout: Vec<u8>,
    /// The compose loop's own time, as the guest measured it (only when asked to repeat).
    pub loop_time: Option<Duration>,
}

/// The guest compiled and pre-instantiated once; each run gets a fresh store and instance.
pub struct GuestRunner {
    pre: CommandPre<GuestState>,
}

impl GuestRunner {
    /// Compiles the component at `wasm` (with `Engine::default()`, as edge-host does) and
    /// links it against WASI.
    pub fn load(wasm: &Path) -> Self {
        let engine = Engine::default();
        let component = Component::from_file(&engine, wasm)
            .unwrap_or_else(|e| panic!("cannot load {}: {e:?}", wasm.display()));
        let mut linker = Linker::<GuestState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).expect("link WASI");
        let pre = linker
            .instantiate_pre(&component)
            .expect("pre-instantiate the guest");
        let pre = CommandPre::new(pre).expect("the guest exports wasi:cli/run");
        Self { pre }
    }

    /// Runs the guest once on `stdin` (shared, not copied): a new `Store` and instance, `main`
    /// called to completion. With `repeat`, the guest composes that many times and reports
    /// its loop's time; without, it composes once and reports nothing. Panics if the guest
    /// fails.
    pub async fn run(&self, stdin: &Bytes, repeat: Option<u64>) -> GuestOutput {
        let stdout = MemoryOutputPipe::new(STDOUT_CAPACITY);
        let stderr = MemoryOutputPipe::new(64 * 1024);
        let mut args = vec![GUEST.to_owned()];
        args.extend(repeat.map(|n| n.to_string()));
        let wasi = WasiCtx::builder()
            .stdin(MemoryInputPipe::new(stdin.clone()))
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .args(&args)
            .build();
        let state = GuestState {
            wasi,
            table: ResourceTable::new(),
        };
        let mut store = Store::new(self.pre.engine(), state);
        let command = self
            .pre
            .instantiate_async(&mut store)
            .await
            .expect("instantiate the guest");
        let ran = command.wasi_cli_run().call_run(&mut store).await;
        let err_text = String::from_utf8_lossy(&stderr.contents()).into_owned();
        match ran {
            Ok(Ok(())) => {}
            other => panic!("the guest failed ({other:?}):\n{err_text}"),
        }
        let loop_time = repeat.map(|_| {
            let nanos: u64 = err_text
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("the guest printed no loop time: {err_text:?}"));
            Duration::from_nanos(nanos)
        });
        GuestOutput {
            stdout: stdout.contents().to_vec(),
            loop_time,
        }
    }
}
