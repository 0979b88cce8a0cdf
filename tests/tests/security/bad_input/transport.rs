//! Defects in the HTTP framing and head (`transport`): requests written out byte by byte,
//! as no client library would send them.

use system_tests::Rng;

use super::cases::{Draft, Expect};
use crate::Operation;

/// A request with broken framing or a broken head for `op`, as raw bytes, and what its
/// answer must look like. Path ids name nothing, so that a handler that runs before the body
/// is read finds nothing to change.
pub(super) fn broken_request(rng: &mut Rng, op: &Operation, d: &mut Draft) -> (Draft, Expect) {
    d.path = op.path_with(|_, _| "zz-missing-1".to_owned());
    let mut expect = Expect::Transport;
    let body = d.body.clone().unwrap_or_else(|| b"{}".to_vec());
    let head = |method: &str, path: &str| format!("{method} {path} HTTP/1.1\r\nhost: fuzz\r\n");
    let raw: Vec<u8> = match rng.below(12) {
        0 => [head(&d.method, &d.path).as_bytes(), b"content-length: abc\r\n\r\n"].concat(),
        1 => [
            head(&d.method, &d.path).as_bytes(),
            b"content-length: 5\r\ncontent-length: 6\r\n\r\nhello!",
        ]
        .concat(),
        2 => [
            head(&d.method, &d.path).as_bytes(),
            b"content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
        ]
        .concat(),
        3 => [
            head(&d.method, &d.path).as_bytes(),
            b"content-type: application/json\r\ntransfer-encoding: chunked\r\ncontent-length: 2\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
        ]
        .concat(),
        4 => {
            expect = Expect::UnknownVersion;
            format!("{} {} HTTP/9.9\r\nhost: fuzz\r\n\r\n", d.method, d.path).into_bytes()
        }
        5 => format!("{} {} extra HTTP/1.1\r\nhost: fuzz\r\n\r\n", d.method, d.path).into_bytes(),
        6 => [head(&d.method, &d.path).as_bytes(), b"bad header line\r\n\r\n"].concat(),
        7 => [head(&d.method, &d.path).as_bytes(), b"x-a: 1\r\n folded: 2\r\n\r\n"].concat(),
        8 => [head(&d.method, &d.path).as_bytes(), b"x-nul: a\x00b\r\n\r\n"].concat(),
        9 => {
            let mut h = head(&d.method, &d.path);
            for i in 0..rng.size(101, 300) {
                h.push_str(&format!("x-h{i}: {i}\r\n"));
            }
            h.push_str("\r\n");
            h.into_bytes()
        }
        10 => [
            head(&d.method, &d.path).as_bytes(),
            format!("x-big: {}\r\n\r\n", "b".repeat(rng.size(70_000, 500_000))).as_bytes(),
        ]
        .concat(),
        _ => {
            // Raw bytes that are not ASCII in the request target.
            let mut v = format!("{} {}", d.method, d.path).into_bytes();
            v.extend_from_slice(rng.pick::<&[u8]>(&[b"\xFF\xFE", b"\xC3\xA9", b"\x7F", b"\t"]));
            v.extend_from_slice(b" HTTP/1.1\r\nhost: fuzz\r\n");
            v.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
            v.extend_from_slice(&body);
            v
        }
    };
    (Draft::raw(raw), expect)
}
