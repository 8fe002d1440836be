//! Unit tests for request-target normalisation, most of them hostile inputs.

use super::*;

fn segs(path: &str) -> Vec<String> {
    normalise(path).expect(path).segments().to_vec()
}

fn norm(path: &str) -> String {
    normalise(path).expect(path).to_decoded_string()
}

/// The sandbox invariant: whatever came in, no segment can step out of (or be confused with) a
/// directory reference.
fn assert_confined(path: &NormalPath) {
    for s in path.segments() {
        assert!(!s.is_empty(), "empty segment in {path:?}");
        assert_ne!(s, ".", "dot segment in {path:?}");
        assert_ne!(s, "..", "dot-dot segment in {path:?}");
        assert!(!s.contains('/'), "slash inside a segment in {path:?}");
        assert!(!s.contains('\0'), "NUL inside a segment in {path:?}");
    }
}

#[test]
fn plain_paths() {
    assert_eq!(segs("/"), Vec::<String>::new());
    assert_eq!(segs("/a/b.txt"), ["a", "b.txt"]);
    assert_eq!(norm("/a/b.txt"), "/a/b.txt");
    assert_eq!(norm("/a/b/"), "/a/b/");
    assert_eq!(norm("/"), "/");
}

#[test]
fn trailing_slash() {
    assert!(normalise("/").unwrap().trailing_slash());
    assert!(normalise("/a/").unwrap().trailing_slash());
    assert!(!normalise("/a").unwrap().trailing_slash());
    // A trailing dot-segment names the directory (RFC 3986 §5.2.4 rules B and C).
    assert_eq!(norm("/a/."), "/a/");
    assert_eq!(norm("/a/.."), "/");
    assert_eq!(norm("/a/b/.."), "/a/");
    assert_eq!(norm("/a/%2e"), "/a/");
    assert_eq!(norm("/a//"), "/a/");
    assert_eq!(norm("/a/./b"), "/a/b");
    assert!(normalise("/..").unwrap().trailing_slash());
}

#[test]
fn dot_segments_resolve() {
    assert_eq!(norm("/a/b/../c"), "/a/c");
    assert_eq!(norm("/a/./b/./c"), "/a/b/c");
    assert_eq!(norm("/a/b/c/../../d"), "/a/d");
    // RFC 3986 §5.4.2 abnormal examples: too many `..` stay at the root.
    assert_eq!(norm("/../g"), "/g");
    assert_eq!(norm("/../../g"), "/g");
    // Names that merely contain dots are names.
    assert_eq!(
        segs("/.../..a/a../.hidden"),
        ["...", "..a", "a..", ".hidden"]
    );
}

#[test]
fn every_encoding_of_dot_dot_is_clamped() {
    for hostile in [
        "/%2e%2e",
        "/%2E%2e",
        "/%2e%2E",
        "/%2E%2E",
        "/.%2e",
        "/%2e.",
        "/%2e%2e/",
        "/%2e%2e%2f",
        "/%2e%2e%2fetc%2fpasswd",
        "/..%2f..%2fetc%2fpasswd",
        "/%2e%2e%2F%2e%2e%2Fetc%2Fpasswd",
        "/a/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/a%2f..%2f..%2f..%2fetc/passwd",
        "/%2f..%2f..",
        "/./././",
        "/.././.././../",
    ] {
        let p = normalise(hostile).expect(hostile);
        assert_confined(&p);
        assert!(
            p.segments().len() <= 2,
            "{hostile} kept too much: {:?}",
            p.segments()
        );
        if let Some(first) = p.segments().first() {
            assert!(first == "etc" || first == "a", "{hostile} -> {p:?}");
        }
    }
    assert_eq!(norm("/..%2f..%2fetc%2fpasswd"), "/etc/passwd");
    assert_eq!(norm("/a%2f..%2f..%2f..%2fetc/passwd"), "/etc/passwd");
    assert_eq!(norm("/%2e%2e%2f"), "/");
}

#[test]
fn percent_slash_is_a_separator() {
    assert_eq!(segs("/a%2fb"), ["a", "b"]);
    assert_eq!(segs("/a%2Fb"), ["a", "b"]);
}

#[test]
fn double_encoding_decodes_once() {
    assert_eq!(segs("/%252e%252e"), ["%2e%2e"]);
    assert_eq!(segs("/%252e%252e%252f"), ["%2e%2e%2f"]);
    assert_eq!(
        segs("/%252e%252e%252fetc%252fpasswd"),
        ["%2e%2e%2fetc%2fpasswd"]
    );
    assert_eq!(segs("/a%2525"), ["a%25"]);
}

