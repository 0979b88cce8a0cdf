//! A raw HTTP/1.1 client over one keep-alive connection: sends the exact bytes it is given,
//! so a request can carry what `reqwest` would refuse or repair (invalid UTF-8 in the target,
//! `..` segments, malformed headers, bad framing), and reads one response back.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// The largest response body read; larger ones (a backup) are read and dropped.
const KEEP_BODY: usize = 64 * 1024;

/// One response.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// The status code.
    pub status: u16,
    /// `Content-Type`, if any.
    pub content_type: Option<String>,
    /// The body (at most [`KEEP_BODY`] bytes of it).
    pub body: Vec<u8>,
}

/// What became of a request.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// A response came back.
    Answered(RawResponse),
    /// The server closed the connection without answering.
    Closed,
    /// No complete response within the time limit.
    TimedOut,
}

/// A connection to one node, re-opened when the server closes it.
pub struct RawConn {
    addr: String,
    stream: Option<(BufReader<OwnedReadHalf>, OwnedWriteHalf)>,
    timeout: Duration,
}

impl RawConn {
    /// A client for `base` (`http://127.0.0.1:PORT`); connects on first use.
    pub fn new(base: &str, timeout: Duration) -> Self {
        Self {
            addr: base.trim_start_matches("http://").to_owned(),
            stream: None,
            timeout,
        }
    }

    /// Sends `request` (a whole HTTP/1.1 request, head and body) and reads one response.
    /// `head` tells whether the request was a HEAD (whose response has no body).
    pub async fn send(&mut self, request: &[u8], head: bool) -> Outcome {
        let reused = self.stream.is_some();
        let outcome = self.send_once(request, head).await;
        // The server may have closed an idle keep-alive connection (after answering a broken
        // request, say) just as this request went out on it: that says nothing about this
        // request, so it is sent once more on a fresh connection.
        if reused && matches!(outcome, Outcome::Closed) {
            return self.send_once(request, head).await;
        }
        outcome
    }

    async fn send_once(&mut self, request: &[u8], head: bool) -> Outcome {
        match tokio::time::timeout(self.timeout, self.exchange(request, head)).await {
            Ok(Ok(Some((response, keep)))) => {
                if !keep {
                    self.stream = None;
                }
                Outcome::Answered(response)
            }
            Ok(Ok(None)) | Ok(Err(_)) => {
                self.stream = None;
                Outcome::Closed
            }
            Err(_) => {
                self.stream = None;
                Outcome::TimedOut
            }
        }
    }

    async fn exchange(
        &mut self,
        request: &[u8],
        head: bool,
    ) -> std::io::Result<Option<(RawResponse, bool)>> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(&self.addr).await?;
            stream.set_nodelay(true)?;
            let (read, write) = stream.into_split();
            self.stream = Some((BufReader::new(read), write));
        }
        let Some((reader, writer)) = self.stream.as_mut() else {
            return Ok(None);
        };
        // Write and read at once: a server may answer (413) before reading the whole body
        // and stop reading; what it answered is what the test wants.
        let write = writer.write_all(request);
        let read = read_response(reader, head);
        tokio::pin!(write, read);
        let mut written: Option<std::io::Result<()>> = None;
        let response = loop {
            tokio::select! {
                done = &mut write, if written.is_none() => written = Some(done),
                response = &mut read => break response,
            }
        };
        match (written, response) {
            (Some(Ok(())), Ok(Some(r))) => Ok(Some(r)),
            // Answered before the request was fully sent: the connection is out of step.
            (_, Ok(Some((r, _)))) => Ok(Some((r, false))),
            (_, other) => other,
        }
    }
}

async fn read_response(
    stream: &mut BufReader<OwnedReadHalf>,
    head: bool,
) -> std::io::Result<Option<(RawResponse, bool)>> {
    let mut line = String::new();
    if stream.read_line(&mut line).await? == 0 {
        return Ok(None);
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let mut length: Option<usize> = None;
    let mut chunked = false;
    let mut close = false;
    let mut content_type = None;
    loop {
        line.clear();
        if stream.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        let Some((name, value)) = trimmed.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.parse().ok(),
            "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
            "connection" => close = value.eq_ignore_ascii_case("close"),
            "content-type" => content_type = Some(value.to_owned()),
            _ => {}
        }
    }
    let mut body = Vec::new();
    if head || status == 204 || status == 304 || (100..200).contains(&status) {
        // No body.
    } else if chunked {
        loop {
            line.clear();
            stream.read_line(&mut line).await?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| std::io::Error::other(format!("bad chunk size {line:?}")))?;
            if size == 0 {
                // Trailers, then the blank line.
                loop {
                    line.clear();
                    if stream.read_line(&mut line).await? == 0 || line.trim().is_empty() {
                        break;
                    }
                }
                break;
            }
            read_into(stream, size, &mut body).await?;
            line.clear();
            stream.read_line(&mut line).await?;
        }
    } else if let Some(n) = length {
        read_into(stream, n, &mut body).await?;
    } else {
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).await?;
        body.extend_from_slice(&rest[..rest.len().min(KEEP_BODY)]);
        close = true;
    }
    Ok(Some((
        RawResponse {
            status,
            content_type,
            body,
        },
        !close,
    )))
}

/// Reads exactly `n` bytes, keeping at most [`KEEP_BODY`] in `body`.
async fn read_into(
    stream: &mut BufReader<OwnedReadHalf>,
    mut n: usize,
    body: &mut Vec<u8>,
) -> std::io::Result<()> {
    let mut buf = [0u8; 16 * 1024];
    while n > 0 {
        let want = n.min(buf.len());
        stream.read_exact(&mut buf[..want]).await?;
        let keep = KEEP_BODY.saturating_sub(body.len()).min(want);
        body.extend_from_slice(&buf[..keep]);
        n -= want;
    }
    Ok(())
}
