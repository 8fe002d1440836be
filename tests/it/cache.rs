//! The static cache's staleness bound, end to end: a file changed on disk is served fresh
//! once `revalidate_after` has passed, and at once with an interval of zero.

use std::time::{Duration, Instant};

use crate::support::{TestServer, client, write};

/// Issue #3: "a changed file is never served stale for longer than a documented bound".
#[tokio::test]
async fn a_modified_file_is_served_fresh_after_the_bound() {
    let bound = Duration::from_millis(300);
    let s = TestServer::start_with(
        |root| write(root, "page.html", "version one"),
        |c| c.files.revalidate_after = bound,
    )
    .await;
    let c = client();
    let get = |path: &'static str| {
        let c = c.clone();
        let url = s.url(path);
        async move { c.get(url).send().await.unwrap().text().await.unwrap() }
    };
    assert_eq!(get("/page.html").await, "version one");
    let changed = Instant::now();
    write(&s.root, "page.html", "version two, longer");
    let seen = get("/page.html").await;
    if changed.elapsed() < bound {
        // Within the bound the cache may answer from memory without looking at the disk.
        assert!(
            seen == "version one" || seen == "version two, longer",
            "{seen}"
        );
    }
    tokio::time::sleep(bound.saturating_sub(changed.elapsed())).await;
    assert_eq!(get("/page.html").await, "version two, longer");

    // A file created where a 404 was cached, and a directory's new index.
    write(&s.root, "docs/index.html", "docs");
    let r = c.get(s.url("/late.txt")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let created = Instant::now();
    write(&s.root, "late.txt", "here now");
    tokio::time::sleep(bound.saturating_sub(created.elapsed())).await;
    assert_eq!(get("/late.txt").await, "here now");
    assert_eq!(get("/docs/").await, "docs");
}

#[tokio::test]
async fn with_no_interval_every_request_sees_the_disk() {
    let s = TestServer::start_with(
        |root| write(root, "a.txt", "1"),
        |c| c.files.revalidate_after = Duration::ZERO,
    )
    .await;
    let c = client();
    for i in 0..5 {
        let body = format!("content {i}");
        write(&s.root, "a.txt", &body);
        let r = c.get(s.url("/a.txt")).send().await.unwrap();
        assert_eq!(r.text().await.unwrap(), body);
    }
}

/// A hot file is answered many times, over both protocols, byte-exact.
#[tokio::test]
async fn hits_over_http1_and_h2() {
    let s = TestServer::start(|root| write(root, "hot.css", "p{color:red}")).await;
    for c in [client(), crate::support::h2_client()] {
        for _ in 0..50 {
            let r = c.get(s.url("/hot.css")).send().await.unwrap();
            assert_eq!(r.status(), 200);
            assert_eq!(r.headers()["content-length"], "12");
            assert_eq!(r.text().await.unwrap(), "p{color:red}");
        }
    }
}
