//! `wasi:config/store@0.2.0-draft-2024-09-27`, the one version Spin links, answered from the
//! component's environment (`wasi:cli/environment`, part of WASI 0.2 itself).
//!
//! Plugged into the composer's config import (`wac plug`), it lets hosts that serve only
//! standard WASI 0.2, such as `wasmtime serve`, run the composer byte for byte as Spin and
//! edge-host do: wasmtime 49 serves another draft of `wasi:config` (`0.2.0-rc.1`), which the
//! composer's import does not link with, while every WASI 0.2 host serves the environment
//! (`wasmtime serve --env catalog_token`, which also keeps secrets off the command line by
//! passing wasmtime's own variable).

// The bindings and the export macro generate the component's ABI glue, which is `unsafe` by
// nature.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code, missing_docs, clippy::all)]
mod bindings {
    wit_bindgen::generate!({
        path: "../wit/config.wit",
        world: "config-from-env",
    });
}

#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
mod store {
    use crate::bindings::exports::wasi::config::store::{Error, Guest};

    struct FromEnv;

    impl Guest for FromEnv {
        fn get(key: String) -> Result<Option<String>, Error> {
            match std::env::var(&key) {
                Ok(value) => Ok(Some(value)),
                Err(std::env::VarError::NotPresent) => Ok(None),
                // wasi:cli/environment carries strings, so this cannot happen through it;
                // reported rather than hidden should another libc ever differ.
                Err(std::env::VarError::NotUnicode(_)) => Err(Error::Io(format!(
                    "environment variable {key:?} is not UTF-8"
                ))),
            }
        }

        fn get_all() -> Result<Vec<(String, String)>, Error> {
            Ok(std::env::vars().collect())
        }
    }

    crate::bindings::export!(FromEnv with_types_in crate::bindings);
}
