//! This run's tokens and the callers file of each node.
//!
//! Tokens are fresh at every start: a token that leaked from an earlier run (a pasted curl, a
//! shell history) is worthless once the system restarts.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::layout::{Layout, Part};

/// The callers of this run and their tokens.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// The operator: every scope on every node, backups included.
    pub admin: String,
    /// order-node, at the catalog.
    pub order_node: String,
    /// search-node, at the catalog.
    pub search_node: String,
    /// The catalog's read replicas, at the primary.
    pub replica: String,
    /// The composer, at every node.
    pub composer: String,
}

/// Why the secrets could not be prepared.
#[derive(Debug, Error)]
pub enum SecretsError {
    /// The operating system's random source failed.
    #[error("no randomness for tokens: {0}")]
    Random(getrandom::Error),
    /// A secrets file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl Tokens {
    /// Fresh 256-bit tokens.
    pub fn generate() -> Result<Self, SecretsError> {
        Ok(Self {
            admin: token()?,
            order_node: token()?,
            search_node: token()?,
            replica: token()?,
            composer: token()?,
        })
    }

    /// Writes the nodes' callers files, the tokens each part presents to others (read from
    /// files, never passed on a command line) and `admin.token` under the secrets directory.
    pub fn write(&self, layout: &Layout) -> Result<(), SecretsError> {
        let dir = layout.secrets();
        for part in [Part::Catalog, Part::Orders, Part::Search] {
            write_private(&callers_file(layout, part), &self.callers_toml(part))?;
        }
        write_private(
            &catalog_token_file(layout, Part::Orders),
            &format!("{}\n", self.order_node),
        )?;
        write_private(
            &catalog_token_file(layout, Part::Search),
            &format!("{}\n", self.search_node),
        )?;
        write_private(
            &catalog_token_file(layout, Part::Replica(1)),
            &format!("{}\n", self.replica),
        )?;
        let vars: String = ["catalog_token", "orders_token", "search_token"]
            .iter()
            .map(|key| format!("{key}={}\n", self.composer))
            .collect();
        write_private(&composer_secrets_file(layout), &vars)?;
        write_private(&dir.join("admin.token"), &format!("{}\n", self.admin))
    }

    /// The callers file of `part` (a node; the composer has none).
    pub fn callers_toml(&self, part: Part) -> String {
        let mut callers: Vec<(&str, &str, &[&str])> = Vec::new();
        match part {
            Part::Catalog | Part::Replica(_) => {
                callers.push((
                    "admin",
                    &self.admin,
                    &["catalog:read", "catalog:write", "catalog:admin"],
                ));
                callers.push((
                    "order-node",
                    &self.order_node,
                    &["catalog:read", "catalog:reserve"],
                ));
                callers.push((
                    "search-node",
                    &self.search_node,
                    &["catalog:read", "catalog:feed"],
                ));
                callers.push((
                    "catalog-replica",
                    &self.replica,
                    &["catalog:read", "catalog:feed"],
                ));
                callers.push(("edge-composer", &self.composer, &["catalog:read"]));
            }
            Part::Orders => {
                callers.push((
                    "admin",
                    &self.admin,
                    &["orders:read", "orders:write", "orders:admin"],
                ));
                callers.push((
                    "edge-composer",
                    &self.composer,
                    &["orders:read", "orders:write", "orders:on-behalf"],
                ));
            }
            Part::Search => {
                callers.push(("admin", &self.admin, &["search:read", "search:admin"]));
                callers.push(("edge-composer", &self.composer, &["search:read"]));
            }
            Part::Composer => {}
        }
        let mut toml =
            String::from("# Written by `stack up` for this run; tokens change at every start.\n");
        for (name, token, scopes) in callers {
            let scopes: Vec<String> = scopes.iter().map(|s| format!("{s:?}")).collect();
            // Names, tokens (hex) and scopes need no TOML escaping.
            let _ = write!(
                toml,
                "\n[[caller]]\nname = {name:?}\ntoken = {token:?}\nscopes = [{}]\n",
                scopes.join(", ")
            );
        }
        toml
    }
}

/// The callers file of `part` in this run's secrets; the replicas share the catalog's, so
/// that one token reads from any of them.
pub fn callers_file(layout: &Layout, part: Part) -> PathBuf {
    let part = match part {
        Part::Replica(_) => Part::Catalog,
        other => other,
    };
    layout
        .secrets()
        .join(format!("{}-callers.toml", part.name()))
}

/// The file holding the token `part` (order-node, search-node or a replica; the replicas
/// share one) presents to the catalog.
pub fn catalog_token_file(layout: &Layout, part: Part) -> PathBuf {
    let name = match part {
        Part::Replica(_) => "catalog-replica",
        other => other.name(),
    };
    layout.secrets().join(format!("{name}-catalog.token"))
}

/// The composer's secret variables (its tokens), as edge-host's `--var-file`.
pub fn composer_secrets_file(layout: &Layout) -> PathBuf {
    layout.secrets().join("composer.vars")
}

fn token() -> Result<String, SecretsError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(SecretsError::Random)?;
    Ok(bytes.iter().fold(String::with_capacity(64), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    }))
}

/// Writes `text` to `path`, readable by the owner only from its first byte.
pub(crate) fn write_private(path: &Path, text: &str) -> Result<(), SecretsError> {
    let fail = |source| SecretsError::Write {
        path: path.to_owned(),
        source,
    };
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(fail)?;
    file.write_all(text.as_bytes()).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::component_beside;

    #[test]
    fn tokens_are_fresh_and_long() {
        let a = Tokens::generate().unwrap();
        let b = Tokens::generate().unwrap();
        assert_eq!(a.admin.len(), 64);
        assert_ne!(a.admin, b.admin);
        assert_ne!(a.admin, a.composer);
    }

    #[test]
    fn callers_files_are_owner_only_and_name_each_caller() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout {
            data: dir.path().to_owned(),
            bin_dir: dir.path().join("bin"),
            component: component_beside(dir.path()),
            base_port: 7000,
            replicas: 0,
        };
        fs::create_dir_all(layout.secrets()).unwrap();
        let tokens = Tokens::generate().unwrap();
        tokens.write(&layout).unwrap();
        let catalog = fs::read_to_string(callers_file(&layout, Part::Catalog)).unwrap();
        // The nodes' own loader must accept what the stack writes.
        let entries = chassis::callers::load(&callers_file(&layout, Part::Catalog)).unwrap();
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "admin",
                "order-node",
                "search-node",
                "catalog-replica",
                "edge-composer"
            ]
        );
        assert!(catalog.contains(&tokens.composer));
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(callers_file(&layout, Part::Orders))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
