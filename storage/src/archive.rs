//! The backup archive: one self-describing, checksummed file holding a consistent copy of one
//! node's store, the same format for every node.
//!
//! ```text
//! "DBPS-BAK"            8 bytes of magic
//! format version        u16, little-endian (FORMAT_VERSION)
//! frame*                u32 little-endian length, then that many bytes: a chassis codec
//!                       value (schema tag + bincode) of one frame
//!   Header              node kind, the point the copy represents, when, by what build
//!   Entry*              a key/value record of a named collection, or a chunk of a file
//!   End                 how many entries came before it
//! SHA-256               32 bytes over everything before them
//! ```
//!
//! A reader checks the magic, the version and the header before anything else, refuses a
//! frame longer than [`MAX_FRAME`], and only trusts the entries once the end frame, the entry
//! count and the digest all match: a truncated or damaged file is always detected, so a
//! restore can verify the whole archive before it writes anything. File chunks must name a
//! plain file (no directories, no `..`) and arrive in order, so a restore cannot be led to
//! write outside its directory or to leave holes in a file.

use std::collections::HashSet;
use std::fmt;
use std::io::{self, Read, Write};
use std::path::Path;

use bincode::{Decode, Encode};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::codec::{self, CodecError, Record};

/// The first bytes of every archive.
pub const MAGIC: &[u8; 8] = b"DBPS-BAK";
/// The archive layout this build writes and reads.
pub const FORMAT_VERSION: u16 = 1;
/// Largest frame accepted, in bytes; bounds what a damaged length can make a reader allocate.
pub const MAX_FRAME: usize = 16 * 1024 * 1024;
/// Size of the chunks files are cut into.
pub const CHUNK: usize = 1024 * 1024;

/// The point in a node's history that an archive represents.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Point {
    /// What is counted: `seq` (catalog feed), `commit` (order commits), `cursor` (search).
    pub name: String,
    /// Its value at the moment of the copy.
    pub value: u64,
}

impl fmt::Display for Point {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name, self.value)
    }
}

/// What an archive holds, written before its entries.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Header {
    /// The kind of node whose store this is (`catalog`, `orders`, `search`).
    pub kind: String,
    /// The point the copy represents.
    pub point: Point,
    /// When the copy was taken, ms since the epoch.
    pub created_ms: u64,
    /// The build that took it, e.g. `catalog-node 0.1.0`.
    pub producer: String,
}

/// One piece of a store.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum Entry {
    /// A key and its value in a named collection (a sled tree, say).
    Record {
        /// The collection.
        collection: Vec<u8>,
        /// The key.
        key: Vec<u8>,
        /// The value.
        value: Vec<u8>,
    },
    /// Bytes of a file, at `offset`; a file's chunks come in order, one after the other.
    Chunk {
        /// A plain file name.
        path: String,
        /// Where these bytes go in the file.
        offset: u64,
        /// The bytes.
        bytes: Vec<u8>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
enum Frame {
    Header(Header),
    Entry(Entry),
    End { entries: u64 },
}

impl Record for Frame {
    const SCHEMA: u8 = 1;
    const KIND: &'static str = "archive frame";
}

/// What a complete archive held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Its header.
    pub header: Header,
    /// Entries between the header and the end frame.
    pub entries: u64,
    /// Size of the archive in bytes.
    pub bytes: u64,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = &self.header;
        write!(
            f,
            "{} backup at {}, taken {} by {} ({} entries, {} bytes)",
            h.kind,
            h.point,
            crate::clock::rfc3339(h.created_ms),
            h.producer,
            self.entries,
            self.bytes
        )
    }
}

