//! Unit tests for `Accept` / `Accept-Language` parsing and choice, hostile inputs included.

use super::*;

const BROWSER: &[u8] =
    b"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";

fn q(accept: &str, ty: &str) -> Quality {
    media_type_quality(Some(accept.as_bytes()), ty)
}

fn choose(accept: Option<&str>, available: &[&str]) -> Option<usize> {
    choose_media_type(accept.map(str::as_bytes), available)
}

fn lang(header: Option<&str>, available: &[&str]) -> Option<usize> {
    choose_language(header.map(str::as_bytes), available)
}

#[test]
fn qvalues() {
    for (v, want) in [
        ("0", Some(0)),
        ("0.", Some(0)),
        ("0.5", Some(500)),
        ("0.05", Some(50)),
        ("0.123", Some(123)),
        ("0.999", Some(999)),
        ("1", Some(1000)),
        ("1.", Some(1000)),
        ("1.000", Some(1000)),
        ("1.0001", None),
        ("0.1234", None),
        ("1.001", None),
        ("1.5", None),
        ("2", None),
        ("-1", None),
        (".5", None),
        ("abc", None),
        ("", None),
        ("0,5", None),
        ("0.5 ", None),
        ("１", None),
    ] {
        assert_eq!(parse_qvalue(v.as_bytes()), want, "{v:?}");
    }
}

#[test]
fn absent_header_accepts_anything_and_picks_first() {
    assert_eq!(choose(None, &["text/html", "text/plain"]), Some(0));
    assert_eq!(choose(None, &[]), None);
    assert_eq!(media_type_quality(None, "image/png"), 1000);
    assert_eq!(media_type_match(None, "image/png"), None);
}

#[test]
fn headers_without_valid_elements_count_as_absent() {
    for h in [
        "",
        " ",
        ",,,",
        " , ,\t,",
        "*/*;q=abc",
        "text/html;q=1.0001",
        "text/html;q=-1",
        "text",
        "text/",
        "/html",
        "*/html",
        "tëxt/html",
        "text/html garbage",
        "text/html;=x",
        "text/html;a=",
        "text/html;a=\"unterminated",
        "\u{1F600}/\u{1F600}",
    ] {
        assert_eq!(choose(Some(h), &["a/b", "text/html"]), Some(0), "{h:?}");
        assert_eq!(q(h, "image/png"), 1000, "{h:?}");
    }
}

#[test]
fn garbage_elements_are_skipped_not_fatal() {
    let h = "text/html;q=abc, ,, image/png;q=0.5, text/;q=1, application/json;q=2";
    assert_eq!(q(h, "image/png"), 500);
    assert_eq!(q(h, "text/html"), 0);
    assert_eq!(q(h, "application/json"), 0);
    assert_eq!(choose(Some(h), &["text/html", "image/png"]), Some(1));
}

#[test]
fn browser_prefers_html_over_wildcard_types() {
    let b = std::str::from_utf8(BROWSER).unwrap();
    assert_eq!(q(b, "text/html"), 1000);
    assert_eq!(q(b, "application/xml"), 900);
    assert_eq!(q(b, "application/json"), 800);
    assert_eq!(
        choose(Some(b), &["application/json", "text/plain", "text/html"]),
        Some(2)
    );
}

#[test]
fn rfc9110_example_most_specific_range_wins() {
    // RFC 9110 §12.5.1, the table after "text/*;q=0.3, text/plain;q=0.7, ...".
    let h = "text/*;q=0.3, text/plain;q=0.7, text/plain;format=flowed, \
             text/plain;format=fixed;q=0.4, */*;q=0.5";
    assert_eq!(q(h, "text/plain;format=flowed"), 1000);
    assert_eq!(q(h, "text/plain"), 700);
    assert_eq!(q(h, "text/html"), 300);
    assert_eq!(q(h, "image/jpeg"), 500);
    assert_eq!(q(h, "text/plain;format=fixed"), 400);
    assert_eq!(q(h, "text/html;level=3"), 300);
}

#[test]
fn specificity_beats_order_and_q_zero_refuses() {
    let h = "*/*, text/plain;q=0";
    assert_eq!(q(h, "text/plain"), 0);
    assert_eq!(choose(Some(h), &["text/plain", "text/html"]), Some(1));
    assert_eq!(choose(Some("text/plain;q=0"), &["text/plain"]), None);
    assert_eq!(choose(Some("image/*"), &["text/plain"]), None);
    // Equal quality: the more specific match wins over the earlier type.
    assert_eq!(
        choose(Some("text/*, text/html"), &["text/plain", "text/html"]),
        Some(1)
    );
    // Equal quality and specificity: the earlier available type wins.
    assert_eq!(
        choose(Some("text/html, text/plain"), &["text/plain", "text/html"]),
        Some(0)
    );
    // Higher quality beats specificity.
    assert_eq!(
        choose(Some("text/html;q=0.5, */*"), &["text/html", "image/png"]),
        Some(1)
    );
}

