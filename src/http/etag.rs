//! Entity tags (RFC 9110 §8.8.3): parsing, strong and weak comparison, and the tag usher gives a file.

use std::time::SystemTime;

/// An entity tag: opaque text, strong or weak.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityTag {
    /// `W/` prefix present.
    pub weak: bool,
    /// The opaque-tag without its quotes.
    pub tag: String,
}

impl EntityTag {
    /// The strong tag usher gives a file, from its length, modification time and inode.
    pub fn for_file(len: u64, modified: SystemTime, inode: u64) -> Self {
        let _ = (len, modified, inode);
        todo!()
    }

    /// Parse one entity-tag (`"xyz"` or `W/"xyz"`).
    pub fn parse(s: &str) -> Option<Self> {
        let _ = s;
        todo!()
    }

    /// RFC 9110 §8.8.3.2 strong comparison.
    pub fn strong_eq(&self, other: &EntityTag) -> bool {
        let _ = other;
        todo!()
    }

    /// RFC 9110 §8.8.3.2 weak comparison.
    pub fn weak_eq(&self, other: &EntityTag) -> bool {
        let _ = other;
        todo!()
    }

    /// The header value form: `"tag"` or `W/"tag"`.
    pub fn to_header_value(&self) -> http::HeaderValue {
        todo!()
    }
}
