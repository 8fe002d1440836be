//! Directories: trailing-slash redirects, index files, listings in three formats, and names
//! that must round-trip through listing links.

use crate::support::{TestServer, client, header, write};

/// Names that break naive escaping: spaces, unicode, quotes, `<`, `%`, `#`, `?`, `&`, `+`.
pub const HOSTILE_NAMES: [&str; 10] = [
    "with space.txt",
    "café ünïcödé.txt",
    "quote\"d.txt",
    "single'quote.txt",
    "<img src=x onerror=alert(1)>.txt",
    "100% done.txt",
    "hash#tag.txt",
    "what?.txt",
    "a&b=c+d.txt",
    "日本語.txt",
];

async fn hostile_site() -> TestServer {
    TestServer::start(|root| {
        for (i, name) in HOSTILE_NAMES.iter().enumerate() {
            write(root, &format!("files/{name}"), format!("content {i}"));
        }
        write(root, "files/sub dir/inner.txt", "inner");
        write(root, "files/a.bin", vec![0u8; 5000]);
        write(root, "withindex/index.html", "<p>the index</p>");
        write(root, "withindex/other.txt", "x");
    })
    .await
}

#[tokio::test]
async fn directory_without_slash_redirects_keeping_the_query() {
    let s = hostile_site().await;
    let r = s.get("/files?sort=size&order=desc", &[]).await;
    assert_eq!(r.status(), 301);
    assert_eq!(r.headers()["location"], "/files/?sort=size&order=desc");
    let r = s.get("/files/sub%20dir", &[]).await;
    assert_eq!(r.status(), 301);
    assert_eq!(r.headers()["location"], "/files/sub%20dir/");
}

/// A directory named with an encoded final slash (`/files%2F`) is sent to the form with a
/// real one first: its page's relative links resolve against the URL (RFC 3986 §5.2), and
/// against `/files%2F` they would all point beside the directory.
#[tokio::test]
async fn an_encoded_final_slash_redirects_to_a_real_one() {
    let s = hostile_site().await;
    for (asked, location) in [
        ("/files%2F", "/files/"),
        ("/files%2f?sort=size", "/files/?sort=size"),
        ("/files/sub%20dir%2F", "/files/sub%20dir/"),
        ("/withindex%2F", "/withindex/"),
    ] {
        let r = s.get(asked, &[]).await;
        assert_eq!(r.status(), 301, "{asked}");
        assert_eq!(r.headers()["location"], location, "{asked}");
    }
    // The forms with a real slash are served as they are.
    assert_eq!(s.get("/files/", &[]).await.status(), 200);
    assert_eq!(s.get("/files/a.bin", &[]).await.status(), 200);
}

#[tokio::test]
async fn index_html_is_served_for_the_directory() {
    let s = hostile_site().await;
    let r = s.get("/withindex/", &[]).await;
    assert_eq!(r.status(), 200);
    assert!(header(&r, "content-type").starts_with("text/html"));
    assert_eq!(r.text().await.unwrap(), "<p>the index</p>");
}

/// Extract every `href="..."` value from an HTML page.
fn hrefs(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(|s| s.replace("&amp;", "&"))
        .collect()
}

#[tokio::test]
async fn every_html_listing_link_fetches_the_file_it_names() {
    let s = hostile_site().await;
    let c = client();
    let r = s.get("/files/", &[("accept", "text/html")]).await;
    assert_eq!(r.status(), 200);
    assert!(header(&r, "vary").eq_ignore_ascii_case("accept"));
    assert!(header(&r, "content-type").starts_with("text/html"));
    let html = r.text().await.unwrap();
    assert!(!html.contains("<img src=x"), "names are escaped");
    let base = reqwest::Url::parse(&s.url("/files/")).unwrap();
    for (i, name) in HOSTILE_NAMES.iter().enumerate() {
        let link = hrefs(&html)
            .into_iter()
            .find(|h| {
                let url = base.join(h).unwrap();
                let decoded = percent_encoding::percent_decode_str(url.path())
                    .decode_utf8_lossy()
                    .into_owned();
                decoded == format!("/files/{name}")
            })
            .unwrap_or_else(|| panic!("no link fetches {name:?} in\n{html}"));
        let url = base.join(&link).unwrap();
        let got = c.get(url).send().await.unwrap();
        assert_eq!(got.status(), 200, "{name}");
        assert_eq!(got.text().await.unwrap(), format!("content {i}"), "{name}");
    }
}

