//! `Range: bytes=...` parsing (RFC 9110 §14.1.2), bounded and coalesced so it cannot amplify load.

/// An inclusive byte range within a representation: `start..=end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    /// First byte offset.
    pub start: u64,
    /// Last byte offset, inclusive.
    pub end: u64,
}

impl ByteRange {
    /// Number of bytes in the range.
    pub fn len(&self) -> u64 {
        self.end - self.start + 1
    }
}

/// The most range-specs one header may carry before usher ignores it and sends the whole.
pub const MAX_RANGES: usize = 32;

/// What a `Range` header means for a representation of a given length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeOutcome {
    /// Invalid syntax, an unknown unit, or too many ranges: ignore it, answer 200 (§14.2).
    Ignore,
    /// One or more satisfiable ranges, sorted and coalesced.
    Satisfiable(Vec<ByteRange>),
    /// Valid syntax but no range overlaps the representation: 416.
    Unsatisfiable,
}

/// Interpret a `Range` header value against a representation of `len` bytes.
pub fn parse(value: &[u8], len: u64) -> RangeOutcome {
    let _ = (value, len);
    todo!()
}
