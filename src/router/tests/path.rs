//! Path patterns: parsing, canonical forms, matching, specificity, covering.

use super::p;
use crate::router::path::{GlobSegment, PathPattern, PathPatternError, Specificity};

fn pat(text: &str) -> PathPattern {
    PathPattern::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn forms_and_canonical_spelling() {
    let cases = [
        ("/", "/"),
        ("/old", "/old/"),
        ("/old/", "/old/"),
        ("= /x", "= /x"),
        ("=/x/", "= /x/"),
        ("/caf%C3%A9/", "/café/"),
        ("*.php", "/**/*.php"),
        ("/assets/*.js", "/assets/*.js"),
        ("/a/**", "/a/"),
        ("/a/**/**/b*", "/a/**/b*"),
        ("**", "/"),
    ];
    for (text, canonical) in cases {
        assert_eq!(pat(text).to_string(), canonical, "{text}");
    }
    assert_eq!(pat("/a/**"), pat("/a"));
    assert_eq!(
        pat("/a/*/b"),
        PathPattern::Glob(vec![
            GlobSegment::Literal("a".into()),
            GlobSegment::Star("*".into()),
            GlobSegment::Literal("b".into()),
        ])
    );
}

#[test]
fn malformed_patterns_say_how_to_write_them() {
    let cases: &[(&str, PathPatternError)] = &[
        ("old/", PathPatternError::NotAbsolute),
        ("", PathPatternError::NotAbsolute),
        (
            "= x",
            PathPatternError::NotNormal("as \"x\" is not: the path does not start with '/'".into()),
        ),
        (
            "/a/../b",
            PathPatternError::NotNormal("such as \"/b\"".into()),
        ),
        (
            "/a//b",
            PathPatternError::NotNormal("such as \"/a/b\"".into()),
        ),
        (
            "/a/./",
            PathPatternError::NotNormal("such as \"/a/\"".into()),
        ),
        (
            "/%zz",
            PathPatternError::NotNormal(
                "as \"/%zz\" is not: the path has a malformed percent-encoding".into(),
            ),
        ),
        ("/a**/b", PathPatternError::BadWildcard),
        ("= /a*", PathPatternError::BadWildcard),
    ];
    for (text, want) in cases {
        assert_eq!(&PathPattern::parse(text).unwrap_err(), want, "{text}");
    }
}

#[test]
fn matching_table() {
    // (pattern, path, consumed segments if it matches)
    let cases: &[(&str, &str, Option<usize>)] = &[
        ("/", "/", Some(0)),
        ("/", "/anything/at/all", Some(0)),
        ("/old/", "/old", Some(1)),
        ("/old/", "/old/", Some(1)),
        ("/old/", "/old/a/b", Some(1)),
        ("/old", "/older", None),
        ("/old/", "/ol", None),
        ("/a/b", "/a/b/c", Some(2)),
        ("= /x", "/x", Some(0)),
        ("= /x", "/x/", None),
        ("= /x/", "/x/", Some(0)),
        ("= /x", "/x/y", None),
        ("= /", "/", Some(0)),
        ("*.php", "/index.php", Some(0)),
        ("*.php", "/a/b/c.php", Some(0)),
        ("*.php", "/a.php/b", None),
        ("*.php", "/php", None),
        // A `*` segment takes letters in either case, so `INFO.PHP` is no plain file to a
        // files route behind it; literal segments stay exact.
        ("*.php", "/INFO.PHP", Some(0)),
        ("*.php", "/a/Info.Php", Some(0)),
        ("/Assets/*.js", "/assets/app.js", None),
        ("/assets/*.js", "/assets/app.js", Some(0)),
        ("/assets/*.js", "/assets/sub/app.js", None),
        ("/assets/*.js", "/assets/.js", Some(0)),
        ("/docs/**/*.md", "/docs/a.md", Some(0)),
        ("/docs/**/*.md", "/docs/x/y/a.md", Some(0)),
        ("/docs/**/*.md", "/other/a.md", None),
        ("/*/edit", "/page/edit", Some(0)),
        ("/*/edit", "/edit", None),
        ("a*b*c", "/aXbYc", Some(0)),
        ("a*b*c", "/aXbY", None),
        // Matching is on the normalised path: encodings and dot-segments are gone.
        ("/admin/", "/%61dmin/x", Some(1)),
        ("/admin/", "/public/../admin", Some(1)),
        ("/admin/", "//admin//x", Some(1)),
        ("*.php", "/x.ph%70", Some(0)),
        ("/caf%C3%A9", "/café", Some(1)),
    ];
    for (pattern, path, want) in cases {
        assert_eq!(pat(pattern).matches(&p(path)), *want, "{pattern} on {path}");
    }
}

#[test]
fn many_stars_stay_fast() {
    // Backtracking matchers take exponential time here; ours is O(pattern x text).
    let pattern = pat(&format!("/{}b", "*a".repeat(30)));
    let path = p(&format!("/{}", "a".repeat(5000)));
    assert_eq!(pattern.matches(&path), None);
    let deep = pat("/**/x/**/y/**/z");
    let long = p(&"/x".repeat(2000));
    assert_eq!(deep.matches(&long), None);
}

#[test]
fn specificity_follows_the_documented_order() {
    // Each pattern is strictly more specific than the next.
    let ordered = [
        "= /assets/app.js",
        "/assets/img/",
        "/assets/*.min.js",
        "/assets/*.js",
        "/assets/",
        "*.min.js",
        "*.js",
        "/",
    ];
    for pair in ordered.windows(2) {
        assert!(
            pat(pair[0]).specificity() > pat(pair[1]).specificity(),
            "{} should outrank {}",
            pair[0],
            pair[1]
        );
    }
    assert_eq!(
        pat("/a/*.js").specificity(),
        Specificity {
            exact: false,
            literal_segments: 1,
            glob: true,
            literal_chars: 4
        }
    );
    // Equal rank: written order decides (tested in select.rs).
    assert_eq!(pat("*.js").specificity(), pat("*.ts").specificity());
}

#[test]
fn covering_is_sound() {
    let covers = [
        ("*.js", "*.js"),
        ("*.js", "/a/*.js"),
        ("/a/*", "/a/x*"),
        ("/**/x/*", "/a/**/x/b*"),
        ("a*", "ab*"),
    ];
    for (wide, narrow) in covers {
        assert!(pat(wide).covers(&pat(narrow)), "{wide} covers {narrow}");
    }
    let not = [
        ("a*", "*a"),
        ("/a/*", "/a/**/x"),
        ("/a/", "/b/"),
        ("/a/*", "/a/"),
        ("/*/x", "/**/x"),
        ("= /a", "/a/"),
    ];
    for (wide, narrow) in not {
        assert!(
            !pat(wide).covers(&pat(narrow)),
            "{wide} does not cover {narrow}"
        );
    }
}
