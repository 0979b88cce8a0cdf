//! Encoding of stored values: bincode 2 behind a schema-version tag.
//!
//! Every stored value starts with one byte naming the layout it was written in, so a reader
//! never guesses: a value in an older layout is recognised and upgraded by the node's
//! migration code, a value in an unknown layout is refused instead of misread. Each node
//! reaches this only through its own `store::codec` module, and its record types stay its own.

use bincode::{Decode, Encode};
use thiserror::Error;

/// A type stored by this node, with the layout version it is written in.
pub trait Record: Encode + Decode<()> {
    /// Layout version written as the value's first byte.
    const SCHEMA: u8;
    /// Name used in error messages.
    const KIND: &'static str;

    /// Reads a value stored in the older layout `tag`, for a type whose older layouts are
    /// upgraded as they are read rather than by a migration at start-up; `None` refuses it.
    fn decode_older(tag: u8, body: &[u8]) -> Option<Result<Self, CodecError>> {
        let _ = (tag, body);
        None
    }
}

/// A stored value that cannot be read or written.
#[derive(Debug, Error)]
pub enum CodecError {
    /// The value is empty, so it has no schema tag.
    #[error("stored {kind} is empty")]
    Empty {
        /// What was being read.
        kind: &'static str,
    },
    /// The value was written in another layout.
    #[error("stored {kind} has layout v{found}, expected v{expected}")]
    Schema {
        /// What was being read.
        kind: &'static str,
        /// The tag found.
        found: u8,
        /// The tag expected.
        expected: u8,
    },
    /// The bytes do not decode.
    #[error("stored {kind} is corrupt: {source}")]
    Decode {
        /// What was being read.
        kind: &'static str,
        /// bincode's error.
        source: bincode::error::DecodeError,
    },
    /// The bytes decode but are followed by garbage.
    #[error("stored {kind} has {extra} trailing bytes")]
    Trailing {
        /// What was being read.
        kind: &'static str,
        /// How many bytes were left.
        extra: usize,
    },
    /// The value cannot be encoded.
    #[error("cannot encode {kind}: {source}")]
    Encode {
        /// What was being written.
        kind: &'static str,
        /// bincode's error.
        source: bincode::error::EncodeError,
    },
}

fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// The most memory one decoded value may claim: twice the largest archive frame, far above
/// any record a node stores. Without a limit bincode believes a damaged length prefix and
/// asks the allocator for exabytes, which aborts the process instead of failing the read.
pub const DECODE_LIMIT: usize = 32 * 1024 * 1024;

type LimitedConfig = bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Varint,
    bincode::config::Limit<DECODE_LIMIT>,
>;

fn decode_config() -> LimitedConfig {
    bincode::config::standard().with_limit::<DECODE_LIMIT>()
}

/// Encodes `value` as its schema tag followed by its bincode bytes.
pub fn encode<T: Record>(value: &T) -> Result<Vec<u8>, CodecError> {
    let mut out = vec![T::SCHEMA];
    bincode::encode_into_std_write(value, &mut out, config()).map_err(|source| {
        CodecError::Encode {
            kind: T::KIND,
            source,
        }
    })?;
    Ok(out)
}

/// The schema tag of a stored value, if it has one.
pub fn schema_of(bytes: &[u8]) -> Option<u8> {
    bytes.first().copied()
}

/// Decodes a value written by [`encode`] in `T`'s layout.
pub fn decode<T: Record>(bytes: &[u8]) -> Result<T, CodecError> {
    let (&tag, body) = bytes
        .split_first()
        .ok_or(CodecError::Empty { kind: T::KIND })?;
    if tag != T::SCHEMA {
        return T::decode_older(tag, body).unwrap_or(Err(CodecError::Schema {
            kind: T::KIND,
            found: tag,
            expected: T::SCHEMA,
        }));
    }
    decode_layout(T::KIND, body)
}

/// Decodes the bincode bytes of one layout (the value without its tag), all of them.
pub fn decode_layout<L: Decode<()>>(kind: &'static str, body: &[u8]) -> Result<L, CodecError> {
    let (value, read) = bincode::decode_from_slice(body, decode_config())
        .map_err(|source| CodecError::Decode { kind, source })?;
    if read != body.len() {
        return Err(CodecError::Trailing {
            kind,
            extra: body.len() - read,
        });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Encode, Decode)]
    struct Sample {
        a: u64,
        b: String,
    }
    impl Record for Sample {
        const SCHEMA: u8 = 7;
        const KIND: &'static str = "sample";
    }

    #[derive(Debug, PartialEq, Encode, Decode)]
    struct Other(u64);
    impl Record for Other {
        const SCHEMA: u8 = 8;
        const KIND: &'static str = "other";
    }

    #[test]
    fn round_trips_with_its_tag() {
        let s = Sample {
            a: 42,
            b: "x".into(),
        };
        let bytes = encode(&s).unwrap();
        assert_eq!(schema_of(&bytes), Some(7));
        assert_eq!(decode::<Sample>(&bytes).unwrap(), s);
    }

    #[derive(Debug, PartialEq, Encode, Decode)]
    struct Blob(Vec<u8>);
    impl Record for Blob {
        const SCHEMA: u8 = 9;
        const KIND: &'static str = "blob";
    }

    #[test]
    fn a_damaged_length_is_an_error_not_an_allocation() {
        // Tag, then a varint claiming 2^63 bytes of vector, and nothing behind it.
        let mut bytes = vec![9u8, 0xFD];
        bytes.extend_from_slice(&(1u64 << 63).to_le_bytes());
        assert!(matches!(
            decode::<Blob>(&bytes),
            Err(CodecError::Decode { .. })
        ));
        // Every single-byte damage of a real value decodes or fails; none aborts.
        let good = encode(&Sample {
            a: 1 << 40,
            b: "a product name".into(),
        })
        .unwrap();
        for i in 0..good.len() {
            for flip in [0x01u8, 0x80, 0xFF] {
                let mut bad = good.clone();
                bad[i] ^= flip;
                let _ = decode::<Sample>(&bad);
            }
        }
    }

    #[test]
    fn refuses_foreign_layouts_and_damage() {
        let bytes = encode(&Other(1)).unwrap();
        assert!(matches!(
            decode::<Sample>(&bytes),
            Err(CodecError::Schema { found: 8, .. })
        ));
        assert!(matches!(
            decode::<Sample>(&[]),
            Err(CodecError::Empty { .. })
        ));
        let mut long = encode(&Other(1)).unwrap();
        long.push(0);
        assert!(matches!(
            decode::<Other>(&long),
            Err(CodecError::Trailing { .. })
        ));
        assert!(matches!(
            decode::<Sample>(&[7, 0xff]),
            Err(CodecError::Decode { .. })
        ));
    }
}
