//! Per-request store data: WASI, wasi:http, the configuration and the outbound hooks.

use wasmtime::ResourceLimiter;
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
    memory: MemoryCap,
}

/// The most linear memory an instance may have, and whether it asked for more.
#[derive(Debug)]
pub struct MemoryCap {
    max: usize,
    refused: bool,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max || maximum.is_some_and(|m| desired > m) {
            self.refused = true;
            // A trap, not a failed grow: the guest's allocator would abort anyway, and a trap
            // tells the host why.
            wasmtime::bail!(
                "the instance asked for {desired} bytes of memory, over its cap of {}",
                self.max
            );
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(maximum.is_none_or(|m| desired <= m))
    }
}

impl State {
    /// Fresh state for one request, its linear memory capped at `max_memory` bytes.
    pub fn new(variables: Variables, hooks: Hooks, max_memory: usize) -> Self {
        Self {
            // The component's panics and logs go to the host's standard error.
            wasi: WasiCtx::builder().inherit_stderr().build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            hooks,
            variables,
            memory: MemoryCap {
                max: max_memory,
                refused: false,
            },
        }
    }

    /// The memory cap, as the store's limiter.
    pub fn limits(&mut self) -> &mut dyn ResourceLimiter {
        &mut self.memory
    }

    /// Whether the instance was stopped for asking for more memory than its cap.
    pub fn memory_refused(&self) -> bool {
        self.memory.refused
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
