//! The sandbox: hidden names, symlinks out of the root, special files, ENOTDIR, permissions,
//! and "did you mean" suggestions that reveal nothing.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use http::StatusCode;

use super::{Site, body, get, problem, request};
use crate::problem::Problem;

/// What a probe can see of a problem: everything but the echoed path.
fn shape(p: &Problem) -> (StatusCode, &'static str, &'static str, usize, Vec<String>) {
    (
        p.status,
        p.slug,
        p.title,
        p.headers.len(),
        p.suggestions.clone(),
    )
}

#[tokio::test]
async fn hidden_names_are_missing() {
    let site = Site::new();
    let serve = site.serve_dir();
    for path in ["/.hidden", "/.git/config", "/.git/", "/.git", "/to-hidden"] {
        let p = problem(&serve, path, &[]).await;
        assert_eq!(p.status, StatusCode::NOT_FOUND, "{path}");
        assert!(
            p.suggestions.iter().all(|s| !s.contains("/.")),
            "{path}: {:?}",
            p.suggestions
        );
    }
    // Hidden answers look exactly like an absent name's.
    let hidden = problem(&serve, "/.git/config", &[]).await;
    let absent = problem(&serve, "/.gjt/config", &[]).await;
    assert_eq!(shape(&hidden).0, shape(&absent).0);
    assert_eq!(hidden.slug, absent.slug);
}

#[tokio::test]
async fn well_known_is_always_served() {
    let site = Site::new();
    let res = get(&site.serve_dir(), "/.well-known/x", &[]).await;
    assert_eq!(body(res).await.as_ref(), b"well known");
}

#[tokio::test]
async fn show_hidden_serves_dot_files() {
    let mut site = Site::new();
    site.opts.show_hidden = true;
    let serve = site.serve_dir();
    assert_eq!(
        body(get(&serve, "/.hidden", &[]).await).await.as_ref(),
        b"secret"
    );
    assert_eq!(
        body(get(&serve, "/.git/config", &[]).await).await.as_ref(),
        b"[core]"
    );
    assert_eq!(
        body(get(&serve, "/to-hidden", &[]).await).await.as_ref(),
        b"secret"
    );
}

#[tokio::test]
async fn symlinks_inside_the_root_are_followed() {
    let site = Site::new();
    let serve = site.serve_dir();
    let res = get(&serve, "/inside-link", &[]).await;
    assert_eq!(body(res).await.as_ref(), b"hello world\n");
    let res = get(&serve, "/dir-link/intro.html", &[]).await;
    assert_eq!(body(res).await.as_ref(), b"<h1>intro</h1>");
}

