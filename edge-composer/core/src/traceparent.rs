//! W3C Trace Context (`traceparent`): what the composer continues, or starts, and passes on
//! with every upstream call.
//!
//! The composer records no spans of its own (a component cannot export them), so it does not
//! mint a span id per call: it passes on the context it was given, and the nodes' spans become
//! children of the last span anyone reports (edge-host's, when edge-host serves it). Only when
//! no valid context comes in does it start a trace, under a parent id of its own.

use std::fmt;

/// A valid `traceparent`: non-zero ids, written as version `00`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    /// The trace every call of the request belongs to.
    pub trace_id: [u8; 16],
    /// The span the calls are children of.
    pub parent_id: [u8; 8],
    /// Trace flags; bit 0 is "sampled".
    pub flags: u8,
}

/// The only flag defined by version `00`.
const SAMPLED: u8 = 0x01;

impl TraceParent {
    /// Parses a header value as the W3C recommendation says: version `ff` and all-zero ids
    /// are invalid, version `00` is exactly 55 characters, a later version may append fields
    /// after a `-`, and hex is lowercase. `None` for anything else: the caller then starts a
    /// trace instead of continuing a broken one.
    pub fn parse(header: &str) -> Option<Self> {
        let header = header.trim_matches(|c| c == ' ' || c == '\t');
        let bytes = header.as_bytes();
        let version = hex_byte(bytes.get(0..2)?)?;
        match (version, bytes.len()) {
            (0xff, _) => return None,
            (0x00, 55) => {}
            (0x00, _) => return None,
            (_, 55) => {}
            (_, n) if n > 55 && bytes[55] == b'-' => {}
            _ => return None,
        }
        if bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
            return None;
        }
        let trace_id: [u8; 16] = hex_array(&bytes[3..35])?;
        let parent_id: [u8; 8] = hex_array(&bytes[36..52])?;
        let flags = hex_byte(&bytes[53..55])?;
        if trace_id == [0; 16] || parent_id == [0; 8] {
            return None;
        }
        Some(Self {
            trace_id,
            parent_id,
            // Flags a later version defines mean nothing to version 00, which is what goes out.
            flags: if version == 0 { flags } else { flags & SAMPLED },
        })
    }

    /// A new sampled trace from 24 random bytes (16 for the trace id, 8 for the parent id);
    /// `None` in the (practically impossible) case that either id comes out all zeros.
    pub fn start(random: [u8; 24]) -> Option<Self> {
        let mut trace_id = [0; 16];
        let mut parent_id = [0; 8];
        trace_id.copy_from_slice(&random[..16]);
        parent_id.copy_from_slice(&random[16..]);
        (trace_id != [0; 16] && parent_id != [0; 8]).then_some(Self {
            trace_id,
            parent_id,
            flags: SAMPLED,
        })
    }

    /// The context of `header` if it is valid, else a new trace from `random`; `None` only if
    /// the random bytes are all zeros.
    pub fn continue_or_start(
        header: Option<&str>,
        random: impl FnOnce() -> [u8; 24],
    ) -> Option<Self> {
        header
            .and_then(Self::parse)
            .or_else(|| Self::start(random()))
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("00-")?;
        self.trace_id
            .iter()
            .try_for_each(|b| write!(f, "{b:02x}"))?;
        f.write_str("-")?;
        self.parent_id
            .iter()
            .try_for_each(|b| write!(f, "{b:02x}"))?;
        write!(f, "-{:02x}", self.flags)
    }
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

fn hex_byte(pair: &[u8]) -> Option<u8> {
    match pair {
        [hi, lo] => Some(hex_digit(*hi)? << 4 | hex_digit(*lo)?),
        _ => None,
    }
}

fn hex_array<const N: usize>(hex: &[u8]) -> Option<[u8; N]> {
    if hex.len() != 2 * N {
        return None;
    }
    let mut out = [0; N];
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        *byte = hex_byte(pair)?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_header_round_trips() {
        let parsed = TraceParent::parse(VALID).unwrap();
        assert_eq!(parsed.trace_id[0], 0x4b);
        assert_eq!(parsed.parent_id[7], 0xb7);
        assert_eq!(parsed.flags, 1);
        assert_eq!(parsed.to_string(), VALID);
        let unsampled = VALID.replace("-01", "-00");
        assert_eq!(
            TraceParent::parse(&unsampled).unwrap().to_string(),
            unsampled
        );
    }

    #[test]
    fn malformed_headers_are_refused() {
        let bad = [
            "",
            "00",
            &VALID.to_uppercase(),
            &VALID.replace(
                "4bf92f3577b34da6a3ce929d0e0e4736",
                "00000000000000000000000000000000",
            ),
            &VALID.replace("00f067aa0ba902b7", "0000000000000000"),
            &format!("ff{}", &VALID[2..]),
            &format!("{VALID}-extra"),
            &VALID[..54],
            &VALID.replace('-', "_"),
            "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
            "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01é",
        ];
        for header in bad {
            assert_eq!(TraceParent::parse(header), None, "{header:?}");
        }
    }

    #[test]
    fn a_later_version_is_read_as_far_as_version_00_goes_and_written_as_00() {
        let later = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03-what-comes-next";
        assert_eq!(TraceParent::parse(later).unwrap().to_string(), VALID);
        assert_eq!(
            TraceParent::parse(&format!("cc{}", &VALID[2..]))
                .unwrap()
                .to_string(),
            VALID
        );
        assert_eq!(TraceParent::parse(&format!("cc{}x", &VALID[2..])), None);
    }

    #[test]
    fn a_valid_header_is_continued_and_anything_else_starts_a_sampled_trace() {
        let random = || {
            let mut bytes = [0u8; 24];
            for (i, b) in bytes.iter_mut().enumerate() {
                *b = i as u8 + 1;
            }
            bytes
        };
        let continued = TraceParent::continue_or_start(Some(VALID), random).unwrap();
        assert_eq!(continued.to_string(), VALID);
        let started = TraceParent::continue_or_start(Some("junk"), random).unwrap();
        assert_eq!(
            started.to_string(),
            "00-0102030405060708090a0b0c0d0e0f10-1112131415161718-01"
        );
        assert_eq!(TraceParent::continue_or_start(None, random), Some(started));
        assert_eq!(TraceParent::continue_or_start(None, || [0; 24]), None);
    }
}
