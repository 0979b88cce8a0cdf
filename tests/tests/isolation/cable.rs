//! [`Cable`]: a TCP relay in front of one upstream that can be cut and mended.
//!
//! Cut, it still accepts connections and reads whatever arrives, but delivers nothing in
//! either direction: to a client, the upstream is a host that went silent (a hung process,
//! a partition that drops packets). Unlike an HTTP proxy's hang, a cut also silences
//! connections that were open before, such as a client's pooled keep-alive connection.
//! It counts the client connections it holds, so a test can tell when a client gave up on
//! a request and released its socket.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

pub struct Cable {
    base: String,
    cut: Arc<AtomicBool>,
    open: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

/// Decrements the open-connection count when a relayed connection ends.
struct Open(Arc<AtomicUsize>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Cable {
    /// A relay on an ephemeral loopback port to `upstream` (`http://host:port`).
    pub async fn start(upstream: &str) -> Self {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind cable");
        let base = format!("http://{}", listener.local_addr().expect("cable addr"));
        let cut = Arc::new(AtomicBool::new(false));
        let open = Arc::new(AtomicUsize::new(0));
        let (cut2, open2) = (cut.clone(), open.clone());
        let task = tokio::spawn(async move {
            // Dropping the set (when the cable is dropped) ends every relayed connection.
            let mut conns = JoinSet::new();
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                };
                while conns.try_join_next().is_some() {}
                open2.fetch_add(1, Ordering::AcqRel);
                let guard = Open(open2.clone());
                let (cut, upstream) = (cut2.clone(), upstream.clone());
                conns.spawn(async move {
                    let _guard = guard;
                    relay(client, &upstream, &cut).await;
                });
            }
        });
        Self {
            base,
            cut,
            open,
            task,
        }
    }

    /// The relay's base URL.
    pub fn base(&self) -> String {
        self.base.clone()
    }

    /// From now on nothing gets through, on new connections and open ones alike.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::Release);
    }

    /// Traffic flows again (bytes swallowed meanwhile stay lost).
    pub fn mend(&self) {
        self.cut.store(false, Ordering::Release);
    }

    /// Client connections currently held.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// Waits until at most `n` client connections are held; how many are after `within`.
    pub async fn wait_open_at_most(&self, n: usize, within: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + within;
        while self.open() > n && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.open()
    }
}

impl Drop for Cable {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay(client: TcpStream, upstream: &str, cut: &AtomicBool) {
    let _ = client.set_nodelay(true);
    if cut.load(Ordering::Acquire) {
        // A silent host: the connection is accepted, its bytes read, nothing answered.
        swallow(client.into_split().0).await;
        return;
    }
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::select! {
        () = pipe(client_read, server_write, cut) => {}
        () = pipe(server_read, client_write, cut) => {}
    }
}

/// Copies `from` to `to`, dropping what arrives while the cable is cut.
async fn pipe(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, cut: &AtomicBool) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if cut.load(Ordering::Acquire) {
            continue;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Reads until the peer closes.
async fn swallow(mut from: OwnedReadHalf) {
    let mut buf = vec![0u8; 16 * 1024];
    while let Ok(n) = from.read(&mut buf).await {
        if n == 0 {
            return;
        }
    }
}