/// An archive that cannot be written or read.
#[derive(Debug, Error)]
pub enum ArchiveError {
    /// Reading or writing failed.
    #[error("archive I/O failed: {0}")]
    Io(#[from] io::Error),
    /// The file does not start with the magic.
    #[error(
        "not a backup archive (it does not start with {:?})",
        String::from_utf8_lossy(MAGIC)
    )]
    NotAnArchive,
    /// The file was written in a layout this build does not know.
    #[error("archive format v{found} is not supported by this build (it reads v{supported})")]
    UnsupportedVersion {
        /// The version found.
        found: u16,
        /// The version this build reads.
        supported: u16,
    },
    /// The file ends early.
    #[error("the archive is truncated: it ends before its end marker and checksum")]
    Truncated,
    /// The content does not match the digest.
    #[error("the archive's checksum does not match its content: the file is damaged")]
    Checksum,
    /// The file is structurally wrong.
    #[error("the archive is corrupt: {0}")]
    Corrupt(String),
    /// The archive belongs to another kind of node.
    #[error("this is a backup of kind {found:?}; this node restores kind {expected:?}")]
    WrongKind {
        /// The kind asked for.
        expected: String,
        /// The kind in the header.
        found: String,
    },
    /// A value is too large to frame.
    #[error("an archive frame of {0} bytes exceeds the limit of {MAX_FRAME}")]
    FrameTooLarge(usize),
}

impl From<CodecError> for ArchiveError {
    fn from(e: CodecError) -> Self {
        ArchiveError::Corrupt(e.to_string())
    }
}

fn eof_is_truncation(e: io::Error) -> ArchiveError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        ArchiveError::Truncated
    } else {
        ArchiveError::Io(e)
    }
}

/// Whether `path` is a plain file name: no directories, no `.` or `..`, nothing hidden.
pub fn is_plain_file_name(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('.')
        && !path.contains(['/', '\\', '\0'])
        && Path::new(path).file_name().is_some_and(|n| n == path)
}

/// Writes an archive: the header first, then entries, then [`ArchiveWriter::finish`].
pub struct ArchiveWriter<W: Write> {
    out: W,
    hasher: Sha256,
    entries: u64,
    bytes: u64,
    header: Header,
}

impl<W: Write> ArchiveWriter<W> {
    /// Starts an archive with `header`.
    pub fn new(out: W, header: Header) -> Result<Self, ArchiveError> {
        let mut writer = Self {
            out,
            hasher: Sha256::new(),
            entries: 0,
            bytes: 0,
            header: header.clone(),
        };
        writer.raw(MAGIC)?;
        writer.raw(&FORMAT_VERSION.to_le_bytes())?;
        writer.frame(&Frame::Header(header))?;
        Ok(writer)
    }

    fn raw(&mut self, bytes: &[u8]) -> Result<(), ArchiveError> {
        self.out.write_all(bytes)?;
        self.hasher.update(bytes);
        self.bytes += bytes.len() as u64;
        Ok(())
    }

    fn frame(&mut self, frame: &Frame) -> Result<(), ArchiveError> {
        let body = codec::encode(frame)?;
        let len = u32::try_from(body.len())
            .ok()
            .filter(|&n| n as usize <= MAX_FRAME)
            .ok_or(ArchiveError::FrameTooLarge(body.len()))?;
        self.raw(&len.to_le_bytes())?;
        self.raw(&body)
    }

    /// Adds a key/value record of `collection`.
    pub fn record(
        &mut self,
        collection: &[u8],
        key: &[u8],
        value: &[u8],
    ) -> Result<(), ArchiveError> {
        self.entries += 1;
        self.frame(&Frame::Entry(Entry::Record {
            collection: collection.to_vec(),
            key: key.to_vec(),
            value: value.to_vec(),
        }))
    }

    /// Adds the file `path` (a plain file name) with everything `content` yields; returns its
    /// length. An empty file is one empty chunk, so that it is restored too.
    pub fn file(&mut self, path: &str, mut content: impl Read) -> Result<u64, ArchiveError> {
        if !is_plain_file_name(path) {
            return Err(ArchiveError::Corrupt(format!(
                "{path:?} is not a plain file name"
            )));
        }
        let mut offset = 0u64;
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = read_full(&mut content, &mut buf)?;
            if n == 0 && offset > 0 {
                return Ok(offset);
            }
            self.entries += 1;
            self.frame(&Frame::Entry(Entry::Chunk {
                path: path.to_owned(),
                offset,
                bytes: buf[..n].to_vec(),
            }))?;
            offset += n as u64;
            if n < buf.len() {
                return Ok(offset);
            }
        }
    }

    /// Writes the end frame and the digest; returns the output and what was written.
    pub fn finish(mut self) -> Result<(W, Summary), ArchiveError> {
        self.frame(&Frame::End {
            entries: self.entries,
        })?;
        let digest = self.hasher.finalize_reset();
        self.out.write_all(&digest)?;
        self.out.flush()?;
        let summary = Summary {
            header: self.header,
            entries: self.entries,
            bytes: self.bytes + digest.len() as u64,
        };
        Ok((self.out, summary))
    }
}

