//! Host patterns and host -> site selection.

use crate::router::host::{
    HostConflict, HostPattern, HostPatternError, HostTable, SiteChoice, normalise_authority,
};

fn table(sites: &[&[&str]]) -> HostTable {
    let parsed: Vec<Vec<HostPattern>> = sites
        .iter()
        .map(|hosts| {
            hosts
                .iter()
                .map(|h| HostPattern::parse(h).unwrap())
                .collect()
        })
        .collect();
    HostTable::build(parsed.iter().map(Vec::as_slice)).unwrap()
}

#[test]
fn patterns_parse_to_canonical_form() {
    let cases: &[(&str, Result<HostPattern, HostPatternError>)] = &[
        (
            "Example.TEST",
            Ok(HostPattern::Exact("example.test".into())),
        ),
        (
            "example.test.",
            Ok(HostPattern::Exact("example.test".into())),
        ),
        (
            "*.Example.test",
            Ok(HostPattern::Wildcard("example.test".into())),
        ),
        ("192.0.2.1", Ok(HostPattern::Exact("192.0.2.1".into()))),
        ("[0:0::1]", Ok(HostPattern::Exact("[::1]".into()))),
        ("localhost", Ok(HostPattern::Exact("localhost".into()))),
        (
            "example.test:8080",
            Err(HostPatternError::Port("8080".into())),
        ),
        ("[::1]:8080", Err(HostPatternError::Port("8080".into()))),
        ("a.*.test", Err(HostPatternError::Wildcard)),
        ("*", Err(HostPatternError::Wildcard)),
        ("**.test", Err(HostPatternError::Wildcard)),
        ("", Err(HostPatternError::Invalid)),
        ("a..test", Err(HostPatternError::Invalid)),
        ("café.test", Err(HostPatternError::Invalid)),
        ("[nope]", Err(HostPatternError::Invalid)),
        ("user@example.test", Err(HostPatternError::Invalid)),
    ];
    for (text, want) in cases {
        assert_eq!(&HostPattern::parse(text), want, "{text}");
    }
    assert_eq!(
        HostPattern::parse("*.a.test").unwrap().to_string(),
        "*.a.test"
    );
}

#[test]
fn authorities_normalise() {
    let cases: &[(&str, Option<&str>)] = &[
        ("example.test", Some("example.test")),
        ("EXAMPLE.test:8080", Some("example.test")),
        ("example.test.", Some("example.test")),
        ("example.test.:443", Some("example.test")),
        ("[::1]:8080", Some("[::1]")),
        ("[0:0:0::1]", Some("[::1]")),
        ("[::1]junk", None),
        ("[zz]", None),
        ("", None),
        (":80", None),
        ("user@example.test", None),
        ("::1", None),
    ];
    for (authority, want) in cases {
        assert_eq!(
            normalise_authority(authority).as_deref(),
            *want,
            "{authority:?}"
        );
    }
}

#[test]
fn selection_table() {
    // Site 0: exact names; 1: a wildcard; 2: a deeper wildcard and an IPv6 literal; 3: default.
    let t = table(&[
        &["example.test", "www.example.test"],
        &["*.example.test"],
        &["*.api.example.test", "[::1]"],
        &[],
    ]);
    let cases: &[(Option<&str>, SiteChoice)] = &[
        (Some("example.test"), SiteChoice::Exact(0)),
        (Some("WWW.Example.Test:8443"), SiteChoice::Exact(0)),
        (Some("example.test."), SiteChoice::Exact(0)),
        // Exact beats the wildcard that also matches it.
        (Some("www.example.test"), SiteChoice::Exact(0)),
        (Some("shop.example.test"), SiteChoice::Wildcard(1)),
        // One label only: two labels fall through to the default site ...
        (Some("a.b.example.test"), SiteChoice::Default(3)),
        // ... unless a wildcard one level deeper claims them.
        (Some("v1.api.example.test"), SiteChoice::Wildcard(2)),
        (Some("api.example.test"), SiteChoice::Wildcard(1)),
        (Some("[::1]:8080"), SiteChoice::Exact(2)),
        (Some("[0::1]"), SiteChoice::Exact(2)),
        (Some(".example.test"), SiteChoice::Default(3)),
        (Some("other.test"), SiteChoice::Default(3)),
        (Some("garbage@host"), SiteChoice::Default(3)),
        (None, SiteChoice::Default(3)),
    ];
    for (host, want) in cases {
        assert_eq!(t.select(*host), *want, "{host:?}");
    }
}

#[test]
fn unknown_host_without_default_is_misdirected() {
    let t = table(&[&["example.test"]]);
    assert_eq!(t.select(Some("other.test")), SiteChoice::Misdirected);
    assert_eq!(t.select(None), SiteChoice::Misdirected);
    assert_eq!(SiteChoice::Misdirected.site(), None);
    assert_eq!(t.select(Some("example.test")).site(), Some(0));
}

#[test]
fn conflicts_are_all_reported() {
    let parsed: Vec<Vec<HostPattern>> = [
        &["a.test", "*.a.test"][..],
        &[],
        &["b.test", "A.TEST."],
        &[],
        &["*.a.test", "b.test"],
    ]
    .iter()
    .map(|hosts| {
        hosts
            .iter()
            .map(|h| HostPattern::parse(h).unwrap())
            .collect()
    })
    .collect();
    let conflicts = HostTable::build(parsed.iter().map(Vec::as_slice)).unwrap_err();
    assert_eq!(
        conflicts,
        vec![
            HostConflict::Duplicate {
                site: 2,
                host: 1,
                other_site: 0,
                other_host: 0
            },
            HostConflict::SecondDefault {
                site: 3,
                other_site: 1
            },
            HostConflict::Duplicate {
                site: 4,
                host: 0,
                other_site: 0,
                other_host: 1
            },
            HostConflict::Duplicate {
                site: 4,
                host: 1,
                other_site: 2,
                other_host: 0
            },
        ]
    );
}
