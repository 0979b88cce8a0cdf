//! Half-sent request heads by the thousand, against servers started under an open-files limit
//! of 1,024 (a shell's and systemd's usual default).

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::system::{System, Target, env, raise_own_file_limit};

/// Header timeout the servers run with here (the default is 10 s; shorter keeps the test
/// short, the mechanism is the same).
const HEADER_TIMEOUT: Duration = Duration::from_secs(3);

/// How long past the header timeout a closed connection may take to be noticed.
const SLACK: Duration = Duration::from_secs(3);

const FILE_LIMIT: u64 = 1024;

/// Connections opened per server.
fn connections() -> usize {
    if crate::long() { 20_000 } else { 5_000 }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_heads_are_cut_off_and_no_server_exits() {
    let _serial = crate::SERIAL.lock().await;
    let own = raise_own_file_limit();
    let wanted = connections();
    // Our side needs a descriptor per connection too.
    let n = wanted.min(usize::try_from(own.saturating_sub(256)).unwrap_or(usize::MAX));
    if n < wanted {
        eprintln!(
            "NOTE: this process may open only {own} files; {n} connections per server \
             instead of {wanted}"
        );
    }
    let system = System::start(
        &env(&[(
            "HTTP_HEADER_TIMEOUT_SECS",
            &HEADER_TIMEOUT.as_secs().to_string(),
        )]),
        Some(FILE_LIMIT),
    )
    .await;
    for target in system.targets() {
        flood(&system, &target, n).await;
    }
    for target in system.targets() {
        assert!(target.alive(), "{} exited:\n{}", target.name, system.logs());
    }
}

async fn flood(system: &System, target: &Target, n: usize) {
    let started = Instant::now();
    let mut held = Vec::with_capacity(n);
    let mut refused = 0usize;
    // Connect in waves: a wave waits at most a second for connections the kernel's backlog
    // no longer takes (those count as refused).
    for wave in (0..n).collect::<Vec<_>>().chunks(500) {
        let attempts = wave.iter().map(|_| async {
            let connect = TcpStream::connect(target.addr());
            let mut stream = tokio::time::timeout(Duration::from_secs(1), connect)
                .await
                .ok()?
                .ok()?;
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .await
                .ok()?;
            Some(stream)
        });
        for outcome in futures::future::join_all(attempts).await {
            match outcome {
                Some(stream) => held.push(stream),
                None => refused += 1,
            }
        }
    }
    let opened_in = started.elapsed();
    assert!(
        target.alive(),
        "{} exited under {n} half-sent heads:\n{}",
        target.name,
        system.logs()
    );

    // Every held connection is closed by the server (EOF, a reset, or the 503 given to a
    // connection over the cap) by the header timeout plus slack after it was opened.
    let deadline = tokio::time::Instant::now() + HEADER_TIMEOUT + SLACK;
    let closes = held.into_iter().map(|mut stream| async move {
        let mut buf = [0u8; 512];
        loop {
            match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
                Err(_) => return false,
                Ok(Ok(0) | Err(_)) => return true,
                Ok(Ok(_)) => {}
            }
        }
    });
    let outcomes = futures::future::join_all(closes).await;
    let still_open = outcomes.iter().filter(|closed| !**closed).count();
    let closed_in = started.elapsed();
    assert_eq!(
        still_open,
        0,
        "{}: {still_open} of {} half-sent connections still open {closed_in:?} after the flood began",
        target.name,
        outcomes.len()
    );

    // Ordinary requests succeed again within the header timeout.
    let recovered = Instant::now();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    loop {
        let ok = client
            .get(format!("{}/healthz", target.base))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        if ok {
            break;
        }
        assert!(
            recovered.elapsed() < HEADER_TIMEOUT,
            "{} still refuses ordinary requests {:?} after the flood was closed:\n{}",
            target.name,
            recovered.elapsed(),
            system.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "{}: {n} half-sent heads ({refused} not even connected) opened in {opened_in:?}; all \
         closed by {closed_in:?}; served again after {:?}",
        target.name,
        recovered.elapsed()
    );
}
