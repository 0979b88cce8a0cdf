//! Progress of long transfers (backup, restore) on the operator's terminal: a bar on stderr
//! when it is a terminal, nothing otherwise (logs and scripts get the final summary only).

use std::io::{self, Read};

use indicatif::{ProgressBar, ProgressStyle};

/// A byte-counting bar labelled `what`; `total` when it is known.
pub fn bytes(what: &str, total: Option<u64>) -> ProgressBar {
    let (bar, template) = match total {
        Some(total) => (
            ProgressBar::new(total),
            "{msg:>10} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        ),
        None => (
            ProgressBar::new_spinner(),
            "{msg:>10} {spinner} {bytes} {bytes_per_sec}",
        ),
    };
    let style =
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.with_style(style).with_message(what.to_owned())
}

/// A reader that advances a bar by the bytes it reads.
#[derive(Debug)]
pub struct Reading<R> {
    inner: R,
    bar: ProgressBar,
}

impl<R> Reading<R> {
    /// Counts what is read from `inner` on `bar`.
    pub fn new(inner: R, bar: ProgressBar) -> Self {
        Self { inner, bar }
    }
}

impl<R: Read> Read for Reading<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

impl<R> Drop for Reading<R> {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_every_byte_read() {
        let bar = bytes("reading", Some(10));
        let mut reader = Reading::new(&b"0123456789"[..], bar.clone());
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        assert_eq!(out.len(), 10);
        assert_eq!(bar.position(), 10);
    }
}
