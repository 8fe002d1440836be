//! Directory listings: formats, round-tripping links, sorting, sandbox, caps, validators.

use std::fs;

use http::StatusCode;
use serde_json::Value;

use super::{HOSTILE, Site, body, get, header, problem, request, resolve_href};
use crate::handlers::static_files::ServeDir;

async fn html(serve: &ServeDir, path: &str, query: Option<&str>) -> String {
    let res = request(serve, "GET", path, query, &[("accept", "text/html")])
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header(&res, "content-type"), "text/html; charset=utf-8");
    String::from_utf8(body(res).await.to_vec()).unwrap()
}

async fn json(serve: &ServeDir, path: &str, query: Option<&str>) -> Vec<Value> {
    let res = request(serve, "GET", path, query, &[("accept", "application/json")])
        .await
        .unwrap();
    assert!(header(&res, "content-type").starts_with("application/json"));
    let v: Value = serde_json::from_slice(&body(res).await).unwrap();
    v.as_array().expect("an array").clone()
}

fn names(entries: &[Value]) -> Vec<&str> {
    entries
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect()
}

/// Every `href="..."` in `page`.
fn hrefs(page: &str) -> Vec<String> {
    page.split("href=\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].replace("&amp;", "&"))
        .collect()
}

#[tokio::test]
async fn html_listing_links_round_trip() {
    let site = Site::new();
    let serve = site.serve_dir();
    let page = html(&serve, "/", None).await;
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(!page.contains("<tag>"), "names are escaped");
    assert!(page.contains("&lt;tag&gt;.txt"));
    assert!(page.contains("quote&quot;d.txt"));
    assert!(!page.contains("href=\"../\""), "no parent link at the root");

    let links: Vec<String> = hrefs(&page)
        .into_iter()
        .filter(|h| !h.starts_with('?') && h != "./")
        .collect();
    for name in HOSTILE {
        let href = links
            .iter()
            .find(|h| resolve_href("/", h) == format!("/{name}"))
            .unwrap_or_else(|| panic!("no link for {name:?} in {links:?}"));
        assert!(
            href.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~%/".contains(&b)),
            "{href}"
        );
    }
    // Fetching every link returns what it names.
    for href in &links {
        let target = resolve_href("/", href);
        let res = get(&serve, &target, &[]).await;
        assert!(
            res.status() == StatusCode::OK || res.status() == StatusCode::NOT_MODIFIED,
            "{href} -> {target}: {}",
            res.status()
        );
        if let Some(name) = HOSTILE.iter().find(|n| format!("/{n}") == target) {
            assert_eq!(body(res).await.as_ref(), name.as_bytes());
        }
    }
}

#[tokio::test]
async fn html_listing_has_parent_sizes_times_and_sort_links() {
    let site = Site::new();
    fs::write(site.path("docs/big.bin"), vec![0u8; 1536]).unwrap();
    fs::write(site.path("docs/one.bin"), [0u8]).unwrap();
    fs::remove_file(site.path("docs/index.html")).unwrap();
    let serve = site.serve_dir();
    let page = html(&serve, "/docs/", None).await;
    assert!(page.contains("<title>Index of /docs/</title>"));
    assert!(page.contains("href=\"../\""), "parent link");
    assert!(page.contains("title=\"1536 bytes\">1.5 KiB<"), "{page}");
    assert!(page.contains("title=\"1 byte\">"), "{page}");
    assert!(page.contains("<time datetime=\""));
    assert!(page.contains("href=\"?sort=size&amp;order=desc\""));
    assert!(
        page.contains("href=\"?sort=name&amp;order=desc\""),
        "name is current: flip"
    );
    assert!(page.contains("<style>"), "self-contained CSS");

    let page = html(&serve, "/docs/", Some("sort=size&order=desc")).await;
    assert!(page.contains("href=\"?sort=size&amp;order=asc\""));
    let big = page.find("big.bin").unwrap();
    let guide = page.find("guide.txt").unwrap();
    assert!(big < guide, "largest first");
}

#[tokio::test]
async fn listing_headers() {
    let site = Site::new();
    let serve = site.serve_dir();
    let res = get(&serve, "/plain/", &[]).await;
    assert_eq!(header(&res, "vary"), "Accept");
    assert!(header(&res, "content-security-policy").contains("default-src 'none'"));
    let etag = header(&res, "etag").to_owned();
    assert!(etag.starts_with('"'));
    assert!(!header(&res, "last-modified").is_empty());

    let res = get(&serve, "/plain/", &[("if-none-match", &etag)]).await;
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(&res, "vary"), "Accept");

    // Listing changes with the directory.
    fs::write(site.path("plain/new.txt"), b"new").unwrap();
    super::expire(&serve);
    let res = get(&serve, "/plain/", &[("if-none-match", &etag)]).await;
    assert_eq!(res.status(), StatusCode::OK);

    let h = request(&serve, "HEAD", "/plain/", None, &[]).await.unwrap();
    assert_eq!(h.status(), StatusCode::OK);
    assert!(body(h).await.is_empty());
}