#[tokio::test]
async fn json_listing_links_round_trip_and_describe_entries() {
    let s = hostile_site().await;
    let c = client();
    let r = s.get("/files/", &[("accept", "application/json")]).await;
    assert_eq!(r.status(), 200);
    assert!(header(&r, "content-type").starts_with("application/json"));
    let v: serde_json::Value = r.json().await.unwrap();
    let entries = v
        .as_array()
        .or_else(|| v["entries"].as_array())
        .expect("an array of entries");
    assert_eq!(entries.len(), HOSTILE_NAMES.len() + 2);
    assert_eq!(
        entries[0]["name"], "sub dir",
        "directories first: {entries:?}"
    );
    let base = reqwest::Url::parse(&s.url("/files/")).unwrap();
    for entry in entries {
        let name = entry["name"].as_str().unwrap();
        let url = base.join(entry["url"].as_str().expect("url")).unwrap();
        let got = c.get(url).send().await.unwrap();
        assert_eq!(got.status(), 200, "{name}");
        if name == "a.bin" {
            assert_eq!(entry["size"], 5000);
        }
    }
}

#[tokio::test]
async fn plain_text_listing_is_one_name_per_line() {
    let s = hostile_site().await;
    let r = s.get("/files/", &[("accept", "text/plain")]).await;
    assert!(header(&r, "content-type").starts_with("text/plain"));
    let text = r.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "sub dir/");
    for name in HOSTILE_NAMES {
        assert!(lines.contains(&name), "{name} in {text}");
    }
}

#[tokio::test]
async fn accept_q_values_choose_the_listing_format() {
    let s = hostile_site().await;
    let c = client();
    for (accept, expected) in [
        ("application/json;q=0.9, text/plain", "text/plain"),
        (
            "text/html;q=0.1, application/json;q=0.5",
            "application/json",
        ),
        (
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            "text/html",
        ),
        ("*/*", "text/html"),
    ] {
        let r = c
            .get(s.url("/files/"))
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        let ct = header(&r, "content-type");
        assert!(ct.starts_with(expected), "{accept} -> {ct}");
    }
    let r = s.get("/files/", &[("accept", "image/png")]).await;
    assert_eq!(r.status(), 406);
}

#[tokio::test]
async fn listing_sorts_by_size_and_time_on_request() {
    let s = TestServer::start(|root| {
        write(root, "d/small.txt", "1");
        write(root, "d/large.txt", "1".repeat(1000));
        write(root, "d/medium.txt", "1".repeat(100));
    })
    .await;
    for query in ["?sort=size&order=desc", "?sort=name"] {
        let text = s
            .get(&format!("/d/{query}"), &[("accept", "text/plain")])
            .await
            .text()
            .await
            .unwrap();
        assert_eq!(
            text.lines().collect::<Vec<_>>(),
            ["large.txt", "medium.txt", "small.txt"],
            "{query}"
        );
    }
    let html = s.get("/d/", &[]).await.text().await.unwrap();
    assert!(
        html.contains("sort=size") && html.contains("sort=time"),
        "sortable columns"
    );
}

#[tokio::test]
async fn listing_can_be_turned_off() {
    let s = TestServer::start_with(
        |root| write(root, "d/x.txt", "x"),
        |c| c.files.listing = false,
    )
    .await;
    let r = s.get("/d/", &[]).await;
    assert!(r.status() == 404 || r.status() == 403, "{}", r.status());
}