/// Reads until `buf` is full or the input ends; returns how much was read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Reads an archive entry by entry, checking everything on the way.
pub struct ArchiveReader<R: Read> {
    input: R,
    hasher: Sha256,
    bytes: u64,
    header: Header,
    entries: u64,
    // The file whose chunks are arriving, with the length received so far.
    current_file: Option<(String, u64)>,
    finished_files: HashSet<String>,
    done: bool,
}

impl<R: Read> ArchiveReader<R> {
    /// Reads the magic, the version and the header.
    pub fn open(input: R) -> Result<Self, ArchiveError> {
        let mut reader = Self {
            input,
            hasher: Sha256::new(),
            bytes: 0,
            header: Header {
                kind: String::new(),
                point: Point {
                    name: String::new(),
                    value: 0,
                },
                created_ms: 0,
                producer: String::new(),
            },
            entries: 0,
            current_file: None,
            finished_files: HashSet::new(),
            done: false,
        };
        let mut magic = [0u8; 8];
        let n = read_full(&mut reader.input, &mut magic)?;
        if n < magic.len() || &magic != MAGIC {
            return Err(ArchiveError::NotAnArchive);
        }
        reader.hash(&magic);
        let mut version = [0u8; 2];
        reader.exact(&mut version)?;
        let found = u16::from_le_bytes(version);
        if found != FORMAT_VERSION {
            return Err(ArchiveError::UnsupportedVersion {
                found,
                supported: FORMAT_VERSION,
            });
        }
        match reader.frame()? {
            Frame::Header(header) => reader.header = header,
            _ => {
                return Err(ArchiveError::Corrupt(
                    "the first frame is not the header".into(),
                ));
            }
        }
        Ok(reader)
    }

    /// Like [`Self::open`], refusing an archive of another kind of node.
    pub fn open_kind(input: R, kind: &str) -> Result<Self, ArchiveError> {
        let reader = Self::open(input)?;
        if reader.header.kind != kind {
            return Err(ArchiveError::WrongKind {
                expected: kind.to_owned(),
                found: reader.header.kind.clone(),
            });
        }
        Ok(reader)
    }

    /// The archive's header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    fn hash(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.bytes += bytes.len() as u64;
    }

    fn exact(&mut self, buf: &mut [u8]) -> Result<(), ArchiveError> {
        self.input.read_exact(buf).map_err(eof_is_truncation)?;
        self.hash(buf);
        Ok(())
    }

    fn frame(&mut self) -> Result<Frame, ArchiveError> {
        let mut len = [0u8; 4];
        self.exact(&mut len)?;
        let len = u32::from_le_bytes(len) as usize;
        if len > MAX_FRAME {
            return Err(ArchiveError::Corrupt(format!(
                "a frame claims {len} bytes, more than the limit of {MAX_FRAME}"
            )));
        }
        // Grow the buffer as bytes arrive rather than trusting the length up front.
        let mut body = Vec::new();
        (&mut self.input).take(len as u64).read_to_end(&mut body)?;
        if body.len() < len {
            return Err(ArchiveError::Truncated);
        }
        self.hash(&body);
        Ok(codec::decode(&body)?)
    }

    /// The next entry, or `None` once the end frame, the entry count and the digest have
    /// been checked and nothing follows them.
    pub fn next_entry(&mut self) -> Result<Option<Entry>, ArchiveError> {
        if self.done {
            return Ok(None);
        }
        match self.frame()? {
            Frame::Header(_) => Err(ArchiveError::Corrupt("a second header".into())),
            Frame::Entry(entry) => {
                self.entries += 1;
                if let Entry::Chunk {
                    path,
                    offset,
                    bytes,
                } = &entry
                {
                    self.check_chunk(path, *offset, bytes.len() as u64)?;
                }
                Ok(Some(entry))
            }
            Frame::End { entries } => {
                if entries != self.entries {
                    return Err(ArchiveError::Corrupt(format!(
                        "the end frame counts {entries} entries, the archive holds {}",
                        self.entries
                    )));
                }
                let expected = self.hasher.finalize_reset();
                let mut digest = [0u8; 32];
                self.input
                    .read_exact(&mut digest)
                    .map_err(eof_is_truncation)?;
                if digest[..] != expected[..] {
                    return Err(ArchiveError::Checksum);
                }
                let mut extra = [0u8; 1];
                if read_full(&mut self.input, &mut extra)? != 0 {
                    return Err(ArchiveError::Corrupt("bytes follow the checksum".into()));
                }
                self.bytes += digest.len() as u64;
                self.done = true;
                Ok(None)
            }
        }
    }

    fn check_chunk(&mut self, path: &str, offset: u64, len: u64) -> Result<(), ArchiveError> {
        if !is_plain_file_name(path) {
            return Err(ArchiveError::Corrupt(format!(
                "{path:?} is not a plain file name"
            )));
        }
        match &mut self.current_file {
            Some((current, received)) if current == path => {
                if offset != *received {
                    return Err(ArchiveError::Corrupt(format!(
                        "{path}: a chunk at offset {offset}, expected {received}"
                    )));
                }
                *received += len;
                return Ok(());
            }
            _ => {}
        }
        if let Some((done, _)) = self.current_file.take() {
            self.finished_files.insert(done);
        }
        if offset != 0 || self.finished_files.contains(path) {
            return Err(ArchiveError::Corrupt(format!(
                "{path}: chunks out of order"
            )));
        }
        self.current_file = Some((path.to_owned(), len));
        Ok(())
    }

    /// Reads whatever entries remain and checks the end; returns what the archive held.
    pub fn finish(mut self) -> Result<Summary, ArchiveError> {
        while self.next_entry()?.is_some() {}
        Ok(Summary {
            header: self.header,
            entries: self.entries,
            bytes: self.bytes,
        })
    }
}

