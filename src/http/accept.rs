//! `Accept` and `Accept-Language` (RFC 9110 §12.5): parsing with q-values and choosing a representation.

/// Quality in thousandths, 0..=1000 (RFC 9110 §12.4.2 allows three decimals).
pub type Quality = u16;

/// Choose among `available` media types (e.g. `"text/html"`) the one `accept` prefers.
///
/// `accept` is the raw header value, `None` when absent (then the first available wins).
/// Ranks by quality, then by the specificity of the matching range, then by the order of
/// `available`. Returns the index into `available`, or `None` when every one is refused (q=0
/// or unmatched).
pub fn choose_media_type(accept: Option<&[u8]>, available: &[&str]) -> Option<usize> {
    let _ = (accept, available);
    todo!()
}

/// The quality `accept` gives `media_type` (most specific matching range wins), 0 if none
/// matches; 1000 when the header is absent.
pub fn media_type_quality(accept: Option<&[u8]>, media_type: &str) -> Quality {
    let _ = (accept, media_type);
    todo!()
}

/// Choose among language tags (e.g. `"en"`, `"fr-CA"`) the one `accept_language` prefers,
/// by RFC 4647 basic filtering (a range matches a tag equal to it or prefixing it at a `-`).
/// Returns `None` when the header is absent or nothing matches with q > 0.
pub fn choose_language(accept_language: Option<&[u8]>, available: &[&str]) -> Option<usize> {
    let _ = (accept_language, available);
    todo!()
}
