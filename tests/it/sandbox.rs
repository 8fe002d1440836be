//! The root is a sandbox: no encoding of `..`, no absolute-form target, no symlink and no
//! hidden file lets a request read or even detect what lies outside.

use std::os::unix::fs::symlink;
use std::path::Path;

use crate::support::{TestServer, split_head, write};

const SECRET: &str = "TOP-SECRET-CONTENT";

/// `outer/` holds the secret; `outer/root/` is served.
async fn sandbox(tune: impl FnOnce(&mut usher::config::Config)) -> (TestServer, tempfile::TempDir) {
    let outer = tempfile::tempdir().unwrap();
    let o = outer.path();
    write(o, "secret.txt", SECRET);
    write(o, "outside-dir/inner.txt", SECRET);
    let root = o.join("root");
    write(&root, "a.txt", "inside");
    write(&root, "sub/b.txt", "inside b");
    write(&root, ".env", SECRET);
    write(&root, ".git/config", SECRET);
    write(&root, "sub/.hidden.txt", SECRET);
    write(
        &root,
        ".well-known/security.txt",
        "Contact: mailto:x@example.test",
    );
    symlink(o.join("secret.txt"), root.join("out-exists")).unwrap();
    symlink(o.join("no-such-file.txt"), root.join("out-missing")).unwrap();
    symlink(o.join("outside-dir"), root.join("out-dir")).unwrap();
    symlink(root.join("a.txt"), root.join("in-link")).unwrap();
    symlink(Path::new("sub"), root.join("in-dir-link")).unwrap();
    let s = TestServer::serve(&root, tune).await;
    (s, outer)
}

fn get_raw(s: &TestServer, target: &str) -> (u16, String) {
    let req = format!(
        "GET {target} HTTP/1.1\r\nHost: t\r\nAccept: application/problem+json\r\nConnection: close\r\n\r\n"
    );
    let raw = s.raw(req.as_bytes());
    let (head, body) = split_head(&raw);
    let status = head[9..12].parse().unwrap();
    (status, String::from_utf8_lossy(body).into_owned())
}

#[tokio::test]
async fn dot_dot_in_every_encoding_stays_inside() {
    let (s, _outer) = sandbox(|_| {}).await;
    let targets = [
        "/../secret.txt",
        "/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/.%2e/secret.txt",
        "/%2e%2e%2fsecret.txt",
        "/sub/..%2f..%2fsecret.txt",
        "/%252e%252e/secret.txt",
        "/%252e%252e%252fsecret.txt",
        "/..\\secret.txt",
        "/sub\\..\\..\\secret.txt",
        "/..%5csecret.txt",
        "/%c0%ae%c0%ae/secret.txt",
        "/./sub/../../secret.txt",
        "//../secret.txt",
        "http://t/../secret.txt",
        "http://t/%2e%2e/secret.txt",
        "/out-dir/inner.txt",
        "/out-dir/../secret.txt",
    ];
    let s = std::sync::Arc::new(s);
    for target in targets {
        let s2 = s.clone();
        let (status, body) = tokio::task::spawn_blocking(move || get_raw(&s2, target))
            .await
            .unwrap();
        assert!(status == 404 || status == 400, "{target} -> {status}");
        assert!(!body.contains(SECRET), "{target} leaked");
    }
}

/// The problem body for an outside symlink is the same whether its target exists or not.
#[tokio::test]
async fn outside_symlinks_are_indistinguishable_from_missing_files() {
    let (s, _outer) = sandbox(|_| {}).await;
    let mut seen = Vec::new();
    for path in [
        "/out-exists",
        "/out-missing",
        "/never-existed",
        "/out-dir/",
        "/out-dir/inner.txt",
    ] {
        let r = s.get(path, &[("accept", "application/problem+json")]).await;
        let status = r.status();
        let mut v: serde_json::Value = r.json().await.unwrap();
        assert!(!v.to_string().contains(SECRET));
        let detail = v["detail"].as_str().unwrap_or("").replace(path, "PATH");
        v["detail"] = detail.into();
        v.as_object_mut().unwrap().remove("instance");
        v.as_object_mut().unwrap().remove("request_id");
        seen.push((path, status, v));
    }
    for (path, status, v) in &seen[1..] {
        assert_eq!(*status, seen[0].1, "{path}");
        assert_eq!(
            v, &seen[0].2,
            "{path} answers differently from {}",
            seen[0].0
        );
    }
}

#[tokio::test]
async fn symlinks_inside_the_root_are_followed() {
    let (s, _outer) = sandbox(|_| {}).await;
    assert_eq!(s.get("/in-link", &[]).await.text().await.unwrap(), "inside");
    assert_eq!(
        s.get("/in-dir-link/b.txt", &[]).await.text().await.unwrap(),
        "inside b"
    );
}

#[tokio::test]
async fn a_flag_allows_following_symlinks_out_of_the_root() {
    let (s, _outer) = sandbox(|c| c.files.follow_symlinks = true).await;
    let r = s.get("/out-exists", &[]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), SECRET);
}

#[tokio::test]
async fn hidden_files_are_404_like_missing_ones_but_well_known_is_served() {
    let (s, _outer) = sandbox(|_| {}).await;
    for path in [
        "/.env",
        "/.git/config",
        "/.git/",
        "/sub/.hidden.txt",
        "/%2eenv",
        "/.nothing-here",
    ] {
        let r = s.get(path, &[]).await;
        assert_eq!(r.status(), 404, "{path}");
        assert!(!r.text().await.unwrap().contains(SECRET), "{path}");
    }
    let r = s.get("/.well-known/security.txt", &[]).await;
    assert_eq!(r.status(), 200);
    // A listing of the root does not show hidden names either; "did you mean" never suggests them.
    let listing = s
        .get("/", &[("accept", "text/plain")])
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !listing.contains(".env") && !listing.contains(".git"),
        "{listing}"
    );
    let r = s
        .get("/.en", &[("accept", "application/problem+json")])
        .await;
    assert!(!r.text().await.unwrap().contains(".env"));
}

#[tokio::test]
async fn a_flag_shows_hidden_files() {
    let (s, _outer) = sandbox(|c| c.files.show_hidden = true).await;
    let r = s.get("/.env", &[]).await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_path_through_a_file_is_404() {
    let (s, _outer) = sandbox(|_| {}).await;
    let r = s.get("/a.txt/x", &[]).await;
    assert_eq!(r.status(), 404);
}