#[test]
fn specificity_is_reported() {
    assert_eq!(
        media_type_match(Some(b"*/*"), "text/html"),
        Some((1000, Specificity::Any))
    );
    assert_eq!(
        media_type_match(Some(b"text/*;q=0.2"), "text/html"),
        Some((200, Specificity::Type))
    );
    assert_eq!(
        media_type_match(Some(b"TEXT/HTML"), "text/html"),
        Some((1000, Specificity::Subtype { params: 0 }))
    );
    assert_eq!(
        media_type_match(Some(b"image/png"), "text/html"),
        Some((0, Specificity::Any))
    );
}

#[test]
fn parameters_and_weights() {
    // Case-insensitive names, `Q=`, OWS around `;`, empty parameters, q not last.
    assert_eq!(q("text/html ; Q=0.5", "text/html"), 500);
    assert_eq!(q("text/html;;q=0.25;", "text/html"), 250);
    assert_eq!(
        q("text/plain;q=0.5;format=flowed", "text/plain;format=flowed"),
        500
    );
    assert_eq!(q("text/plain;q=0.5;format=flowed", "text/plain"), 0);
    // Quoted values compare unquoted; a comma inside quotes does not split the list.
    assert_eq!(
        q(
            "text/plain;format=\"flo,wed\";q=0.3",
            "text/plain;format=\"flo,wed\""
        ),
        300
    );
    assert_eq!(
        q(
            "text/plain;format=\"flowed\";q=0.3",
            "text/plain;format=flowed"
        ),
        300
    );
    assert_eq!(q("a/b;x=\"q\\\"z\", text/html", "text/html"), 1000);
    // Whitespace around `=` is not allowed by the grammar: the element is skipped.
    assert_eq!(q("text/html;q = 0.5, image/png", "text/html"), 0);
    // Equally specific duplicates: the highest quality wins.
    assert_eq!(q("text/html;q=0.2, text/html;q=0.9", "text/html"), 900);
}

#[test]
fn charset_utf8_matches_types_without_charset() {
    assert_eq!(
        q("application/json;charset=UTF-8", "application/json"),
        1000
    );
    assert_eq!(
        q("application/json;charset=\"utf-8\"", "application/json"),
        1000
    );
    assert_eq!(q("text/html;charset=iso-8859-1", "text/html"), 0);
    assert_eq!(
        q("text/html;charset=utf-8", "text/html;charset=UTF-8"),
        1000
    );
}

#[test]
fn element_and_parameter_limits() {
    let mut many = "x/y, ".repeat(10_000);
    many.push_str("text/html");
    assert_eq!(
        q(&many, "text/html"),
        0,
        "elements beyond the limit are ignored"
    );
    assert_eq!(q(&many, "x/y"), 1000);
    let mut sparse = ",".repeat(10_000);
    sparse.push_str("text/html;q=0.5");
    assert_eq!(q(&sparse, "text/html"), 500, "empty elements do not count");
    let garbage = "\u{1F600}".repeat(10_000);
    assert_eq!(choose(Some(&garbage), &["text/html"]), Some(0));
    let params: String = (0..100).map(|i| format!(";p{i}=v")).collect();
    assert_eq!(q(&format!("text/html{params};q=0.5"), "text/html"), 0);
    assert_eq!(
        q(
            &format!("text/html{params};q=0.5"),
            &format!("text/html{params}")
        ),
        500
    );
}

#[test]
fn languages_basic_filtering() {
    let avail = ["en", "en-GB", "fr", "de-CH"];
    assert_eq!(lang(None, &avail), None);
    assert_eq!(lang(Some("fr"), &avail), Some(2));
    assert_eq!(lang(Some("EN-gb"), &avail), Some(1));
    assert_eq!(lang(Some("en"), &["en-GB", "en"]), Some(0));
    assert_eq!(lang(Some("de"), &avail), Some(3));
    assert_eq!(lang(Some("e"), &avail), None);
    assert_eq!(lang(Some("*"), &avail), Some(0));
    assert_eq!(lang(Some("fr;q=0.5, en;q=0.8"), &avail), Some(0));
    // The longest matching range decides: en-GB is refused though `en` is wanted.
    assert_eq!(lang(Some("en, en-GB;q=0"), &["en-GB", "en-US"]), Some(1));
    assert_eq!(lang(Some("*, fr;q=0"), &["fr", "de"]), Some(1));
    assert_eq!(lang(Some("fr;q=0"), &["fr"]), None);
    // Ties go to the order of `available`.
    assert_eq!(lang(Some("fr, en"), &avail), Some(0));
}

