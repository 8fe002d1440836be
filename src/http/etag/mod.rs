//! Entity tags (RFC 9110 §8.8.3): parsing, strong and weak comparison, and the tag usher gives a file.
//!
//! ```text
//! entity-tag = [ weak ] opaque-tag        weak = %s"W/"
//! opaque-tag = DQUOTE *etagc DQUOTE       etagc = %x21 / %x23-7E / obs-text
//! If-Match   = "*" / #entity-tag          If-None-Match = "*" / #entity-tag
//! ```
//! A comma is a valid `etagc`, so a list is tokenised quote by quote, never split on commas.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{BufMut, BytesMut};
use http::HeaderValue;

/// An entity tag: opaque text, strong or weak.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityTag {
    /// `W/` prefix present.
    pub weak: bool,
    /// The opaque-tag without its quotes. Only `etagc` characters belong here (what
    /// [`EntityTag::parse`] and [`EntityTag::for_file`] produce); others are dropped on output.
    pub tag: String,
}

/// An `If-Match` or `If-None-Match` field value (RFC 9110 §13.1.1, §13.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagList {
    /// `*`: matches any current representation.
    Any,
    /// The listed entity-tags, in order; empty when the field had only empty list elements.
    Tags(Vec<EntityTag>),
}

impl EntityTag {
    /// The strong tag usher gives a file, from its modification time and length.
    ///
    /// `"<mtime ns>-<len>"` in lowercase hex: compact, and different whenever either differs
    /// (the `-`-separated hex fields are unambiguous). Nanoseconds, not seconds, so two writes
    /// within one second still change the tag. A time before 1970 is written as its
    /// two's-complement, which stays distinct from every time after. No inode, as nginx and
    /// Apache 2.4 leave it out: a site copied to several servers with its times kept has the
    /// same tags on each (a cache in front of them revalidates across them), and the tag
    /// tells a client nothing of the file system (CVE-2003-1418).
    pub fn for_file(len: u64, modified: SystemTime) -> Self {
        let nanos: i128 = match modified.duration_since(UNIX_EPOCH) {
            Ok(after) => i128::try_from(after.as_nanos()).unwrap_or(i128::MAX),
            Err(before) => i128::try_from(before.duration().as_nanos())
                .map(|n| -n)
                .unwrap_or(i128::MIN),
        };
        EntityTag {
            weak: false,
            tag: format!("{nanos:x}-{len:x}"),
        }
    }

    /// Parse one entity-tag (`"xyz"` or `W/"xyz"`), allowing optional whitespace around it.
    pub fn parse(s: &str) -> Option<Self> {
        let (tag, rest) = parse_tag(trim_ows(s.as_bytes()))?;
        if !rest.is_empty() {
            return None;
        }
        tag.to_owned()
    }

    /// Parse an `If-Match` / `If-None-Match` field value: `*` or a comma-separated list of
    /// entity-tags, empty elements allowed (RFC 9110 §5.6.1). `None` on any syntax error,
    /// including `*` mixed with tags, or a tag that is not UTF-8.
    pub fn parse_list(value: &str) -> Option<TagList> {
        let mut tags = Vec::new();
        let mut any = false;
        for member in Members::new(value.as_bytes()) {
            match member? {
                // `*` must be the whole value: not repeated, not mixed with tags.
                Member::Any if any || !tags.is_empty() => return None,
                Member::Any => any = true,
                Member::Tag(_) if any => return None,
                Member::Tag(tag) => tags.push(tag.to_owned()?),
            }
        }
        Some(if any {
            TagList::Any
        } else {
            TagList::Tags(tags)
        })
    }

    /// RFC 9110 §8.8.3.2 strong comparison: both strong and the opaque-tags identical.
    pub fn strong_eq(&self, other: &EntityTag) -> bool {
        self.as_ref().strong_eq(other.as_ref())
    }

    /// RFC 9110 §8.8.3.2 weak comparison: opaque-tags identical, weakness ignored.
    pub fn weak_eq(&self, other: &EntityTag) -> bool {
        self.as_ref().weak_eq(other.as_ref())
    }

    /// The header value form: `"tag"` or `W/"tag"`.
    pub fn to_header_value(&self) -> HeaderValue {
        let mut out = BytesMut::with_capacity(self.tag.len() + 4);
        if self.weak {
            out.put_slice(b"W/");
        }
        out.put_u8(b'"');
        // The fields are public, so a caller could have put a `"` or a control byte in the tag;
        // dropping those keeps the output one valid entity-tag instead of a panic.
        for &b in self.tag.as_bytes() {
            if is_etagc(b) {
                out.put_u8(b);
            }
        }
        out.put_u8(b'"');
        HeaderValue::from_maybe_shared(out.freeze())
            .expect("DQUOTE, W/ and etagc bytes are all valid header value bytes")
    }

    fn as_ref(&self) -> TagRef<'_> {
        TagRef {
            weak: self.weak,
            opaque: self.tag.as_bytes(),
        }
    }
}

