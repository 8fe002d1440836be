//! Unit tests for entity-tag parsing, comparison and list matching.

use std::time::Duration;

use super::*;

fn strong(tag: &str) -> EntityTag {
    EntityTag {
        weak: false,
        tag: tag.to_owned(),
    }
}

fn weak(tag: &str) -> EntityTag {
    EntityTag {
        weak: true,
        tag: tag.to_owned(),
    }
}

fn hv(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap()
}

#[test]
fn for_file_is_strong_compact_hex() {
    let t = EntityTag::for_file(0x1234, UNIX_EPOCH + Duration::new(1, 5));
    assert!(!t.weak);
    assert_eq!(t.tag, "3b9aca05-1234");
    assert_eq!(t.to_header_value(), "\"3b9aca05-1234\"");
    assert_eq!(
        EntityTag::parse(t.to_header_value().to_str().unwrap()),
        Some(t)
    );
}

#[test]
fn for_file_changes_with_each_input() {
    let when = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let base = EntityTag::for_file(100, when);
    assert_ne!(base, EntityTag::for_file(101, when));
    assert_ne!(
        base,
        EntityTag::for_file(100, when + Duration::from_secs(1))
    );
    // Sub-second writes change it too.
    assert_ne!(
        base,
        EntityTag::for_file(100, when + Duration::from_nanos(1))
    );
    // The same file elsewhere (another inode, another server) has the same tag.
    assert_eq!(base, EntityTag::for_file(100, when));
}

#[test]
fn for_file_extremes_are_valid() {
    let before_epoch = UNIX_EPOCH - Duration::from_secs(1);
    let t = EntityTag::for_file(u64::MAX, before_epoch);
    assert_ne!(t, EntityTag::for_file(u64::MAX, UNIX_EPOCH));
    assert!(t.tag.bytes().all(is_etagc));
    assert_eq!(
        EntityTag::parse(t.to_header_value().to_str().unwrap()),
        Some(t)
    );
    let t = EntityTag::for_file(0, UNIX_EPOCH);
    assert_eq!(t.tag, "0-0");
}

#[test]
fn parse_one() {
    assert_eq!(EntityTag::parse("\"xyz\""), Some(strong("xyz")));
    assert_eq!(EntityTag::parse("W/\"xyz\""), Some(weak("xyz")));
    assert_eq!(EntityTag::parse("\"\""), Some(strong("")));
    assert_eq!(EntityTag::parse("  \"a\"\t"), Some(strong("a")));
    // A comma and `W/` inside the quotes are opaque text.
    assert_eq!(EntityTag::parse("\"a,b\""), Some(strong("a,b")));
    assert_eq!(EntityTag::parse("\"W/x\""), Some(strong("W/x")));
    assert_eq!(EntityTag::parse("\"é\""), Some(strong("é")));
}

#[test]
fn parse_rejects_bad_syntax() {
    for bad in [
        "",
        "xyz",
        "\"xyz",
        "xyz\"",
        "w/\"xyz\"",
        "W/xyz",
        "W/ \"x\"",
        "\"a\"b",
        "\"a\" \"b\"",
        "\"a\",",
        "\"a b\"",
        "\"a\tb\"",
        "\"a\u{7f}\"",
        "\"a\"\"",
        "*",
        "W/",
        "\"",
    ] {
        assert_eq!(EntityTag::parse(bad), None, "{bad:?}");
    }
}

#[test]
fn comparison_table() {
    // RFC 9110 §8.8.3.2, the example table.
    let cases = [
        (weak("1"), weak("1"), false, true),
        (weak("1"), weak("2"), false, false),
        (weak("1"), strong("1"), false, true),
        (strong("1"), strong("1"), true, true),
    ];
    for (a, b, s, w) in cases {
        assert_eq!(a.strong_eq(&b), s, "{a:?} {b:?}");
        assert_eq!(b.strong_eq(&a), s, "{a:?} {b:?}");
        assert_eq!(a.weak_eq(&b), w, "{a:?} {b:?}");
        assert_eq!(b.weak_eq(&a), w, "{a:?} {b:?}");
    }
}

#[test]
fn header_value_forms() {
    assert_eq!(strong("a").to_header_value(), "\"a\"");
    assert_eq!(weak("a").to_header_value(), "W/\"a\"");
    // Hand-built tags with forbidden bytes cannot break the header.
    assert_eq!(strong("a\"b\r\nc d").to_header_value(), "\"abcd\"");
}

