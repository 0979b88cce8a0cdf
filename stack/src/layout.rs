//! Where everything of one local system lives: ports, binaries, data, logs and secrets.

use std::path::{Path, PathBuf};

/// The default port of the composer; the nodes take the three ports after it, and the
/// catalog's read replicas the ones after those.
pub const DEFAULT_BASE_PORT: u16 = 7000;

/// Most catalog read replicas `up` starts: on one machine more only share the same cores.
pub const MAX_REPLICAS: u8 = 4;

const REPLICA_NAMES: [&str; MAX_REPLICAS as usize] = [
    "catalog-replica-1",
    "catalog-replica-2",
    "catalog-replica-3",
    "catalog-replica-4",
];

/// One process of the system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// catalog-node: products, stock, reservations, change feed.
    Catalog,
    /// catalog-node `--replica-of` the catalog: the n-th read replica (1-based, at most
    /// [`MAX_REPLICAS`]).
    Replica(u8),
    /// order-node: orders and their saga.
    Orders,
    /// search-node: the full-text read model.
    Search,
    /// edge-host serving the edge composer's component.
    Composer,
}

impl Part {
    /// The process's name, as logs and messages call it.
    pub fn name(self) -> &'static str {
        match self {
            Part::Catalog => "catalog-node",
            Part::Replica(n) => replica_name(n),
            Part::Orders => "order-node",
            Part::Search => "search-node",
            Part::Composer => "edge-composer",
        }
    }

    /// The binary that runs this part.
    pub fn binary(self) -> &'static str {
        match self {
            Part::Composer => "edge-host",
            Part::Replica(_) => "catalog-node",
            other => other.name(),
        }
    }

    /// Offset of this part's port from the base port (the ports of docs/ARCHITECTURE.md).
    fn port_offset(self) -> u16 {
        match self {
            Part::Composer => 0,
            Part::Catalog => 1,
            Part::Orders => 2,
            Part::Search => 3,
            Part::Replica(n) => 3 + u16::from(n),
        }
    }

    /// The route that says whether this part can serve.
    pub fn ready_path(self) -> &'static str {
        match self {
            // The composer is stateless: answering at all is being ready.
            Part::Composer => "/healthz",
            _ => "/readyz",
        }
    }

    /// The directory under the data root that holds this part's store, if it has one.
    pub fn data_subdir(self) -> Option<&'static str> {
        match self {
            Part::Catalog => Some("catalog"),
            Part::Orders => Some("orders"),
            Part::Search => Some("search"),
            Part::Replica(n) => Some(replica_name(n)),
            Part::Composer => None,
        }
    }
}

fn replica_name(n: u8) -> &'static str {
    let index = usize::from(n.clamp(1, MAX_REPLICAS) - 1);
    REPLICA_NAMES[index]
}

/// Paths and ports of one local system.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Root of everything the system writes.
    pub data: PathBuf,
    /// Directory holding the node binaries and edge-host.
    pub bin_dir: PathBuf,
    /// The composer's `.wasm`.
    pub component: PathBuf,
    /// The composer's port; the nodes listen on the next three, the replicas after them.
    pub base_port: u16,
    /// How many catalog read replicas run (0 to [`MAX_REPLICAS`]).
    pub replicas: u8,
}

impl Layout {
    /// Every part, in start order (each only needs the ones before it).
    pub fn parts(&self) -> Vec<Part> {
        let mut parts = vec![Part::Catalog];
        parts.extend((1..=self.replicas.min(MAX_REPLICAS)).map(Part::Replica));
        parts.extend([Part::Orders, Part::Search, Part::Composer]);
        parts
    }

    /// The base URLs product reads go to: the replicas when there are any.
    pub fn read_urls(&self) -> Vec<String> {
        (1..=self.replicas.min(MAX_REPLICAS))
            .map(|n| self.url(Part::Replica(n)))
            .collect()
    }

    /// The port `part` listens on.
    pub fn port(&self, part: Part) -> u16 {
        self.base_port + part.port_offset()
    }

    /// The base URL of `part`.
    pub fn url(&self, part: Part) -> String {
        format!("http://127.0.0.1:{}", self.port(part))
    }

    /// The binary that runs `part`.
    pub fn binary(&self, part: Part) -> PathBuf {
        self.bin_dir.join(part.binary())
    }

    /// The store directory of `part`, if it has one.
    pub fn store(&self, part: Part) -> Option<PathBuf> {
        part.data_subdir().map(|dir| self.data.join(dir))
    }

    /// Where `part` writes its log.
    pub fn log(&self, part: Part) -> PathBuf {
        self.logs().join(format!("{}.log", part.name()))
    }

    /// The directory of the processes' logs.
    pub fn logs(&self) -> PathBuf {
        self.data.join("logs")
    }

    /// The directory of this run's tokens and callers files (owner-only).
    pub fn secrets(&self) -> PathBuf {
        self.data.join("secrets")
    }

    /// The stack's own bookkeeping (demo orders placed, the running system's ports).
    pub fn own(&self) -> PathBuf {
        self.data.join("stack")
    }

    /// The file a running `up` describes itself in, for `status`.
    pub fn state_file(&self) -> PathBuf {
        self.own().join("running.json")
    }
}

/// The component's path when the binaries are in `bin_dir` (`<target>/<profile>`): the
/// release wasm32-wasip2 build that `up` makes in its own target directory inside the same
/// target directory (see [`crate::toolchain::build`]).
pub fn component_beside(bin_dir: &Path) -> PathBuf {
    let target = bin_dir.parent().unwrap_or(bin_dir);
    crate::toolchain::component_target_dir(target).join("wasm32-wasip2/release/edge_composer.wasm")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_follow_the_architecture() {
        let layout = Layout {
            data: PathBuf::from("d"),
            bin_dir: PathBuf::from("t/release"),
            component: component_beside(Path::new("t/release")),
            base_port: DEFAULT_BASE_PORT,
            replicas: 2,
        };
        assert_eq!(layout.port(Part::Composer), 7000);
        assert_eq!(layout.port(Part::Replica(1)), 7004);
        assert_eq!(layout.port(Part::Replica(2)), 7005);
        assert_eq!(
            layout.parts(),
            [
                Part::Catalog,
                Part::Replica(1),
                Part::Replica(2),
                Part::Orders,
                Part::Search,
                Part::Composer
            ]
        );
        assert_eq!(
            layout.store(Part::Replica(2)),
            Some(PathBuf::from("d/catalog-replica-2"))
        );
        assert_eq!(
            layout.binary(Part::Replica(1)),
            PathBuf::from("t/release/catalog-node")
        );
        assert_eq!(layout.port(Part::Catalog), 7001);
        assert_eq!(layout.port(Part::Orders), 7002);
        assert_eq!(layout.port(Part::Search), 7003);
        assert_eq!(
            layout.component,
            PathBuf::from("t/component/wasm32-wasip2/release/edge_composer.wasm")
        );
        assert_eq!(
            layout.binary(Part::Composer),
            PathBuf::from("t/release/edge-host")
        );
        assert_eq!(layout.store(Part::Composer), None);
        assert_eq!(layout.store(Part::Orders), Some(PathBuf::from("d/orders")));
    }
}
