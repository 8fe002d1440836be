//! Variants by Accept and Accept-Language, and 406 for a refused only representation.

use std::fs;

use http::StatusCode;

use super::{Site, body, get, header, problem, request};

const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

#[tokio::test]
async fn variants_by_media_type() {
    let site = Site::new();
    let serve = site.serve_dir();

    let res = get(&serve, "/report", &[("accept", "application/json")]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header(&res, "content-location"), "/report.json");
    assert_eq!(header(&res, "vary"), "Accept");
    assert!(header(&res, "content-type").starts_with("application/json"));
    assert_eq!(body(res).await.as_ref(), b"{\"report\":true}");

    // No Accept, */* and browsers: variant_order puts HTML first.
    for accept in [None, Some("*/*"), Some(BROWSER)] {
        let headers: Vec<(&str, &str)> = accept.map(|a| ("accept", a)).into_iter().collect();
        let res = get(&serve, "/report", &headers).await;
        assert_eq!(
            header(&res, "content-location"),
            "/report.html",
            "{accept:?}"
        );
        assert_eq!(body(res).await.as_ref(), b"<p>report</p>");
    }

    let res = get(
        &serve,
        "/report",
        &[("accept", "text/html;q=0.5, application/json")],
    )
    .await;
    assert_eq!(header(&res, "content-location"), "/report.json");
}

#[tokio::test]
async fn variant_order_breaks_ties() {
    let mut site = Site::new();
    site.opts.variant_order = vec!["application/json".into(), "text/html".into()];
    let res = get(&site.serve_dir(), "/report", &[("accept", "*/*")]).await;
    assert_eq!(header(&res, "content-location"), "/report.json");
}

#[tokio::test]
async fn refused_variants_are_406_listing_them() {
    let site = Site::new();
    let serve = site.serve_dir();
    let p = problem(&serve, "/report", &[("accept", "image/png")]).await;
    assert_eq!(p.status, StatusCode::NOT_ACCEPTABLE);
    let mut available = p.available.clone();
    available.sort();
    assert_eq!(available, vec!["/report.html", "/report.json"]);

    let p = problem(
        &serve,
        "/report",
        &[("accept", "text/html;q=0, application/json;q=0")],
    )
    .await;
    assert_eq!(p.status, StatusCode::NOT_ACCEPTABLE);
}

#[tokio::test]
async fn variants_by_language() {
    let site = Site::new();
    let serve = site.serve_dir();

    let res = get(
        &serve,
        "/about",
        &[("accept-language", "fr-CH, fr;q=0.9, en;q=0.5")],
    )
    .await;
    assert_eq!(header(&res, "content-location"), "/about.fr.html");
    assert_eq!(header(&res, "content-language"), "fr");
    let vary = header(&res, "vary").to_ascii_lowercase();
    assert!(
        vary.contains("accept") && vary.contains("accept-language"),
        "{vary}"
    );

    // Absent or unmatched: English, the default among tagged variants.
    for al in [None, Some("ja"), Some("*;q=0")] {
        let headers: Vec<(&str, &str)> = al.map(|a| ("accept-language", a)).into_iter().collect();
        let res = get(&serve, "/about", &headers).await;
        assert_eq!(header(&res, "content-location"), "/about.en.html", "{al:?}");
        assert_eq!(header(&res, "content-language"), "en");
    }

    // A regional tag alone falls back to its language (RFC 4647 §3.4), before English.
    for al in ["fr-CA", "fr-FR, en;q=0.1"] {
        let res = get(&serve, "/about", &[("accept-language", al)]).await;
        assert_eq!(header(&res, "content-location"), "/about.fr.html", "{al}");
    }

    // `/about.html` also finds `about.LANG.html`.
    let res = get(&serve, "/about.html", &[("accept-language", "de")]).await;
    assert_eq!(header(&res, "content-location"), "/about.de.html");
    assert_eq!(body(res).await.as_ref(), "<p>über</p>".as_bytes());
}

#[tokio::test]
async fn untagged_variant_wins_when_language_is_unmatched() {
    let site = Site::new();
    fs::write(site.path("about.html"), b"neutral").unwrap();
    let serve = site.serve_dir();
    let res = get(&serve, "/about", &[("accept-language", "ja")]).await;
    assert_eq!(header(&res, "content-location"), "/about.html");
    assert!(res.headers().get("content-language").is_none());
    let res = get(&serve, "/about", &[("accept-language", "fr")]).await;
    assert_eq!(header(&res, "content-location"), "/about.fr.html");
}

