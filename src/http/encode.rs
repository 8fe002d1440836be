//! Escaping for what we write back to clients: percent-encoded paths for links and URI
//! references, HTML text and attribute escaping, and control-free text for terminals.

use std::borrow::Cow;
use std::fmt::Write as _;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Bytes a path segment may carry unencoded: RFC 3986 §2.3 unreserved characters only.
/// Stricter than `pchar` on purpose: sub-delims such as `&`, `'`, `;`, `=` stay harmless in
/// any context (HTML attributes, Markdown, shells) once encoded, and mean the same to servers.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encode a decoded absolute path so that, used as a URI reference, it fetches the
/// path it names: each segment is encoded (UTF-8, RFC 3986 §2.1), `/` separators are kept.
///
/// `%`, `#`, `?`, spaces, `\` and non-ASCII are encoded. The path is expected to be
/// normalised (no dot segments). A path starting with `//` would read as a
/// network-path reference to another host (RFC 3986 §4.2), so it gets a `/.` prefix, which
/// resolves to the same path on this host.
///
/// ```
/// use usher::http::encode::percent_encode_path;
/// assert_eq!(percent_encode_path("/a b/100%#1?.html"), "/a%20b/100%25%231%3F.html");
/// ```
pub fn percent_encode_path(decoded: &str) -> String {
    // Most paths need no encoding: copy them whole rather than piece by piece.
    let unreserved =
        |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'.' | b'_' | b'~');
    let mut out = if decoded.bytes().all(unreserved) {
        decoded.to_owned()
    } else {
        encode_segments(decoded)
    };
    if out.starts_with("//") {
        out.insert_str(0, "/.");
    }
    out
}

/// Each `/`-separated segment of `decoded` percent-encoded ([`SEGMENT`]).
fn encode_segments(decoded: &str) -> String {
    let mut out = String::with_capacity(decoded.len() + 8);
    for (i, segment) in decoded.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.extend(utf8_percent_encode(segment, SEGMENT));
    }
    out
}

/// `s` escaped for HTML text and quoted attribute values: `& < > " '` become references.
/// Borrows when nothing needs escaping.
///
/// ```
/// use usher::http::encode::html_escape;
/// assert_eq!(html_escape("<a href='x'>&</a>"), "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;");
/// ```
pub fn html_escape(s: &str) -> Cow<'_, str> {
    if s.bytes().any(needs_html_escape) {
        let mut out = String::with_capacity(s.len() + 16);
        push_html_escaped(&mut out, s);
        Cow::Owned(out)
    } else {
        Cow::Borrowed(s)
    }
}

/// Append `s` to `out`, escaped as [`html_escape`] does, without an intermediate string.
pub fn push_html_escaped(out: &mut String, s: &str) {
    let mut rest = s;
    while let Some(i) = rest.bytes().position(needs_html_escape) {
        out.push_str(&rest[..i]);
        out.push_str(match rest.as_bytes()[i] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            _ => "&#39;",
        });
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
}

fn needs_html_escape(b: u8) -> bool {
    matches!(b, b'&' | b'<' | b'>' | b'"' | b'\'')
}

/// `s` with every character that could rewrite a terminal or reorder text percent-encoded:
/// controls (C0, DEL, C1: newlines, ANSI escapes), bidirectional overrides and isolates
/// (the "Trojan Source" characters, CVE-2021-42574) and line/paragraph separators.
/// For names interpolated into `detail` and plain-text bodies. Borrows when clean.
///
/// ```
/// use usher::http::encode::printable;
/// assert_eq!(printable("/a\nb\u{1b}[2J"), "/a%0Ab%1B[2J");
/// ```
pub fn printable(s: &str) -> Cow<'_, str> {
    // Most text is printable ASCII, checked 16 bytes at a time (a loop without an early exit
    // vectorises); only other text needs the per-character check. Problem bodies pass through
    // here on every error answer.
    let printable_ascii = s.as_bytes().chunks(16).all(|chunk| {
        chunk
            .iter()
            .fold(true, |ok, &b| ok & (b' '..=b'~').contains(&b))
    });
    if printable_ascii || !s.chars().any(is_unprintable) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if is_unprintable(c) {
            let mut buf = [0; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                // Writing to a String cannot fail.
                let _ = write!(out, "%{b:02X}");
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn is_unprintable(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_encode_each_segment_and_keep_slashes() {
        for (decoded, want) in [
            ("/", "/"),
            ("", ""),
            ("/docs/intro.html", "/docs/intro.html"),
            ("/a b/c", "/a%20b/c"),
            ("/100%/x#y?z", "/100%25/x%23y%3Fz"),
            ("/café/日本", "/caf%C3%A9/%E6%97%A5%E6%9C%AC"),
            ("/<script>\"'&", "/%3Cscript%3E%22%27%26"),
            ("/a\\b", "/a%5Cb"),
            ("/a\nb\0", "/a%0Ab%00"),
            ("/~user/-_.", "/~user/-_."),
            ("/dir/", "/dir/"),
            ("//evil.example/x", "/.//evil.example/x"),
            ("javascript:alert(1)", "javascript%3Aalert%281%29"),
        ] {
            assert_eq!(percent_encode_path(decoded), want, "{decoded:?}");
        }
    }

    #[test]
    fn html_escaping() {
        assert!(matches!(html_escape("plain /path"), Cow::Borrowed(_)));
        assert_eq!(
            html_escape("<script>alert(\"x\")</script>&'"),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;"
        );
        assert_eq!(html_escape("日本<"), "日本&lt;");
        let mut out = String::from("x");
        push_html_escaped(&mut out, "a&b");
        assert_eq!(out, "xa&amp;b");
    }

    #[test]
    fn printable_escapes_controls_and_bidi() {
        assert!(matches!(printable("/café ok"), Cow::Borrowed(_)));
        assert_eq!(printable("a\r\nb\tc\u{7f}"), "a%0D%0Ab%09c%7F");
        assert_eq!(printable("\u{85}"), "%C2%85");
        assert_eq!(printable("x\u{202E}y\u{2066}"), "x%E2%80%AEy%E2%81%A6");
    }

    /// Copying a path whole gives what encoding it segment by segment gives, for every
    /// character in each position, and `//` still gets its prefix.
    #[test]
    fn a_path_copied_whole_is_encoded_as_segments_would_be() {
        for c in (0..0x300).filter_map(char::from_u32) {
            for path in [format!("/{c}"), format!("/a{c}b/c"), format!("{c}/x")] {
                let mut slow = encode_segments(&path);
                if slow.starts_with("//") {
                    slow.insert_str(0, "/.");
                }
                assert_eq!(percent_encode_path(&path), slow, "{path:?}");
            }
        }
        assert_eq!(
            percent_encode_path("//evil.example/x"),
            "/.//evil.example/x"
        );
    }

    /// The ASCII fast path agrees with the per-character rule, wherever in a 16-byte chunk
    /// (or past the first chunks) the character falls.
    #[test]
    fn printable_agrees_with_the_per_character_rule() {
        for c in (0..0x3000).filter_map(char::from_u32) {
            for at in [0, 5, 15, 16, 40] {
                let s = format!("{}{c}{}", "a".repeat(at), "b".repeat(20));
                let kept = matches!(printable(&s), Cow::Borrowed(_));
                assert_eq!(kept, !is_unprintable(c), "U+{:04X} at {at}", u32::from(c));
            }
        }
    }
}
