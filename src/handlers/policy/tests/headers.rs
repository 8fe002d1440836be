//! Header changes: segment globs, set/add/remove, Cache-Control on errors, presets, Vary.

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use crate::handlers::policy::headers::{
    GlobError, HeaderOps, SecurityPreset, SegmentGlob, add_vary, config_caching, is_framing,
};

#[test]
fn segment_globs() {
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "*.js",
            &["app.js", ".js", "a.b.js"],
            &["app.jsx", "app.JS", "js", "app.js.map"],
        ),
        ("*.{js,css}", &["a.js", "b.css"], &["a.html", "a.{js,css}"]),
        (
            "{a,b}{c,d}",
            &["ac", "ad", "bc", "bd"],
            &["ab", "a", "abcd"],
        ),
        ("*", &["", "anything", "é"], &[]),
        ("index.html", &["index.html"], &["index.htm", "xindex.html"]),
        ("*.min.*", &["a.min.js", "b.min.css"], &["a.js", "amin.js"]),
        ("{,x}y", &["y", "xy"], &["zy"]),
        ("日本*", &["日本語.txt"], &["本.txt"]),
    ];
    for (glob, yes, no) in cases {
        let g = SegmentGlob::parse(glob).unwrap();
        assert_eq!(g.as_str(), *glob);
        for s in *yes {
            assert!(g.matches(s), "{glob} should match {s}");
        }
        for s in *no {
            assert!(!g.matches(s), "{glob} should not match {s}");
        }
    }
    let bad = [
        ("", GlobError::Empty),
        ("/assets/*.js", GlobError::Slash),
        ("a/b", GlobError::Slash),
        ("{a", GlobError::Braces),
        ("a}", GlobError::Braces),
        ("{a{b}}", GlobError::Braces),
        ("{a}}", GlobError::Braces),
        (
            "{a,b,c,d,e,f,g,h}{a,b,c,d,e,f,g,h}{a,b}",
            GlobError::TooMany,
        ),
    ];
    for (glob, want) in bad {
        assert_eq!(SegmentGlob::parse(glob), Err(want), "{glob}");
    }
    // Pathological input costs pattern x text at worst.
    let g = SegmentGlob::parse("*a*a*a*a*a*a*b").unwrap();
    assert!(!g.matches(&"a".repeat(10_000)));
}

fn name(n: &'static str) -> HeaderName {
    HeaderName::from_static(n)
}

fn value(v: &'static str) -> HeaderValue {
    HeaderValue::from_static(v)
}

#[test]
fn set_add_remove() {
    let ops = HeaderOps {
        set: vec![
            (name("x-frame-options"), value("DENY")),
            (name("cache-control"), value("public")),
        ],
        add: vec![
            (name("link"), value("</a.css>")),
            (name("cache-control"), value("max-age=1")),
        ],
        remove: vec![name("server"), name("x-absent")],
    };
    assert!(!ops.is_empty() && HeaderOps::default().is_empty());
    let mut h = HeaderMap::new();
    h.insert("x-frame-options", value("SAMEORIGIN"));
    h.insert("link", value("</b.js>"));
    h.insert("server", value("usher"));
    h.insert("cache-control", value("no-cache"));
    assert!(config_caching(StatusCode::OK, &HeaderMap::new()));
    assert!(!config_caching(StatusCode::OK, &h));
    ops.apply(&mut h, true);
    assert_eq!(h["x-frame-options"], "DENY");
    let links: Vec<_> = h.get_all("link").iter().collect();
    assert_eq!(links, ["</b.js>", "</a.css>"]);
    let cc: Vec<_> = h.get_all("cache-control").iter().collect();
    assert_eq!(cc, ["public", "max-age=1"]);
    assert!(h.get("server").is_none());
    // 304 and redirects take Cache-Control (RFC 9110 §15.4.5); errors keep their own.
    for (status, cached) in [
        (304, true),
        (308, true),
        (404, false),
        (401, false),
        (503, false),
    ] {
        let mut h = HeaderMap::new();
        if status >= 500 {
            h.insert("cache-control", value("no-store"));
        }
        let caching = config_caching(StatusCode::from_u16(status).unwrap(), &h);
        ops.apply(&mut h, caching);
        let cc: Vec<_> = h.get_all("cache-control").iter().collect();
        if cached {
            assert_eq!(cc, ["public", "max-age=1"], "{status}");
        } else if status >= 500 {
            assert_eq!(cc, ["no-store"], "{status}");
        } else {
            assert!(cc.is_empty(), "{status}");
        }
        assert_eq!(h["x-frame-options"], "DENY", "{status}");
    }
}

#[test]
fn framing_fields() {
    for n in [
        "content-length",
        "transfer-encoding",
        "connection",
        "te",
        "upgrade",
        "keep-alive",
    ] {
        assert!(
            is_framing(&HeaderName::from_bytes(n.as_bytes()).unwrap()),
            "{n}"
        );
    }
    for n in [
        "content-type",
        "cache-control",
        "server",
        "x-content-length",
    ] {
        assert!(
            !is_framing(&HeaderName::from_bytes(n.as_bytes()).unwrap()),
            "{n}"
        );
    }
}

#[test]
fn presets_fill_in_only() {
    let mut h = HeaderMap::new();
    h.insert("content-security-policy", value("default-src 'none'"));
    SecurityPreset::Strict.apply(&mut h);
    assert_eq!(h["content-security-policy"], "default-src 'none'");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["cross-origin-opener-policy"], "same-origin");
    assert!(
        h["permissions-policy"]
            .to_str()
            .unwrap()
            .contains("camera=()")
    );
    assert!(h.get("strict-transport-security").is_none());
    let mut h = HeaderMap::new();
    SecurityPreset::Basic.apply(&mut h);
    assert_eq!(h["x-frame-options"], "SAMEORIGIN");
    assert_eq!(h["referrer-policy"], "strict-origin-when-cross-origin");
    assert!(h.get("content-security-policy").is_none());
    assert_eq!(h.len(), SecurityPreset::Basic.fields().len());
    assert_eq!(SecurityPreset::Basic.name(), "basic");
    assert_eq!(SecurityPreset::Strict.name(), "strict");
}

#[test]
fn vary_is_merged() {
    let vary = |existing: &[&'static str], add: &str| {
        let mut h = HeaderMap::new();
        for v in existing {
            h.append("vary", value(v));
        }
        add_vary(&mut h, add);
        h.get_all("vary")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(vary(&[], "Origin"), ["Origin"]);
    assert_eq!(vary(&["Accept"], "Origin"), ["Accept, Origin"]);
    assert_eq!(
        vary(&["Accept", "accept-language"], "Origin"),
        ["Accept, accept-language, Origin"]
    );
    assert_eq!(vary(&["Accept, origin"], "Origin"), ["Accept, origin"]);
    assert_eq!(vary(&["*"], "Origin"), ["*"]);
    assert_eq!(vary(&[" , Accept ,"], "Origin"), ["Accept, Origin"]);
}
