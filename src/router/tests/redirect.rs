//! Redirect templates: validation and Location expansion, hostile paths included.

use super::p;
use crate::router::redirect::{Redirect, RedirectError};

/// The Location for `path?query` on a prefix route of `consumed` segments.
fn location(to: &str, path: &str, consumed: usize, query: Option<&str>) -> String {
    let r = Redirect::new(to, 301).unwrap();
    r.location(&p(path), consumed, query)
        .to_str()
        .unwrap()
        .to_owned()
}

#[test]
fn statuses() {
    for status in [301, 302, 303, 307, 308] {
        assert_eq!(
            Redirect::new("/x", status).unwrap().status().as_u16(),
            status
        );
    }
    for status in [200, 300, 304, 305, 306, 309, 404, 0, 1000] {
        assert_eq!(
            Redirect::new("/x", status),
            Err(RedirectError::Status),
            "{status}"
        );
    }
    assert_eq!(
        Redirect::new("/new{path}", 308).unwrap().to_string(),
        "308 to /new{path}"
    );
}

#[test]
fn templates_are_validated() {
    let cases: &[(&str, RedirectError)] = &[
        ("new/", RedirectError::Start),
        ("//evil.com/", RedirectError::Start),
        ("", RedirectError::Start),
        ("ftp://host/", RedirectError::Start),
        ("https:///x", RedirectError::Start),
        ("https://user@host/", RedirectError::Start),
        ("{path}", RedirectError::PlaceholderInHost),
        ("{uri}", RedirectError::PlaceholderInHost),
        ("https://{query}.example/", RedirectError::Start),
        ("/a{nope}", RedirectError::Placeholder("{nope}".into())),
        ("/a{path", RedirectError::Placeholder("{path".into())),
        ("/a{query}", RedirectError::QueryOutsideQuery),
        ("/a b", RedirectError::Character),
        ("/café", RedirectError::Character),
        ("/a\\b", RedirectError::Character),
        ("/a\r\nSet-Cookie: x", RedirectError::Character),
    ];
    for (to, want) in cases {
        assert_eq!(&Redirect::new(to, 302).unwrap_err(), want, "{to:?}");
    }
}

#[test]
fn placeholders() {
    // (template, request path, prefix segments consumed, query, Location)
    let cases: &[(&str, &str, usize, Option<&str>, &str)] = &[
        ("/new/", "/old/a/b", 1, Some("x=1"), "/new/"),
        ("/new{path}", "/old/a/b", 1, None, "/new/a/b"),
        ("/new{path}", "/old", 1, None, "/new"),
        ("/new{path}", "/old/", 1, None, "/new/"),
        ("/new{path}", "/old/dir/", 1, None, "/new/dir/"),
        (
            "/new{path}{?query}",
            "/old/a",
            1,
            Some("x=1&y=%20"),
            "/new/a?x=1&y=%20",
        ),
        ("/new{path}{?query}", "/old/a", 1, None, "/new/a"),
        (
            "/new{path}?from=old&{query}",
            "/old/a",
            1,
            Some("q=1"),
            "/new/a?from=old&q=1",
        ),
        ("/new{path}?{query}", "/old/a", 1, None, "/new/a?"),
        ("/new{uri}", "/old/a", 1, Some("q"), "/new/old/a?q"),
        ("/v2{path}", "/x.php", 0, None, "/v2/x.php"),
        (
            "/login?next={path}",
            "/a&b=c/d",
            0,
            None,
            "/login?next=/a%26b%3Dc/d",
        ),
        (
            "https://example.test{path}",
            "/old/a",
            1,
            None,
            "https://example.test/a",
        ),
        (
            "https://example.test:8443/{path}",
            "/old/a",
            1,
            None,
            "https://example.test:8443/a",
        ),
        (
            "https://example.test{uri}",
            "/",
            0,
            Some("a"),
            "https://example.test/?a",
        ),
        ("/{path}#top", "/old/a", 1, None, "/a#top"),
        // Percent-encoding: decoded names are re-encoded, the query keeps its encoding.
        (
            "/new{path}",
            "/old/caf%C3%A9%20x",
            1,
            None,
            "/new/caf%C3%A9%20x",
        ),
        ("/new{path}", "/old/100%25", 1, None, "/new/100%25"),
        ("/new{path}", "/old/a%3Fb%23c", 1, None, "/new/a%3Fb%23c"),
        ("/n{?query}", "/", 0, Some("a=%2F&b=é"), "/n?a=%2F&b=%C3%A9"),
        ("/n{?query}", "/", 0, Some("100%"), "/n?100%25"),
    ];
    for (to, path, consumed, query, want) in cases {
        assert_eq!(
            location(to, path, *consumed, *query),
            *want,
            "{to} for {path}"
        );
    }
}

#[test]
fn hostile_paths_never_leave_the_site() {
    // (template, raw request path, consumed) -> the Location must be a same-site path.
    let cases: &[(&str, &str, usize, &str)] = &[
        ("/{path}", "//evil.com", 0, "/evil.com"),
        ("/{path}", "/old//evil.com", 1, "/evil.com"),
        ("{uri}x", "//evil.com", 0, ""),
        ("/{path}", "/%2F%2Fevil.com", 0, "/evil.com"),
        ("/{path}", "/old/%2F%2Fevil.com/x", 1, "/evil.com/x"),
        ("/{path}", "/%5C%5Cevil.com", 0, "/%5C%5Cevil.com"),
        (
            "/{path}",
            "/a%0D%0ASet-Cookie:%20x=1",
            0,
            "/a%0D%0ASet-Cookie:%20x=1",
        ),
        ("/x{uri}", "/../../evil", 0, "/x/evil"),
        (
            "https://example.test{path}",
            "/@evil.com",
            0,
            "https://example.test/@evil.com",
        ),
    ];
    for (to, path, consumed, want) in cases {
        let Ok(r) = Redirect::new(to, 302) else {
            // `{uri}x` is refused outright: a placeholder may not open the Location.
            assert_eq!(*want, "", "{to}");
            continue;
        };
        let got = r.location(&p(path), *consumed, None);
        let got = got.to_str().unwrap();
        assert_eq!(got, *want, "{to} for {path}");
        assert!(!got.starts_with("//") && !got.contains('\\') && !got.contains('\r'));
    }
    // A raw CR/LF in the query (never from hyper, but the function is pure) is encoded.
    let r = Redirect::new("/n{?query}", 302).unwrap();
    assert_eq!(
        r.location(&p("/"), 0, Some("a\r\nb c")).to_str().unwrap(),
        "/n?a%0D%0Ab%20c"
    );
}