/// A tag no range matches as sent is matched by a range cut back (RFC 4647 §3.4), at that
/// range's quality, below an exact match at the same quality and never against an explicit
/// refusal.
#[test]
fn languages_fall_back_to_a_cut_range() {
    let avail = ["en", "en-GB", "fr", "de-CH"];
    assert_eq!(lang(Some("fr-FR"), &avail), Some(2));
    assert_eq!(lang(Some("fr-CA, en;q=0.1"), &avail), Some(2));
    assert_eq!(lang(Some("de-CH-1996"), &avail), Some(3));
    // A singleton left last goes with what followed it.
    assert_eq!(lang(Some("fr-x-private"), &avail), Some(2));
    assert_eq!(lang(Some("en-G"), &["en", "fr"]), Some(0));
    // A cut range may then match a longer tag, as basic filtering does.
    assert_eq!(lang(Some("de-AT"), &avail), Some(3));
    // Exact before cut at the same quality; a higher quality wins either way.
    assert_eq!(lang(Some("fr-FR, en"), &["fr", "en"]), Some(1));
    assert_eq!(lang(Some("fr-FR, en;q=0.9"), &["en", "fr"]), Some(1));
    // An explicit refusal stands: `fr;q=0` is not undone by `fr-FR`.
    assert_eq!(lang(Some("fr-FR, fr;q=0"), &["fr"]), None);
    assert_eq!(lang(Some("fr-FR;q=0"), &["fr"]), None);
    // `*` at a higher quality than the cut range's still counts.
    assert_eq!(lang(Some("fr-FR;q=0.5, *"), &["de", "fr"]), Some(0));
    assert_eq!(lang(Some("fr-FR, *;q=0.5"), &["de", "fr"]), Some(1));
    assert_eq!(lang(Some("fr-FR, *;q=0"), &["de", "fr"]), Some(1));
    // Nothing to cut back to.
    assert_eq!(lang(Some("ja-JP"), &avail), None);
}

#[test]
fn languages_hostile_input() {
    let avail = ["en", "fr"];
    for h in [
        "",
        ",,,",
        "en;q=abc",
        "en;q=1.0001",
        "en;q=-1",
        "en_US",
        "toolongtag",
        "en-",
        "-en",
        "en-*",
        "en;level=1",
        "fr ;q=0.5 x",
        "ελ",
        "en;q=",
    ] {
        assert_eq!(lang(Some(h), &avail), None, "{h:?}");
    }
    assert_eq!(lang(Some("en_US, fr;q=0.1"), &avail), Some(1));
    assert_eq!(lang(Some(" fr ; q=0.5 "), &avail), Some(1));
    let mut many = "xx, ".repeat(10_000);
    many.push_str("fr");
    assert_eq!(lang(Some(&many), &avail), None);
    assert_eq!(lang(Some("zh-Hant-TW"), &["zh-hant-tw"]), Some(0));
}

#[test]
fn q_below_one_still_accepts() {
    assert_eq!(
        media_type_quality(
            Some(b"text/plain;q=0.5, application/problem+json"),
            "text/plain"
        ),
        500
    );
}

/// Choosing in one pass over the header agrees with matching each type on its own, for
/// headers with parameters, weights, wildcards, duplicates and junk.
#[test]
fn one_pass_agrees_with_one_type_at_a_time() {
    let offered = [
        "text/html",
        "application/problem+json",
        "application/json",
        "text/plain",
        "text/plain;format=flowed",
    ];
    for accept in [
        "",
        ",,",
        "*/*",
        "text/*;q=0.5, */*;q=0.1",
        "application/json;charset=utf-8, text/plain;q=0.9",
        "text/plain;format=flowed;q=0.8, text/plain;q=0.2",
        "text/html;q=0, */*",
        "text/html;q=0.2, text/html;q=0.9",
        "application/*;q=0.3;x=\"a,b\", text/plain;q=2",
        "garbage, text/plain;q=0.4",
        "*/html, image/png",
    ] {
        let header = Some(accept.as_bytes());
        let singly: Option<Vec<_>> = offered
            .iter()
            .map(|t| media_type_match(header, t))
            .collect();
        let expected = match &singly {
            None => Some(0),
            Some(matches) => best_of(matches),
        };
        assert_eq!(choose_media_type(header, &offered), expected, "{accept}");
        let at_once = media_type_matches(header, &offered).map(|m| m.to_vec());
        assert_eq!(at_once, singly, "{accept}");
    }
}