#[test]
fn backslash_is_an_ordinary_byte() {
    // On Linux `\` is a filename byte, never a separator; `..\..\etc` is one (nonexistent) name.
    assert_eq!(segs("/..\\..\\etc\\passwd"), ["..\\..\\etc\\passwd"]);
    assert_eq!(segs("/%5c..%5c..%5cetc"), ["\\..\\..\\etc"]);
    assert_eq!(segs("/..\\"), ["..\\"]);
    assert_eq!(segs("/a/..\\/b"), ["a", "..\\", "b"]);
}

#[test]
fn repeated_slashes_collapse() {
    assert_eq!(segs("//etc//passwd"), ["etc", "passwd"]);
    assert_eq!(norm("//etc//passwd"), "/etc/passwd");
    assert_eq!(norm("////"), "/");
    assert_eq!(norm("/%2f%2f%2f"), "/");
}

#[test]
fn nul_is_refused() {
    assert_eq!(normalise("/%00"), Err(TargetError::Nul));
    assert_eq!(normalise("/a%00.html"), Err(TargetError::Nul));
    assert_eq!(normalise("/a\0b"), Err(TargetError::Nul));
}

#[test]
fn invalid_utf8_is_refused() {
    assert_eq!(normalise("/%ff"), Err(TargetError::InvalidUtf8));
    assert_eq!(normalise("/%80"), Err(TargetError::InvalidUtf8));
    // Overlong encodings of `.` and `/`: a lenient decoder would turn them into `..` and `/`.
    assert_eq!(normalise("/%c0%ae%c0%ae"), Err(TargetError::InvalidUtf8));
    assert_eq!(normalise("/%c0%af"), Err(TargetError::InvalidUtf8));
    assert_eq!(normalise("/%e0%80%ae"), Err(TargetError::InvalidUtf8));
    // A surrogate half (CESU-8 style).
    assert_eq!(normalise("/%ed%a0%80"), Err(TargetError::InvalidUtf8));
    // Truncated sequence.
    assert_eq!(normalise("/%e2%82"), Err(TargetError::InvalidUtf8));
}

#[test]
fn valid_utf8_is_kept() {
    assert_eq!(segs("/caf%C3%A9"), ["café"]);
    assert_eq!(segs("/%E2%82%AC/%F0%9F%A6%80"), ["€", "🦀"]);
    // Non-ASCII given raw (not through hyper) is already decoded.
    assert_eq!(segs("/café"), ["café"]);
}

#[test]
fn bad_percent_encoding_is_refused() {
    for bad in [
        "/%", "/a%", "/a%2", "/%g1", "/%1g", "/%%", "/%%41", "/%-1", "/% 1", "/%2e%2",
    ] {
        assert_eq!(
            normalise(bad),
            Err(TargetError::BadPercentEncoding),
            "{bad}"
        );
    }
    // A multi-byte character after `%` is not two hex digits either (and must not panic).
    assert_eq!(normalise("/%é"), Err(TargetError::BadPercentEncoding));
    assert_eq!(normalise("/%4é"), Err(TargetError::BadPercentEncoding));
}

#[test]
fn must_be_absolute() {
    assert_eq!(normalise(""), Err(TargetError::NotAbsolute));
    assert_eq!(normalise("a/b"), Err(TargetError::NotAbsolute));
    assert_eq!(normalise("*"), Err(TargetError::NotAbsolute));
    assert_eq!(normalise("%2fa"), Err(TargetError::NotAbsolute));
    assert_eq!(normalise("../etc"), Err(TargetError::NotAbsolute));
    assert_eq!(normalise("http://x/a"), Err(TargetError::NotAbsolute));
}

#[test]
fn very_long_paths() {
    let deep = "/a".repeat(50_000);
    let p = normalise(&deep).unwrap();
    assert_eq!(p.segments().len(), 50_000);
    assert_confined(&p);

    let climb = format!("{}{}", "/..".repeat(50_000), "/etc/passwd");
    assert_eq!(norm(&climb), "/etc/passwd");

    let encoded_climb = format!("/{}etc", "%2e%2e%2f".repeat(50_000));
    assert_eq!(norm(&encoded_climb), "/etc");

    let long_name = format!("/{}", "x".repeat(100_000));
    assert_eq!(normalise(&long_name).unwrap().segments()[0].len(), 100_000);

    let slashes = "/".repeat(100_000);
    assert_eq!(norm(&slashes), "/");
}

