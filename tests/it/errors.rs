//! Errors that explain, negotiated by Accept (RFC 9457), and representations chosen by
//! Accept / Accept-Language (RFC 9110 §12).

use crate::support::{TestServer, client, header, write};

async fn site() -> TestServer {
    TestServer::start(|root| {
        write(root, "docs/introduction.html", "<p>intro</p>");
        write(root, "docs/installation.html", "<p>install</p>");
        write(root, "docs/intro-video.mp4", "mp4");
        write(root, "docs/zzz.txt", "z");
        write(root, "report.html", "<p>report</p>");
        write(root, "report.json", "{\"report\":true}");
        write(root, "about.en.html", "<p>hello</p>");
        write(root, "about.fr.html", "<p>bonjour</p>");
        write(root, "page.html", "<p>page</p>");
        write(root, "digits.txt", "0123456789");
    })
    .await
}

const BROWSER: &str =
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";

#[tokio::test]
async fn not_found_is_negotiated_in_three_formats_with_vary() {
    let s = site().await;
    let c = client();
    let url = s.url("/docs/intro.html");
    let html = c.get(&url).header("accept", BROWSER).send().await.unwrap();
    assert_eq!(html.status(), 404);
    assert!(header(&html, "vary").eq_ignore_ascii_case("accept"));
    assert!(header(&html, "content-type").starts_with("text/html"));
    let page = html.text().await.unwrap();
    assert!(
        page.contains("/docs/intro.html") && page.contains("href=\"/docs/introduction.html\""),
        "{page}"
    );

    let json = c
        .get(&url)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(json.headers()["content-type"], "application/problem+json");
    let v: serde_json::Value = json.json().await.unwrap();
    assert_eq!(v["status"], 404);
    assert!(v["type"].is_string() && v["title"].is_string());
    assert!(v["detail"].as_str().unwrap().contains("/docs/intro.html"));
    assert_eq!(v["instance"], "/docs/intro.html");
    assert!(
        v.get("request_id").is_none(),
        "a 4xx has no logged cause to point at"
    );
    let suggestions: Vec<&str> = v["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(
        suggestions.len() <= 3 && suggestions.contains(&"/docs/introduction.html"),
        "{suggestions:?}"
    );
    assert!(
        !suggestions.contains(&"/docs/zzz.txt"),
        "only near names: {suggestions:?}"
    );

    let text = c
        .get(&url)
        .header("accept", "text/plain")
        .send()
        .await
        .unwrap();
    assert!(header(&text, "content-type").starts_with("text/plain"));
    assert!(
        text.text()
            .await
            .unwrap()
            .contains("/docs/introduction.html")
    );

    let curl_like = c.get(&url).header("accept", "*/*").send().await.unwrap();
    assert!(header(&curl_like, "content-type").starts_with("text/plain"));
}

#[tokio::test]
async fn problem_bodies_never_leak_filesystem_paths() {
    let s = site().await;
    let root = s.root.to_str().unwrap().to_owned();
    for path in ["/nope", "/docs/nope", "/%00", "/digits.txt/x"] {
        for accept in ["text/html", "application/json", "text/plain"] {
            let body = client()
                .get(s.url(path))
                .header("accept", accept)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(!body.contains(&root), "{path} {accept}: {body}");
        }
    }
}

#[tokio::test]
async fn range_not_satisfiable_gives_the_length() {
    let s = site().await;
    let r = s
        .get(
            "/digits.txt",
            &[
                ("range", "bytes=50-"),
                ("accept", "text/plain;q=0.5, application/problem+json"),
            ],
        )
        .await;
    assert_eq!(r.status(), 416);
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(v["detail"].as_str().unwrap().contains("10"), "{v}");
}

#[tokio::test]
async fn variants_are_chosen_by_accept_with_content_location() {
    let s = site().await;
    let r = s.get("/report", &[("accept", "application/json")]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-location"], "/report.json");
    assert!(header(&r, "vary").to_ascii_lowercase().contains("accept"));
    assert_eq!(r.text().await.unwrap(), "{\"report\":true}");
    let r = s.get("/report", &[("accept", BROWSER)]).await;
    assert_eq!(r.headers()["content-location"], "/report.html");
    let r = s
        .get(
            "/report",
            &[("accept", "application/json;q=0.5, text/html;q=0.4")],
        )
        .await;
    assert_eq!(r.headers()["content-location"], "/report.json");
    let r = s.get("/report", &[]).await;
    assert_eq!(
        r.headers()["content-location"],
        "/report.html",
        "no Accept: the configured order"
    );
    let r = s.get("/report", &[("accept", "image/png")]).await;
    assert_eq!(r.status(), 406);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("/report.html") && body.contains("/report.json"),
        "{body}"
    );
}

#[tokio::test]
async fn language_variants_follow_accept_language() {
    let s = site().await;
    let c = client();
    for (lang, expected, content) in [
        ("fr-CH, fr;q=0.9, en;q=0.8", "/about.fr.html", "bonjour"),
        ("en-US,en;q=0.5", "/about.en.html", "hello"),
        ("de, fr;q=0.1", "/about.fr.html", "bonjour"),
    ] {
        let r = c
            .get(s.url("/about"))
            .header("accept-language", lang)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{lang}");
        assert_eq!(r.headers()["content-location"], expected, "{lang}");
        assert!(
            header(&r, "vary")
                .to_ascii_lowercase()
                .contains("accept-language")
        );
        assert!(r.text().await.unwrap().contains(content));
    }
}

/// A 412 or 416 about a language variant says what the choice depended on (RFC 9110
/// §12.5.5) and which variant its validators describe, in one `Vary` line.
#[tokio::test]
async fn problems_about_a_language_variant_carry_its_vary_and_content_location() {
    let s = site().await;
    let c = client();
    for _ in 0..2 {
        for (name, value, status) in [("range", "bytes=100-", 416), ("if-match", "\"nope\"", 412)] {
            let r = c
                .get(s.url("/about"))
                .header("accept-language", "fr")
                .header(name, value)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), status);
            let vary: Vec<_> = r.headers().get_all("vary").iter().collect();
            assert_eq!(vary, ["Accept, Accept-Language"], "{status}");
            assert_eq!(header(&r, "content-location"), "/about.fr.html");
        }
    }
}

#[tokio::test]
async fn accept_ruling_out_the_only_representation_is_406_unless_lenient() {
    let s = site().await;
    let c = client();
    let r = s.get("/page.html", &[("accept", "application/json")]).await;
    assert_eq!(r.status(), 406);
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(
        v.to_string().contains("text/html"),
        "406 lists what is available: {v}"
    );
    for accept in [
        "*/*",
        BROWSER,
        "text/*",
        "text/html;q=0.1, application/json",
    ] {
        let r = c
            .get(s.url("/page.html"))
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{accept}");
    }
    let lenient = TestServer::start_with(
        |root| write(root, "page.html", "<p>x</p>"),
        |c| c.files.lenient_accept = true,
    )
    .await;
    let r = c
        .get(lenient.url("/page.html"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
