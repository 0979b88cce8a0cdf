//! Per-request store data: WASI, wasi:http, the configuration and the outbound hooks.

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::outbound::Hooks;
use crate::vars::{ConfigError, ConfigHost, Variables};

/// What one request's instance sees.
pub struct State {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: Hooks,
    variables: Variables,
}

impl State {
    /// Fresh state for one request.
    pub fn new(variables: Variables, hooks: Hooks) -> Self {
        Self {
            // The component's panics and logs go to the host's standard error.
            wasi: WasiCtx::builder().inherit_stderr().build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            hooks,
            variables,
        }
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl ConfigHost for State {
    fn get(&mut self, key: String) -> Result<Option<String>, ConfigError> {
        Ok(self.variables.get(&key).map(str::to_owned))
    }

    fn get_all(&mut self) -> Result<Vec<(String, String)>, ConfigError> {
        Ok(self.variables.all())
    }
}