#[tokio::test]
async fn symlinks_leaving_the_root_look_missing_whether_or_not_the_target_exists() {
    let site = Site::new();
    let serve = site.serve_dir();
    let probes = [
        "/out-file",
        "/out-dir",
        "/out-dir/",
        "/out-dir/secret.txt",
        "/out-dir/sub/file.txt",
        "/out-dir/sub/",
        "/etc-link/passwd",
    ];
    let mut before = Vec::new();
    for path in probes {
        let p = problem(&serve, path, &[]).await;
        assert_eq!(p.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!p.detail.contains(site.outside.to_str().unwrap()));
        let h = request(&serve, "HEAD", path, None, &[]).await;
        assert_eq!(h.unwrap_err().status, StatusCode::NOT_FOUND, "HEAD {path}");
        before.push(p);
    }
    // Now the outside targets do not exist: every answer must be identical.
    fs::remove_dir_all(&site.outside).unwrap();
    for (path, a) in probes.iter().zip(&before) {
        let b = problem(&serve, path, &[]).await;
        assert_eq!(shape(a), shape(&b), "{path}");
        assert_eq!(a.detail, b.detail, "{path}");
    }
    // Dangling links and loops are missing too.
    assert_eq!(
        problem(&serve, "/out-missing", &[]).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        problem(&serve, "/loop-a", &[]).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn follow_symlinks_serves_outside_targets() {
    let mut site = Site::new();
    site.opts.follow_symlinks = true;
    let serve = site.serve_dir();
    let res = get(&serve, "/out-file", &[]).await;
    assert_eq!(body(res).await.as_ref(), b"outside secret");
    let res = get(&serve, "/out-dir/sub/file.txt", &[]).await;
    assert_eq!(body(res).await.as_ref(), b"outside sub");
    assert_eq!(
        problem(&serve, "/out-missing", &[]).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn fifo_is_never_opened() {
    let site = Site::new();
    let serve = site.serve_dir();
    let p = tokio::time::timeout(Duration::from_secs(5), problem(&serve, "/fifo", &[]))
        .await
        .expect("a fifo must not block");
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    let absent = problem(&serve, "/fifx", &[]).await;
    assert_eq!(p.slug, absent.slug);
}

#[tokio::test]
async fn opening_a_fifo_does_not_block() {
    let site = Site::new();
    let fifo = site.path("fifo");
    let opened = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::task::spawn_blocking(move || super::super::resolve::open_nonblocking(&fifo)),
    )
    .await
    .expect("open returns at once");
    let file = opened.unwrap().expect("a fifo opens without a writer");
    assert!(
        !file.metadata().unwrap().is_file(),
        "and fstat shows it is no file"
    );
}

#[tokio::test]
async fn file_as_directory_is_not_found() {
    let site = Site::new();
    let serve = site.serve_dir();
    let p = problem(&serve, "/hello.txt/x", &[]).await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    assert_eq!(p.suggestions, vec!["/hello.txt".to_owned()]);
    let p = problem(&serve, "/hello.txt/x/y/", &[]).await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unreadable_file_is_forbidden() {
    let site = Site::new();
    let path = site.path("locked.txt");
    fs::write(&path, b"locked").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o000)).unwrap();
    if fs::read(&path).is_ok() {
        // Running as root (CAP_DAC_OVERRIDE): permissions cannot be tested here.
        eprintln!("skipped: permissions do not apply to this user");
        return;
    }
    let p = problem(&site.serve_dir(), "/locked.txt", &[]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let h = request(&site.serve_dir(), "HEAD", "/locked.txt", None, &[]).await;
    assert_eq!(
        h.unwrap_err().status,
        StatusCode::FORBIDDEN,
        "HEAD agrees with GET"
    );
}

#[test]
fn permission_denied_maps_to_denied() {
    use super::super::resolve::{Miss, classify};
    use std::io::{Error, ErrorKind};
    assert!(matches!(
        classify(Error::from(ErrorKind::PermissionDenied)),
        Miss::Denied
    ));
    assert!(matches!(
        classify(Error::from(ErrorKind::NotFound)),
        Miss::Absent
    ));
    assert!(matches!(
        classify(Error::from(ErrorKind::NotADirectory)),
        Miss::Absent
    ));
    assert!(matches!(classify(Error::other("EIO")), Miss::Failed(_)));
}

#[tokio::test]
async fn suggestions_name_nearby_files() {
    let site = Site::new();
    let serve = site.serve_dir();
    let p = problem(&serve, "/docs/intor.html", &[]).await;
    assert_eq!(
        p.suggestions.first().map(String::as_str),
        Some("/docs/intro.html")
    );
    assert!(p.suggestions.len() <= 3);

    let p = problem(&serve, "/HELO.txt", &[]).await;
    assert!(
        p.suggestions.contains(&"/hello.txt".to_owned()),
        "{:?}",
        p.suggestions
    );

    // A wrong directory in the middle is corrected, keeping the rest.
    let p = problem(&serve, "/dcos/intro.html", &[]).await;
    assert_eq!(
        p.suggestions.first().map(String::as_str),
        Some("/docs/intro.html")
    );

    // Directories are suggested with their slash; nothing far away is suggested.
    let p = problem(&serve, "/doc", &[]).await;
    assert!(
        p.suggestions.contains(&"/docs/".to_owned()),
        "{:?}",
        p.suggestions
    );
    let p = problem(&serve, "/zzzzzzzzzzzz", &[]).await;
    assert!(p.suggestions.is_empty(), "{:?}", p.suggestions);
}

#[tokio::test]
async fn suggestions_never_reveal_hidden_or_escaping_names() {
    let site = Site::new();
    let serve = site.serve_dir();
    for path in [
        "/.hiddn",
        "/.gti",
        "/out-fil",
        "/etc-lnk",
        "/fif",
        "/.well-know",
    ] {
        let p = problem(&serve, path, &[]).await;
        for s in &p.suggestions {
            assert!(
                !s.starts_with("/.h") && !s.starts_with("/.g") && !s.starts_with("/out-"),
                "{path}: {s}"
            );
            assert!(!s.starts_with("/etc-link") && s != "/fifo", "{path}: {s}");
        }
    }
}

#[tokio::test]
async fn huge_directory_gets_no_suggestions_but_answers() {
    let site = Site::new();
    let dir = site.path("many");
    fs::create_dir(&dir).unwrap();
    for i in 0..10_050 {
        fs::write(dir.join(format!("f{i:05}")), b"").unwrap();
    }
    let p = problem(&site.serve_dir(), "/many/f0000", &[]).await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    assert!(p.suggestions.is_empty());
}

#[tokio::test]
async fn long_and_odd_segments_are_missing_not_errors() {
    let site = Site::new();
    let serve = site.serve_dir();
    let long = format!("/{}", "a".repeat(300));
    assert_eq!(
        problem(&serve, &long, &[]).await.status,
        StatusCode::NOT_FOUND
    );
    let deep = "/x".repeat(3000);
    assert_eq!(
        problem(&serve, &deep, &[]).await.status,
        StatusCode::NOT_FOUND
    );
    let backslash = "/..\\hello.txt";
    assert_eq!(
        problem(&serve, backslash, &[]).await.status,
        StatusCode::NOT_FOUND
    );
}