/// Every language of a page in 80 languages can be chosen, and an unmatched one still gets
/// English: none is left out by a limit on the variants considered.
#[tokio::test]
async fn a_page_in_many_languages_offers_every_one() {
    let site = Site::new();
    let languages: Vec<String> = (b'a'..=b'h')
        .flat_map(|a| (b'a'..=b'j').map(move |b| format!("{}{}", a as char, b as char)))
        .collect();
    for tag in &languages {
        fs::write(site.path(&format!("many.{tag}.html")), tag.as_bytes()).unwrap();
    }
    fs::write(site.path("many.en.html"), b"en").unwrap();
    let serve = site.serve_dir();
    for tag in languages.iter().map(String::as_str).chain(["en"]) {
        let res = get(&serve, "/many", &[("accept-language", tag)]).await;
        assert_eq!(header(&res, "content-language"), tag);
        assert_eq!(body(res).await.as_ref(), tag.as_bytes());
    }
    let res = get(&serve, "/many", &[("accept-language", "zz")]).await;
    assert_eq!(header(&res, "content-language"), "en");
}

#[tokio::test]
async fn variant_headers_survive_304_and_head() {
    let site = Site::new();
    let serve = site.serve_dir();
    let res = get(&serve, "/report", &[("accept", "application/json")]).await;
    let etag = header(&res, "etag").to_owned();
    let res = get(
        &serve,
        "/report",
        &[("accept", "application/json"), ("if-none-match", &etag)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(&res, "content-location"), "/report.json");
    assert_eq!(header(&res, "vary"), "Accept");

    let res = request(
        &serve,
        "HEAD",
        "/report",
        None,
        &[("accept", "application/json")],
    )
    .await
    .unwrap();
    assert_eq!(header(&res, "content-location"), "/report.json");
    assert_eq!(header(&res, "content-length"), "15");
}

#[tokio::test]
async fn variants_with_hostile_names_get_encoded_locations() {
    let site = Site::new();
    fs::write(site.path("my report#1.html"), b"x").unwrap();
    let res = get(&site.serve_dir(), "/my report#1", &[]).await;
    assert_eq!(header(&res, "content-location"), "/my%20report%231.html");
}

#[tokio::test]
async fn compressed_and_hidden_siblings_are_not_variants() {
    let site = Site::new();
    fs::write(site.path("archive.tar.gz"), b"gz").unwrap();
    fs::write(site.path(".env.json"), b"{}").unwrap();
    let serve = site.serve_dir();
    assert_eq!(
        problem(&serve, "/archive.tar", &[]).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        problem(&serve, "/.env", &[]).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn index_variants() {
    let site = Site::new();
    let serve = site.serve_dir();
    let res = get(&serve, "/intl/", &[("accept-language", "fr")]).await;
    assert_eq!(header(&res, "content-location"), "/intl/index.fr.html");
    assert_eq!(body(res).await.as_ref(), "index français".as_bytes());
    let res = get(&serve, "/intl/", &[]).await;
    assert_eq!(header(&res, "content-location"), "/intl/index.en.html");
}

#[tokio::test]
async fn only_representation_refused_by_accept_is_406() {
    let site = Site::new();
    let serve = site.serve_dir();
    let p = problem(&serve, "/page.html", &[("accept", "application/json")]).await;
    assert_eq!(p.status, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(p.available, vec!["text/html".to_owned()]);
    let p = problem(&serve, "/page.html", &[("accept", "text/html;q=0, */*")]).await;
    assert_eq!(p.status, StatusCode::NOT_ACCEPTABLE);

    // Never for absent, empty, */*, browser defaults, or wildcard subtypes.
    for accept in ["*/*", BROWSER, "text/*", "", "  "] {
        let res = get(&serve, "/page.html", &[("accept", accept)]).await;
        assert_eq!(res.status(), StatusCode::OK, "{accept:?}");
    }
    let res = get(
        &serve,
        "/image.png",
        &[("accept", "image/avif,image/webp,*/*")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = get(
        &serve,
        "/image.png",
        &[(
            "accept",
            "image/avif,image/webp,image/apng,image/*,*/*;q=0.8",
        )],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn lenient_accept_serves_the_only_representation() {
    let mut site = Site::new();
    site.opts.lenient_accept = true;
    let serve = site.serve_dir();
    let res = get(&serve, "/page.html", &[("accept", "application/json")]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = get(&serve, "/report", &[("accept", "image/png")]).await;
    assert_eq!(header(&res, "content-location"), "/report.html");
}