#[test]
fn no_hostile_input_leaves_a_dot_or_empty_segment() {
    let pieces = [
        "/", ".", "..", "%2e", "%2E", "%2f", "%2F", "%252e", "\\", "a", "%5c", "%20", "%2e%2e",
    ];
    // Every path of up to four pieces: 13^4 = 28,561 inputs.
    let mut path = String::new();
    for a in pieces {
        for b in pieces {
            for c in pieces {
                for d in pieces {
                    path.clear();
                    path.push('/');
                    for piece in [a, b, c, d] {
                        path.push_str(piece);
                    }
                    if let Ok(p) = normalise(&path) {
                        assert_confined(&p);
                        // Normalising is idempotent when nothing is left to decode.
                        let again = p.to_decoded_string();
                        if !again.contains('%') {
                            assert_eq!(normalise(&again).as_ref(), Ok(&p), "{path}");
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn to_decoded_string_round_trips() {
    for path in ["/", "/a", "/a/", "/a/b/c", "/a b/ü/", "/..\\x"] {
        let p = normalise(path).unwrap();
        assert_eq!(p.to_decoded_string(), path);
        assert_eq!(normalise(&p.to_decoded_string()).unwrap(), p);
    }
    // A hand-built root without trailing_slash still renders as `/`.
    let root = NormalPath::from_segments(Vec::new(), false);
    assert_eq!(root.to_decoded_string(), "/");
}

#[test]
fn nothing_to_decode_borrows() {
    assert!(matches!(percent_decode(b"/a/b"), Ok(Cow::Borrowed(_))));
    assert!(matches!(percent_decode(b"/a%20b"), Ok(Cow::Owned(_))));
}

/// The path is kept as one string and split when asked: every way of reading its segments
/// agrees, and a path built from segments equals the one normalised to them.
#[test]
fn the_segments_read_back_from_the_string_in_every_way() {
    for path in [
        "/",
        "/a",
        "/a/",
        "/a/b/c",
        "/a/b/c/",
        "/a//b///c",
        "/a/./b/../c/",
        "/../../a",
        "/a/b/../../..",
        "/a/%2F/b",
        "/%2e%2e/x/%2E/y/..",
        "/caf%C3%A9/men%C3%BC.txt",
        "/a%20b/",
    ] {
        let normal = normalise(path).expect(path);
        assert_confined(&normal);
        let borrowed: Vec<&str> = normal.segment_strs().collect();
        let last = borrowed.last().copied();
        // Before and after the segments are kept.
        assert_eq!(normal.clone().into_segments(), borrowed, "{path}");
        assert_eq!(normal.last_segment(), last, "{path}");
        assert_eq!(normal.segments(), borrowed, "{path}");
        assert_eq!(normal.clone().into_segments(), borrowed, "{path}");
        let built = NormalPath::from_segments(normal.segments().to_vec(), normal.trailing_slash());
        assert_eq!(built, normal, "{path}");
        assert_eq!(built.as_str(), normal.as_str(), "{path}");
        assert_eq!(normal.as_str(), normal.to_decoded_string());
        // A route's prefix: the first segments joined, `/` for none.
        for count in 0..=borrowed.len() + 1 {
            let joined: String = borrowed
                .iter()
                .take(count)
                .map(|s| format!("/{s}"))
                .collect();
            let expected = if joined.is_empty() { "/" } else { &joined };
            assert_eq!(normal.prefix(count), expected, "{path} {count}");
        }
    }
    assert_eq!(norm("/a/b/../../../c"), "/c");
    assert_eq!(norm("/a/%2F/b"), "/a/b");
    assert_eq!(normalise("/a/..").unwrap().last_segment(), None);
}

/// The shortcut for a path already normal takes exactly the paths that are their own normal
/// form.
#[test]
fn only_a_normal_path_is_taken_as_it_is() {
    for path in [
        "/",
        "/a",
        "/a/",
        "/a/b.c/",
        "/.a/..b/...",
        "/a./b..",
        "/a b/%",
    ] {
        assert!(is_normal(path.as_bytes()), "{path}");
        if !path.contains('%') {
            assert_eq!(norm(path), path);
        }
    }
    for path in [
        "//", "/a//", "//a", "/.", "/..", "/a/.", "/a/../b", "/./a", "/a/./", "/a//b",
    ] {
        assert!(!is_normal(path.as_bytes()), "{path}");
        assert_ne!(norm(path), path);
    }
}

/// A raw path spells its normal form when decoding it once gives that form exactly: nothing
/// was resolved away to route it.
#[test]
fn a_raw_path_spells_its_normal_form_only_when_nothing_was_resolved() {
    for raw in ["/", "/a/b", "/a/b/", "/a%2Fb", "/caf%C3%A9", "/a%20b/"] {
        assert!(spells_its_normal_form(raw), "{raw}");
    }
    for raw in [
        "/a/../b",
        "/a/%2e%2e/b",
        "/a/.%2E/b",
        "/a%2F..%2Fb",
        "/./a",
        "//a",
        "/a//b",
        "/a/.",
    ] {
        assert!(!spells_its_normal_form(raw), "{raw}");
    }
}