/// Whether `headers`' values of a list field (all lines combined, RFC 9110 §5.3) contain `etag`.
///
/// `strong` picks the comparison: If-Match uses strong (§13.1.1), If-None-Match weak (§13.1.2).
/// Borrows from the header values, so evaluating preconditions does not allocate.
pub(crate) fn list_matches<'a>(
    lines: impl IntoIterator<Item = &'a HeaderValue>,
    etag: &EntityTag,
    strong: bool,
) -> ListMatch {
    let ours = etag.as_ref();
    let (mut any, mut tags, mut matched) = (false, false, false);
    for line in lines {
        for member in Members::new(line.as_bytes()) {
            match member {
                None => return ListMatch::Invalid,
                // `*` twice is not `"*" / #entity-tag` either.
                Some(Member::Any) if any || tags => return ListMatch::Invalid,
                Some(Member::Any) => any = true,
                Some(Member::Tag(_)) if any => return ListMatch::Invalid,
                Some(Member::Tag(theirs)) => {
                    tags = true;
                    matched |= if strong {
                        theirs.strong_eq(ours)
                    } else {
                        theirs.weak_eq(ours)
                    };
                }
            }
        }
    }
    match (any, matched) {
        (true, _) => ListMatch::Any,
        (false, true) => ListMatch::Match,
        (false, false) => ListMatch::NoMatch,
    }
}

/// How a combined `If-Match` / `If-None-Match` field relates to one entity-tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListMatch {
    /// The field is `*`.
    Any,
    /// One of the listed tags matches.
    Match,
    /// No listed tag matches (or the list is empty).
    NoMatch,
    /// The field is not `"*" / #entity-tag`.
    Invalid,
}

/// Parse an `If-Range` entity-tag value and compare it strongly (§13.1.5): a weak tag never
/// matches. `None` when the value is not one entity-tag (it may be an HTTP-date).
pub(crate) fn strong_match_one(value: &[u8], etag: &EntityTag) -> Option<bool> {
    let (tag, rest) = parse_tag(trim_ows(value))?;
    rest.is_empty().then(|| tag.strong_eq(etag.as_ref()))
}

/// An entity-tag borrowed from a header value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TagRef<'a> {
    weak: bool,
    opaque: &'a [u8],
}

impl TagRef<'_> {
    fn strong_eq(self, other: TagRef<'_>) -> bool {
        !self.weak && !other.weak && self.opaque == other.opaque
    }

    fn weak_eq(self, other: TagRef<'_>) -> bool {
        self.opaque == other.opaque
    }

    /// `None` when obs-text bytes in the tag are not UTF-8 (`tag` is a `String`).
    fn to_owned(self) -> Option<EntityTag> {
        let tag = std::str::from_utf8(self.opaque).ok()?;
        Some(EntityTag {
            weak: self.weak,
            tag: tag.to_owned(),
        })
    }
}

/// One element of an `If-Match` / `If-None-Match` list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Member<'a> {
    Any,
    Tag(TagRef<'a>),
}

/// The elements of one list field line: yields `None` once, then stops, on a syntax error.
struct Members<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Members<'a> {
    fn new(value: &'a [u8]) -> Self {
        Members {
            rest: value,
            failed: false,
        }
    }
}

impl<'a> Iterator for Members<'a> {
    type Item = Option<Member<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        // RFC 9110 §5.6.1: skip empty elements ("," and OWS) before the next one.
        let start = self
            .rest
            .iter()
            .position(|&b| !matches!(b, b' ' | b'\t' | b','))?;
        let rest = &self.rest[start..];
        let (member, after) = if let Some(after) = rest.strip_prefix(b"*") {
            (Member::Any, after)
        } else if let Some((tag, after)) = parse_tag(rest) {
            (Member::Tag(tag), after)
        } else {
            self.failed = true;
            return Some(None);
        };
        // After an element: OWS, then a comma or the end.
        let after = trim_start_ows(after);
        match after.first() {
            None | Some(b',') => {
                self.rest = after;
                Some(Some(member))
            }
            Some(_) => {
                self.failed = true;
                Some(None)
            }
        }
    }
}

/// Parse an entity-tag at the start of `s`, returning it and what follows the closing quote.
fn parse_tag(s: &[u8]) -> Option<(TagRef<'_>, &[u8])> {
    // `W/` is case-sensitive (%s"W/"): `w/"x"` is not a weak tag.
    let (weak, s) = match s.strip_prefix(b"W/") {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let s = s.strip_prefix(b"\"")?;
    let end = s.iter().position(|&b| !is_etagc(b))?;
    let (opaque, rest) = s.split_at(end);
    let rest = rest.strip_prefix(b"\"")?;
    Some((TagRef { weak, opaque }, rest))
}

/// `etagc = %x21 / %x23-7E / obs-text` (RFC 9110 §8.8.3): visible ASCII but `"`, or obs-text.
fn is_etagc(b: u8) -> bool {
    b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80
}

fn trim_start_ows(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !matches!(b, b' ' | b'\t'));
    start.map_or(&[], |i| &s[i..])
}

fn trim_ows(s: &[u8]) -> &[u8] {
    let s = trim_start_ows(s);
    let end = s.iter().rposition(|&b| !matches!(b, b' ' | b'\t'));
    end.map_or(&[], |i| &s[..=i])
}

#[cfg(test)]
mod tests;
