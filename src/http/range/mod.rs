//! `Range: bytes=...` parsing (RFC 9110 §14.1.2), bounded and coalesced so it cannot amplify load.
//!
//! ```text
//! Range         = ranges-specifier        ranges-specifier = range-unit "=" range-set
//! range-set     = 1#range-spec            range-spec = int-range / suffix-range / other-range
//! int-range     = first-pos "-" [ last-pos ]
//! suffix-range  = "-" suffix-length
//! ```
//! RFC 9110 §14.2 lets a server ignore a Range it does not like and send the whole
//! representation; usher does so for anything malformed or excessive, because a 200 is always
//! correct and costs no more than the file. Overlapping and adjacent ranges are merged
//! (§14.2 allows coalescing), so the bytes sent never exceed the representation's length.

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
    #[allow(
        clippy::len_without_is_empty,
        reason = "an inclusive range always holds at least one byte"
    )]
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
    /// One or more satisfiable ranges, coalesced (neither overlapping nor adjacent, each
    /// within the representation), in the order they were asked for: a merged range where
    /// its first part was (RFC 9110 §15.3.7.2: the parts SHOULD keep the request's order).
    Satisfiable(Vec<ByteRange>),
    /// Valid syntax but no range overlaps the representation: 416.
    Unsatisfiable,
}

/// Interpret a `Range` header value against a representation of `len` bytes.
pub fn parse(value: &[u8], len: u64) -> RangeOutcome {
    let Some(ranges) = satisfiable_ranges(value, len) else {
        return RangeOutcome::Ignore;
    };
    if ranges.is_empty() {
        return RangeOutcome::Unsatisfiable;
    }
    let ranges = coalesce(ranges);
    // Coalescing never adds ranges, so the spec count limit already bounds the parts; checked
    // again here so a change to either step cannot let many tiny parts through.
    if ranges.len() > MAX_RANGES {
        return RangeOutcome::Ignore;
    }
    RangeOutcome::Satisfiable(ranges)
}

/// The satisfiable ranges of a syntactically valid `bytes` header, clamped to `len`, in the
/// order given; `None` when the header must be ignored.
fn satisfiable_ranges(value: &[u8], len: u64) -> Option<Vec<ByteRange>> {
    let eq = value.iter().position(|&b| b == b'=')?;
    let (unit, set) = (&value[..eq], &value[eq + 1..]);
    // Range units are case-insensitive (RFC 9110 §14.1); `bytes` is the only one we serve.
    if !unit.eq_ignore_ascii_case(b"bytes") {
        return None;
    }
    let mut specs = 0usize;
    let mut ranges = Vec::new();
    // A comma never appears inside a byte range-spec, so splitting on it is exact. Empty
    // elements (`, ,`) are allowed and not counted (RFC 9110 §5.6.1).
    for element in set.split(|&b| b == b',') {
        let spec = trim_ows(element);
        if spec.is_empty() {
            continue;
        }
        specs += 1;
        if specs > MAX_RANGES {
            return None;
        }
        if let Some(range) = parse_spec(spec, len)? {
            ranges.push(range);
        }
    }
    // `1#range-spec`: at least one element.
    (specs > 0).then_some(ranges)
}

/// One range-spec: `Some(None)` when valid but unsatisfiable for `len`, `None` when invalid
/// or when the whole header must be ignored.
fn parse_spec(spec: &[u8], len: u64) -> Option<Option<ByteRange>> {
    let dash = spec.iter().position(|&b| b == b'-')?;
    let (first, last) = (&spec[..dash], &spec[dash + 1..]);
    if first.is_empty() {
        // suffix-range: the last `n` bytes; `-0` selects nothing (§14.1.3).
        let n = parse_position(last)?;
        if n == 0 {
            return Some(None);
        }
        if len == 0 {
            // §14.1.3: for an empty representation this is the one satisfiable form, yet no
            // 206 can say so (a Content-Range names a first and last byte): the whole, 200.
            return None;
        }
        return Some(Some(ByteRange {
            start: len.saturating_sub(n),
            end: len - 1,
        }));
    }
    let start = parse_position(first)?;
    let end = if last.is_empty() {
        None
    } else {
        Some(parse_position(last)?)
    };
    // "A byte-range-spec is invalid if the last-pos value is present and less than the
    // first-pos" (§14.1.2): the whole header is then ignored.
    if end.is_some_and(|end| end < start) {
        return None;
    }
    // §14.1.3: satisfiable only if first-pos is less than the length.
    if start >= len {
        return Some(None);
    }
    let end = end.map_or(len - 1, |end| end.min(len - 1));
    Some(Some(ByteRange { start, end }))
}

/// `1*DIGIT` as a byte position or suffix length, saturating at `u64::MAX`: the grammar
/// bounds neither (§14.1.2), and a number past 64 bits is still a number. A first-pos that
/// large is past any representation's end (unsatisfiable), a last-pos that large means "to
/// the end", a suffix that long means the whole; refusing it instead would turn a valid
/// header into an ignored one. `None` when empty or not all digits.
fn parse_position(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0u64, |n, &b| {
        n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

/// Merge ranges that overlap or touch, so each byte is sent at most once, and keep the order
/// they were asked in: a merged range goes where the first of its parts was asked.
fn coalesce(ranges: Vec<ByteRange>) -> Vec<ByteRange> {
    let mut asked: Vec<(usize, ByteRange)> = ranges.into_iter().enumerate().collect();
    asked.sort_unstable_by_key(|(_, r)| r.start);
    let mut merged: Vec<(usize, ByteRange)> = Vec::with_capacity(asked.len());
    for (at, range) in asked {
        match merged.last_mut() {
            // `end < len <= u64::MAX`, so `end + 1` cannot overflow.
            Some((first, kept)) if range.start <= kept.end + 1 => {
                kept.end = kept.end.max(range.end);
                *first = (*first).min(at);
            }
            _ => merged.push((at, range)),
        }
    }
    merged.sort_unstable_by_key(|&(at, _)| at);
    merged.into_iter().map(|(_, range)| range).collect()
}

fn trim_ows(s: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| matches!(b, b' ' | b'\t');
    let start = s.iter().position(|b| !is_ows(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !is_ows(b)).map_or(start, |i| i + 1);
    &s[start..end.max(start)]
}

#[cfg(test)]
mod tests;
