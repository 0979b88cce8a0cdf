//! A callers file with one token per role, written for a test run.

use std::path::{Path, PathBuf};

/// Tokens of the roles the tests use, and the file that grants them.
#[derive(Debug, Clone)]
pub struct Callers {
    /// Path of the written callers file.
    pub path: PathBuf,
    /// Roles as `(name, token, scopes)`.
    pub roles: Vec<(String, String, Vec<String>)>,
}

impl Callers {
    /// Writes a callers file in `dir` for `roles` (`name`, scopes); each gets a fresh token.
    pub fn write(dir: &Path, roles: &[(&str, &[&str])]) -> Self {
        let seed = std::process::id();
        let mut text = String::new();
        let mut out = Vec::new();
        for (i, (name, scopes)) in roles.iter().enumerate() {
            let token = format!("tok-{name}-{seed:08x}-{i:04}-{}", nanos());
            let scope_list: Vec<String> = scopes.iter().map(|s| format!("{s:?}")).collect();
            text.push_str(&format!(
                "[[caller]]\nname = {name:?}\ntoken = {token:?}\nscopes = [{}]\n\n",
                scope_list.join(", ")
            ));
            out.push((
                (*name).to_owned(),
                token,
                scopes.iter().map(|s| (*s).to_owned()).collect(),
            ));
        }
        let path = dir.join("callers.toml");
        std::fs::write(&path, text).expect("write callers file");
        Self { path, roles: out }
    }

    /// The standard roles of a catalog test: one per scope (`operator` takes backups), plus a
    /// caller of another service.
    pub fn catalog(dir: &Path) -> Self {
        Self::write(
            dir,
            &[
                ("admin", &["catalog:read", "catalog:write"]),
                ("order-node", &["catalog:read", "catalog:reserve"]),
                ("search-node", &["catalog:read", "catalog:feed"]),
                ("replica", &["catalog:read", "catalog:feed"]),
                ("reader", &["catalog:read"]),
                ("orders-client", &["orders:read", "orders:write"]),
                ("operator", &["catalog:admin"]),
            ],
        )
    }

    /// The token of role `name`.
    pub fn token(&self, name: &str) -> String {
        self.roles
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, t, _)| t.clone())
            .unwrap_or_else(|| panic!("no role {name}"))
    }
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}