#[test]
fn parse_list_forms() {
    assert_eq!(EntityTag::parse_list("*"), Some(TagList::Any));
    assert_eq!(EntityTag::parse_list(" * "), Some(TagList::Any));
    assert_eq!(
        EntityTag::parse_list("\"a\", W/\"b\",\"c,d\""),
        Some(TagList::Tags(vec![strong("a"), weak("b"), strong("c,d")]))
    );
    // Empty elements are allowed and not counted (RFC 9110 §5.6.1).
    assert_eq!(
        EntityTag::parse_list(" , ,\"a\" ,, "),
        Some(TagList::Tags(vec![strong("a")]))
    );
    assert_eq!(EntityTag::parse_list(""), Some(TagList::Tags(vec![])));
    assert_eq!(EntityTag::parse_list(",,,"), Some(TagList::Tags(vec![])));
}

#[test]
fn parse_list_rejects_bad_syntax() {
    for bad in [
        "\"a\" \"b\"",
        "\"a\"x",
        "*, \"a\"",
        "\"a\", *",
        "*, *",
        "**",
        "a",
        "\"a",
        "W/*",
        "\"a\";q=1",
    ] {
        assert_eq!(EntityTag::parse_list(bad), None, "{bad:?}");
    }
}

#[test]
fn parse_list_survives_long_input() {
    let many = "\"x\",".repeat(10_000);
    match EntityTag::parse_list(&many) {
        Some(TagList::Tags(tags)) => assert_eq!(tags.len(), 10_000),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        EntityTag::parse_list(&",".repeat(100_000)),
        Some(TagList::Tags(vec![]))
    );
}

#[test]
fn list_matches_combines_lines() {
    let ours = strong("v1");
    let m = |lines: &[&str], strong_cmp: bool| {
        let values: Vec<HeaderValue> = lines.iter().map(|l| hv(l)).collect();
        list_matches(&values, &ours, strong_cmp)
    };
    assert_eq!(m(&["\"v0\"", "\"v1\""], true), ListMatch::Match);
    assert_eq!(m(&["\"v0\", \"v1\""], true), ListMatch::Match);
    assert_eq!(m(&["\"v0\"", "\"v2\""], true), ListMatch::NoMatch);
    assert_eq!(m(&["W/\"v1\""], true), ListMatch::NoMatch);
    assert_eq!(m(&["W/\"v1\""], false), ListMatch::Match);
    assert_eq!(m(&["*"], true), ListMatch::Any);
    assert_eq!(m(&[""], true), ListMatch::NoMatch);
    // `*` combined with anything (even on another line) is not the grammar.
    assert_eq!(m(&["*", "\"v1\""], true), ListMatch::Invalid);
    assert_eq!(m(&["\"v1\"", "*"], true), ListMatch::Invalid);
    assert_eq!(m(&["*", "*"], true), ListMatch::Invalid);
    assert_eq!(m(&["\"v1\"", "garbage"], false), ListMatch::Invalid);
    assert_eq!(m(&[], true), ListMatch::NoMatch);
}

#[test]
fn list_matches_reads_obs_text() {
    let ours = strong("v1");
    let value = HeaderValue::from_bytes(b"\"\xff\", \"v1\"").unwrap();
    assert_eq!(list_matches([&value], &ours, true), ListMatch::Match);
    // The owning parser keeps obs-text that is UTF-8 (its `tag` is a String).
    assert_eq!(
        EntityTag::parse_list("\"\u{ff}\""),
        Some(TagList::Tags(vec![strong("ÿ")]))
    );
}

#[test]
fn strong_match_one_for_if_range() {
    let ours = strong("v1");
    assert_eq!(strong_match_one(b"\"v1\"", &ours), Some(true));
    assert_eq!(strong_match_one(b"\"v2\"", &ours), Some(false));
    assert_eq!(strong_match_one(b"W/\"v1\"", &ours), Some(false));
    assert_eq!(strong_match_one(b"\"v1\", \"v2\"", &ours), None);
    assert_eq!(
        strong_match_one(b"Sun, 06 Nov 1994 08:49:37 GMT", &ours),
        None
    );
    assert_eq!(
        strong_match_one(b"\"v1\"", &weak("v1")),
        Some(false),
        "a weak current tag never matches strongly"
    );
}