/// Checks the archive at `path` from end to end (kind, structure, checksum) without
/// writing anything.
pub fn verify_file(path: &Path, kind: &str) -> Result<Summary, ArchiveError> {
    let file = std::fs::File::open(path)?;
    ArchiveReader::open_kind(io::BufReader::new(file), kind)?.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(kind: &str) -> Header {
        Header {
            kind: kind.into(),
            point: Point {
                name: "seq".into(),
                value: 42,
            },
            created_ms: 1,
            producer: "test".into(),
        }
    }

    fn sample() -> Vec<u8> {
        let mut w = ArchiveWriter::new(Vec::new(), header("catalog")).unwrap();
        w.record(b"products", b"a", b"1").unwrap();
        w.record(b"meta", b"seq", b"").unwrap();
        let big: Vec<u8> = (0..CHUNK * 2 + 10).map(|i| (i % 251) as u8).collect();
        assert_eq!(w.file("big.bin", &big[..]).unwrap(), big.len() as u64);
        assert_eq!(w.file("empty", &[][..]).unwrap(), 0);
        let (bytes, summary) = w.finish().unwrap();
        assert_eq!(summary.bytes, bytes.len() as u64);
        assert_eq!(summary.entries, 2 + 3 + 1);
        bytes
    }

    fn read_all(bytes: &[u8], kind: &str) -> Result<(Summary, Vec<Entry>), ArchiveError> {
        let mut r = ArchiveReader::open_kind(bytes, kind)?;
        let mut entries = Vec::new();
        while let Some(e) = r.next_entry()? {
            entries.push(e);
        }
        Ok((r.finish()?, entries))
    }

    #[test]
    fn round_trips() {
        let bytes = sample();
        let (summary, entries) = read_all(&bytes, "catalog").unwrap();
        assert_eq!(summary.header, header("catalog"));
        assert_eq!(summary.entries, 6);
        assert_eq!(summary.bytes, bytes.len() as u64);
        assert_eq!(
            entries[0],
            Entry::Record {
                collection: b"products".to_vec(),
                key: b"a".to_vec(),
                value: b"1".to_vec()
            }
        );
        let big: Vec<u8> = entries
            .iter()
            .filter_map(|e| match e {
                Entry::Chunk { path, bytes, .. } if path == "big.bin" => Some(bytes.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(big.len(), CHUNK * 2 + 10);
        assert!(matches!(
            &entries[5],
            Entry::Chunk { path, offset: 0, bytes } if path == "empty" && bytes.is_empty()
        ));
    }

    #[test]
    fn refuses_damage_of_every_kind() {
        let bytes = sample();
        assert!(matches!(
            read_all(&bytes, "orders"),
            Err(ArchiveError::WrongKind { .. })
        ));
        assert!(matches!(
            read_all(b"hello world", "catalog"),
            Err(ArchiveError::NotAnArchive)
        ));
        let mut newer = bytes.clone();
        newer[8] = 9;
        assert!(matches!(
            read_all(&newer, "catalog"),
            Err(ArchiveError::UnsupportedVersion { found: 9, .. })
        ));
        for cut in [12, 40, bytes.len() / 2, bytes.len() - 33, bytes.len() - 1] {
            let err = read_all(&bytes[..cut], "catalog").unwrap_err();
            assert!(
                matches!(err, ArchiveError::Truncated | ArchiveError::Corrupt(_)),
                "cut at {cut}: {err}"
            );
        }
        // A flipped byte inside a chunk decodes fine; only the digest catches it.
        let mut flipped = bytes.clone();
        flipped[5000] ^= 0x55;
        assert!(matches!(
            read_all(&flipped, "catalog"),
            Err(ArchiveError::Checksum)
        ));
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(
            read_all(&longer, "catalog"),
            Err(ArchiveError::Corrupt(_))
        ));
    }

    /// A small archive of every entry kind, for the damage campaign below.
    fn small_sample() -> Vec<u8> {
        let mut w = ArchiveWriter::new(Vec::new(), header("orders")).unwrap();
        for i in 0..20u32 {
            w.record(b"orders", &i.to_be_bytes(), format!("order {i}").as_bytes())
                .unwrap();
        }
        let file: Vec<u8> = (0..3000).map(|i| (i % 251) as u8).collect();
        w.file("orders.redb", &file[..]).unwrap();
        w.finish().unwrap().0
    }

    /// 10,000 randomly damaged archives (flipped, overwritten, inserted and removed bytes,
    /// truncation, huge length prefixes): every one is refused with an error, none aborts
    /// the process or allocates what a damaged length claims.
    #[test]
    fn randomly_damaged_archives_are_refused_never_aborted() {
        let good = small_sample();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let cases = std::env::var("ARCHIVE_DAMAGE_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(10_000);
        for case in 0..cases {
            let mut bad = good.clone();
            for _ in 0..=(next() % 3) {
                let at = (next() as usize) % bad.len().max(1);
                match next() % 6 {
                    0 => bad[at] ^= 1 << (next() % 8),
                    1 => bad[at] = next() as u8,
                    2 => bad.truncate(at),
                    3 => bad.insert(at, next() as u8),
                    4 => {
                        bad.remove(at.min(bad.len().saturating_sub(1)));
                    }
                    _ => {
                        // A length prefix claiming far more than there is.
                        let end = (at + 4).min(bad.len());
                        let huge = (next() as u32 | 0x8000_0000).to_le_bytes();
                        let n = end - at;
                        bad[at..end].copy_from_slice(&huge[..n]);
                    }
                }
                if bad.is_empty() {
                    break;
                }
            }
            match read_all(&bad, "orders") {
                Ok(_) => assert_eq!(bad, good, "case {case}: damage went unnoticed"),
                Err(e) => assert!(!e.to_string().is_empty(), "case {case}"),
            }
        }
    }

    #[test]
    fn file_names_must_be_plain() {
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            "/etc/passwd",
            ".hidden",
            "a\\b",
        ] {
            assert!(!is_plain_file_name(bad), "{bad:?}");
        }
        for good in ["meta.json", "orders.redb", "0a1b.idx", "x.12.del"] {
            assert!(is_plain_file_name(good), "{good:?}");
        }
        let mut w = ArchiveWriter::new(Vec::new(), header("search")).unwrap();
        assert!(w.file("../escape", &b"x"[..]).is_err());
    }

    #[test]
    fn chunks_must_arrive_in_order() {
        let mut w = ArchiveWriter::new(Vec::new(), header("search")).unwrap();
        w.frame(&Frame::Entry(Entry::Chunk {
            path: "a".into(),
            offset: 5,
            bytes: vec![1],
        }))
        .unwrap();
        w.entries += 1;
        let (bytes, _) = w.finish().unwrap();
        assert!(matches!(
            read_all(&bytes, "search"),
            Err(ArchiveError::Corrupt(_))
        ));
    }
}