#[tokio::test]
async fn json_listing() {
    let site = Site::new();
    let serve = site.serve_dir();
    let entries = json(&serve, "/", None).await;
    let all = names(&entries);
    for hidden in [
        ".hidden",
        ".git",
        "to-hidden",
        "out-file",
        "out-dir",
        "etc-link",
        "fifo",
    ] {
        assert!(!all.contains(&hidden), "{hidden} must not be listed");
    }
    assert!(all.contains(&".well-known"));
    // Directories first.
    let first_file = entries.iter().position(|e| e["type"] == "file").unwrap();
    assert!(entries[first_file..].iter().all(|e| e["type"] != "dir"));

    let link = entries.iter().find(|e| e["name"] == "inside-link").unwrap();
    assert_eq!(link["type"], "symlink");
    assert_eq!(link["target"], "file");
    assert_eq!(link["size"], 12);
    let dir_link = entries.iter().find(|e| e["name"] == "dir-link").unwrap();
    assert_eq!(dir_link["url"], "/dir-link/");

    let hello = entries.iter().find(|e| e["name"] == "hello.txt").unwrap();
    assert_eq!(hello["size"], 12);
    let modified = hello["modified"].as_str().unwrap();
    assert!(
        modified.len() == 20 && modified.ends_with('Z'),
        "{modified}"
    );

    // Every url fetches what it names.
    for e in &entries {
        let url = e["url"].as_str().unwrap();
        let target = resolve_href("/", url);
        let res = get(&serve, &target, &[]).await;
        assert_eq!(res.status(), StatusCode::OK, "{url}");
    }
}

#[tokio::test]
async fn json_sorting() {
    let site = Site::new();
    let dir = site.path("sorted");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("b.txt"), vec![0u8; 30]).unwrap();
    fs::write(dir.join("A.txt"), vec![0u8; 10]).unwrap();
    fs::write(dir.join("c.txt"), vec![0u8; 20]).unwrap();
    fs::create_dir(dir.join("zdir")).unwrap();
    let serve = site.serve_dir();
    let n = |q| {
        let serve = serve.clone();
        async move {
            let e = json(&serve, "/sorted/", q).await;
            names(&e)
                .iter()
                .map(|s| (*s).to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(n(None).await, ["zdir", "A.txt", "b.txt", "c.txt"]);
    assert_eq!(
        n(Some("order=desc")).await,
        ["zdir", "c.txt", "b.txt", "A.txt"]
    );
    assert_eq!(
        n(Some("sort=size")).await,
        ["zdir", "A.txt", "c.txt", "b.txt"]
    );
    assert_eq!(
        n(Some("sort=size&order=desc")).await,
        ["zdir", "b.txt", "c.txt", "A.txt"]
    );
}

#[tokio::test]
async fn text_listing() {
    let site = Site::new();
    fs::write(site.path("plain/line\nbreak.txt"), b"x").unwrap();
    let res = get(&site.serve_dir(), "/plain/", &[("accept", "text/plain")]).await;
    assert_eq!(header(&res, "content-type"), "text/plain; charset=utf-8");
    let text = String::from_utf8(body(res).await.to_vec()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines, ["line%0Abreak.txt", "readme.txt"]);

    let res = get(&site.serve_dir(), "/", &[("accept", "text/plain")]).await;
    let text = String::from_utf8(body(res).await.to_vec()).unwrap();
    assert!(text.lines().any(|l| l == "docs/"));
    assert!(text.lines().any(|l| l == "hello.txt"));
}

#[tokio::test]
async fn listing_refused_by_accept() {
    let mut site = Site::new();
    let p = problem(&site.serve_dir(), "/plain/", &[("accept", "image/png")]).await;
    assert_eq!(p.status, StatusCode::NOT_ACCEPTABLE);
    site.opts.lenient_accept = true;
    let res = get(&site.serve_dir(), "/plain/", &[("accept", "image/png")]).await;
    assert_eq!(header(&res, "content-type"), "text/html; charset=utf-8");
}

#[tokio::test]
async fn show_hidden_lists_dot_files() {
    let mut site = Site::new();
    site.opts.show_hidden = true;
    let entries = json(&site.serve_dir(), "/", None).await;
    let all = names(&entries);
    assert!(all.contains(&".hidden") && all.contains(&".git"));
    assert!(!all.contains(&"out-file"));
}

#[tokio::test]
async fn huge_directory_is_capped() {
    let site = Site::new();
    let dir = site.path("many");
    fs::create_dir(&dir).unwrap();
    for i in 0..10_050 {
        fs::write(dir.join(format!("f{i:05}")), b"").unwrap();
    }
    let serve = site.serve_dir();
    let entries = json(&serve, "/many/", None).await;
    assert_eq!(entries.len(), super::super::listing::MAX_ENTRIES);
    let page = html(&serve, "/many/", None).await;
    assert!(page.contains("only the first entries read (at most 10000)"));
}
