//! The cache: hits answer from memory (so a change on disk is not seen until the interval has
//! passed), revalidation sees changes and keeps unchanged bytes, every behaviour is the same
//! on a hit as on a walk, and memory stays bounded. Time is moved with `expire`, not slept.

use std::fs;
use std::time::Duration;

use futures_util::future::join_all;
use http::StatusCode;

use super::{Site, body, expire, get, header, normal, parts, problem, request};
use crate::body::ResponseBody;
use crate::body::prepared::FieldForm;

/// A site whose cache never expires by itself: only `expire` ages it.
fn frozen() -> Site {
    let mut site = Site::new();
    site.opts.revalidate_after = Duration::from_secs(3600);
    site
}

fn full_ptr(res: &http::Response<ResponseBody>) -> *const u8 {
    match res.body() {
        ResponseBody::Full(Some(b)) => b.as_ptr(),
        other => panic!("expected bytes in memory, got {other:?}"),
    }
}

#[tokio::test]
async fn a_hit_is_answered_from_memory_until_the_interval_passes() {
    let site = frozen();
    let serve = site.serve_dir();
    assert_eq!(
        body(get(&serve, "/hello.txt", &[]).await).await.as_ref(),
        b"hello world\n"
    );
    // Changed, then deleted: within the interval the cache answers without looking.
    fs::write(site.path("hello.txt"), b"changed\n").unwrap();
    assert_eq!(
        body(get(&serve, "/hello.txt", &[]).await).await.as_ref(),
        b"hello world\n"
    );
    expire(&serve);
    assert_eq!(
        body(get(&serve, "/hello.txt", &[]).await).await.as_ref(),
        b"changed\n"
    );
    fs::remove_file(site.path("hello.txt")).unwrap();
    assert_eq!(
        get(&serve, "/hello.txt", &[]).await.status(),
        StatusCode::OK
    );
    expire(&serve);
    let p = problem(&serve, "/hello.txt", &[]).await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
}

/// Requests that find the same entry stale at once share one check: the others wait for its
/// outcome rather than each walking the filesystem on a blocking thread. The same for a
/// cached 404.
#[tokio::test]
async fn requests_for_a_stale_entry_at_once_share_one_check() {
    let site = frozen();
    let serve = site.serve_dir();
    get(&serve, "/hello.txt", &[]).await;
    problem(&serve, "/nowhere.txt", &[]).await;
    fs::write(site.path("hello.txt"), b"changed\n").unwrap();
    expire(&serve);

    let walks = serve.cache.walks();
    let answers = join_all((0..8).map(|_| get(&serve, "/hello.txt", &[]))).await;
    assert_eq!(
        serve.cache.walks() - walks,
        1,
        "one check for eight requests"
    );
    for res in answers {
        assert_eq!(
            body(res).await.as_ref(),
            b"changed\n",
            "all see what it found"
        );
    }

    let walks = serve.cache.walks();
    let missing = join_all((0..8).map(|_| problem(&serve, "/nowhere.txt", &[]))).await;
    assert_eq!(
        serve.cache.walks() - walks,
        1,
        "one check for eight requests"
    );
    assert!(missing.iter().all(|p| p.status == StatusCode::NOT_FOUND));
}

/// A cached file's body of more than 32 KiB goes out over HTTP/1.x from the file (which the
/// connection sends with `sendfile`), a smaller one (or a small range of it) from memory,
/// and over HTTP/2 (no zero-copy path) always from memory. The bytes are the same.
#[tokio::test]
async fn a_large_cached_body_goes_out_from_the_file_over_http1() {
    let site = frozen();
    let big: Vec<u8> = (0..100 * 1024).map(|i| (i % 251) as u8).collect();
    fs::write(site.path("big.bin"), &big).unwrap();
    let serve = site.serve_dir();
    // The first request resolves, the second is a cache hit.
    for round in ["resolved", "cached"] {
        let res = get(&serve, "/big.bin", &[]).await;
        assert!(
            matches!(res.body(), ResponseBody::File(_)),
            "{round}: {:?}",
            res.body()
        );
        assert_eq!(body(res).await.as_ref(), &big[..], "{round}");
        let range = get(&serve, "/big.bin", &[("range", "bytes=10-1033")]).await;
        assert!(
            matches!(range.body(), ResponseBody::Full(Some(_))),
            "{round}"
        );
        assert_eq!(body(range).await.as_ref(), &big[10..1034], "{round}");
        let small = get(&serve, "/hello.txt", &[]).await;
        assert!(
            matches!(small.body(), ResponseBody::Full(Some(_))),
            "{round}"
        );
    }
    let path = normal("/big.bin");
    let mut req = parts("GET", &path, None, &[]);
    req.version = http::Version::HTTP_2;
    let res = serve
        .serve(&req, &path, FieldForm::Map)
        .await
        .expect("a response");
    assert!(
        matches!(res.body(), ResponseBody::Full(Some(_))),
        "{:?}",
        res.body()
    );
    assert_eq!(body(res).await.as_ref(), &big[..]);
}

/// A file whose cached bytes go out with `sendfile` is opened again for its first hit, then
/// kept open: later hits send from that open file. A file renamed over its name is seen at
/// once all the same (unlinking the old file moves its ctime), and the old one is closed.
#[tokio::test]
async fn a_cached_file_sent_from_the_file_is_kept_open() {
    kept_open_then_replaced().await;
}

/// The same where the kernel cannot open the file without possibly waiting (no
/// `RESOLVE_CACHED`): the first hit opens it on the blocking pool, and keeps it all the same,
/// rather than send every later answer through the pool.
#[tokio::test]
async fn a_cached_file_opened_on_the_blocking_pool_is_kept_open_too() {
    crate::handlers::static_files::resolve::WITHOUT_RESOLVE_CACHED.set(true);
    kept_open_then_replaced().await;
}

async fn kept_open_then_replaced() {
    let site = frozen();
    fs::write(site.path("big.bin"), vec![1u8; 100 * 1024]).unwrap();
    let serve = site.serve_dir();
    let all = |got: &[u8], byte: u8| got.len() == 100 * 1024 && got.iter().all(|&b| b == byte);
    assert!(all(&body(get(&serve, "/big.bin", &[]).await).await, 1));
    assert_eq!(
        serve.cache.kept_files(),
        0,
        "the walk's own open is not kept"
    );
    for _ in 0..2 {
        let res = get(&serve, "/big.bin", &[]).await;
        assert!(
            matches!(res.body(), ResponseBody::File(_)),
            "{:?}",
            res.body()
        );
        assert!(all(&body(res).await, 1));
        assert_eq!(serve.cache.kept_files(), 1, "opened once, then kept");
    }

    fs::write(site.path("big.new"), vec![2u8; 100 * 1024]).unwrap();
    fs::rename(site.path("big.new"), site.path("big.bin")).unwrap();
    assert!(all(&body(get(&serve, "/big.bin", &[]).await).await, 2));
    assert_eq!(
        serve.cache.kept_files(),
        0,
        "the replaced entry's file is closed"
    );
}

/// Changed in place while kept open: the open file no longer matches the cached identity,
/// so the answer resolves again rather than send other bytes under the old headers.
#[tokio::test]
async fn a_kept_file_changed_in_place_is_seen_at_once() {
    use std::io::Write as _;
    let site = frozen();
    let path = site.path("big.bin");
    fs::write(&path, vec![1u8; 100 * 1024]).unwrap();
    let serve = site.serve_dir();
    for _ in 0..2 {
        assert_eq!(
            body(get(&serve, "/big.bin", &[]).await).await.len(),
            100 * 1024
        );
    }
    assert_eq!(serve.cache.kept_files(), 1);
    let mut file = fs::OpenOptions::new().append(true).open(&path).unwrap();
    file.write_all(b"more").unwrap();
    let res = get(&serve, "/big.bin", &[]).await;
    assert_eq!(header(&res, "content-length"), "102404");
    let got = body(res).await;
    assert_eq!(got.len(), 102_404);
    assert_eq!(&got[got.len() - 4..], b"more");
}

#[tokio::test]
async fn revalidation_keeps_the_bytes_of_an_unchanged_file() {
    let site = frozen();
    let serve = site.serve_dir();
    let first = full_ptr(&get(&serve, "/page.html", &[]).await);
    assert_eq!(
        first,
        full_ptr(&get(&serve, "/page.html", &[]).await),
        "hit"
    );
    expire(&serve);
    assert_eq!(
        first,
        full_ptr(&get(&serve, "/page.html", &[]).await),
        "revalidated, not read again"
    );
    // Same length, new content and mtime: the identity differs, the bytes are read again.
    fs::write(site.path("page.html"), b"<p>PAGE</p>").unwrap();
    expire(&serve);
    let res = get(&serve, "/page.html", &[]).await;
    assert_ne!(first, full_ptr(&res));
    assert_eq!(body(res).await.as_ref(), b"<p>PAGE</p>");
}

#[tokio::test]
async fn a_file_replaced_by_rename_is_seen_after_the_interval() {
    let site = frozen();
    let serve = site.serve_dir();
    let _ = body(get(&serve, "/docs/", &[]).await).await;
    fs::write(site.path("docs/index.new"), b"<h1>new docs</h1>").unwrap();
    fs::rename(site.path("docs/index.new"), site.path("docs/index.html")).unwrap();
    assert_eq!(
        body(get(&serve, "/docs/", &[]).await).await.as_ref(),
        b"<h1>docs</h1>"
    );
    expire(&serve);
    assert_eq!(
        body(get(&serve, "/docs/", &[]).await).await.as_ref(),
        b"<h1>new docs</h1>"
    );
}

/// Every answer a warm cache gives equals the one a walk gives (ZERO interval: every request
/// resolves), for preconditions, ranges, HEAD, 406 and 404.
#[tokio::test]
async fn hits_answer_exactly_like_the_walk() {
    let site = frozen();
    fs::write(site.path("big.bin"), vec![5u8; 300_000]).unwrap();
    let warm = site.serve_dir();
    let mut cold_opts = site.opts.clone();
    cold_opts.revalidate_after = Duration::ZERO;
    let cold = super::ServeDir::new(cold_opts);
    let etag = header(&get(&cold, "/hello.txt", &[]).await, "etag").to_owned();
    let lm = header(&get(&cold, "/hello.txt", &[]).await, "last-modified").to_owned();
    type Case<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>);
    let cases: Vec<Case<'_>> = vec![
        ("GET", "/hello.txt", vec![]),
        ("HEAD", "/hello.txt", vec![]),
        ("GET", "/hello.txt", vec![("if-none-match", &etag)]),
        ("HEAD", "/hello.txt", vec![("if-none-match", &etag)]),
        ("GET", "/hello.txt", vec![("if-modified-since", &lm)]),
        ("GET", "/hello.txt", vec![("if-match", "\"nope\"")]),
        ("GET", "/hello.txt", vec![("range", "bytes=0-4")]),
        ("GET", "/hello.txt", vec![("range", "bytes=-3")]),
        ("GET", "/hello.txt", vec![("range", "bytes=100-")]),
        (
            "GET",
            "/hello.txt",
            vec![("range", "bytes=0-1"), ("if-range", &etag)],
        ),
        (
            "GET",
            "/hello.txt",
            vec![("range", "bytes=0-1"), ("if-range", "\"x\"")],
        ),
        ("GET", "/hello.txt", vec![("accept", "image/png")]),
        ("GET", "/hello.txt", vec![("accept", "text/*;q=0.5")]),
        ("GET", "/docs/", vec![]),
        ("GET", "/docs/", vec![("range", "bytes=1-2")]),
        ("GET", "/big.bin", vec![]),
        ("HEAD", "/big.bin", vec![]),
        ("GET", "/big.bin", vec![("range", "bytes=299990-")]),
        ("GET", "/plain/", vec![]),
        ("GET", "/plain/", vec![("accept", "application/json")]),
        ("GET", "/plain/", vec![("accept", "image/png")]),
        ("GET", "/nope.txt", vec![]),
        ("GET", "/docs/intro.htm", vec![]),
        ("GET", "/hello.txt/", vec![]),
        ("GET", "/inside-link", vec![]),
        ("GET", "/out-file", vec![]),
        ("GET", "/.hidden", vec![]),
    ];
    for round in 0..2 {
        for (method, path, headers) in &cases {
            let a = request(&cold, method, path, None, headers).await;
            let b = request(&warm, method, path, None, headers).await;
            let what = format!("round {round}: {method} {path} {headers:?}");
            match (a, b) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(a.status(), b.status(), "{what}");
                    for (name, value) in a.headers() {
                        assert_eq!(Some(value), b.headers().get(name), "{what}: {name}");
                    }
                    assert_eq!(a.headers().len(), b.headers().len(), "{what}");
                    assert_eq!(body(a).await, body(b).await, "{what}");
                }
                (Err(a), Err(b)) => {
                    assert_eq!(a.status, b.status, "{what}");
                    assert_eq!(a.detail, b.detail, "{what}");
                    assert_eq!(a.suggestions, b.suggestions, "{what}");
                    assert_eq!(a.available, b.available, "{what}");
                    assert_eq!(a.headers, b.headers, "{what}");
                }
                (a, b) => panic!("{what}: {:?} vs {:?}", a.map(|r| r.status()), b.err()),
            }
        }
    }
}

#[tokio::test]
async fn several_ranges_of_a_cached_file() {
    let site = frozen();
    let serve = site.serve_dir();
    let _ = get(&serve, "/hello.txt", &[]).await;
    let res = get(&serve, "/hello.txt", &[("range", "bytes=0-1,6-7")]).await;
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    let length: usize = header(&res, "content-length").parse().unwrap();
    let ct = header(&res, "content-type").to_owned();
    let boundary = ct.split("boundary=").nth(1).unwrap().to_owned();
    let got = body(res).await;
    assert_eq!(got.len(), length);
    let text = String::from_utf8(got.to_vec()).unwrap();
    assert!(text.starts_with(&format!("--{boundary}\r\n")), "{text}");
    assert!(
        text.contains("Content-Range: bytes 0-1/12\r\n\r\nhe\r\n"),
        "{text}"
    );
    assert!(
        text.contains("Content-Range: bytes 6-7/12\r\n\r\nwo\r\n"),
        "{text}"
    );
    assert!(text.ends_with(&format!("--{boundary}--\r\n")), "{text}");
}

#[tokio::test]
async fn a_large_file_hit_reopens_and_checks_the_file() {
    let site = frozen();
    fs::write(site.path("big.bin"), vec![1u8; 200_000]).unwrap();
    let serve = site.serve_dir();
    assert_eq!(
        body(get(&serve, "/big.bin", &[]).await).await.len(),
        200_000
    );
    // Replaced within the interval: the cached identity no longer matches what opens, so
    // the request resolves again rather than stream different bytes under old headers.
    fs::write(site.path("big.new"), vec![2u8; 250_000]).unwrap();
    fs::rename(site.path("big.new"), site.path("big.bin")).unwrap();
    let res = get(&serve, "/big.bin", &[]).await;
    assert_eq!(header(&res, "content-length"), "250000");
    let got = body(res).await;
    assert!(got.len() == 250_000 && got.iter().all(|&b| b == 2));
}

/// Changed in place (same inode) within the interval: the open file's length differs from
/// the cached one, so the request resolves again rather than send a length that is no longer
/// the file's.
#[tokio::test]
async fn a_large_file_changed_in_place_is_seen_at_once() {
    use std::io::Write as _;
    let site = frozen();
    let path = site.path("big.bin");
    fs::write(&path, vec![1u8; 200_000]).unwrap();
    let serve = site.serve_dir();
    assert_eq!(
        body(get(&serve, "/big.bin", &[]).await).await.len(),
        200_000
    );
    let mut file = fs::OpenOptions::new().append(true).open(&path).unwrap();
    file.write_all(b"more").unwrap();
    let res = get(&serve, "/big.bin", &[]).await;
    assert_eq!(header(&res, "content-length"), "200004");
    assert_eq!(body(res).await.len(), 200_004);
}

#[tokio::test]
async fn a_404_is_cached_within_the_interval() {
    let site = frozen();
    let serve = site.serve_dir();
    let p = problem(&serve, "/helo.txt", &[]).await;
    assert_eq!(p.suggestions, vec!["/hello.txt".to_owned()]);
    fs::write(site.path("helo.txt"), b"now here").unwrap();
    let again = problem(&serve, "/helo.txt", &[]).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    expire(&serve);
    assert_eq!(
        body(get(&serve, "/helo.txt", &[]).await).await.as_ref(),
        b"now here"
    );
}

#[tokio::test]
async fn suggestions_see_a_new_name_in_the_directory() {
    let site = frozen();
    let serve = site.serve_dir();
    assert!(
        problem(&serve, "/zebra.txt", &[])
            .await
            .suggestions
            .is_empty()
    );
    fs::write(site.path("zebras.txt"), b"z").unwrap();
    expire(&serve);
    assert_eq!(
        problem(&serve, "/zebra.txt", &[]).await.suggestions,
        vec!["/zebras.txt".to_owned()]
    );
}

#[tokio::test]
async fn a_404_flood_stays_bounded() {
    let site = frozen();
    let serve = site.serve_dir();
    for i in 0..5000 {
        let p = problem(&serve, &format!("/missing-{i}.txt"), &[]).await;
        assert_eq!(p.status, StatusCode::NOT_FOUND);
    }
    let held = serve.cache.miss_count();
    assert!(held <= 4096, "{held} cached 404s");
    assert!(held >= 1000, "the 404s are cached: {held}");
}

#[tokio::test]
async fn cached_bytes_stay_under_the_cap() {
    let site = frozen();
    let serve = site.serve_dir();
    let chunk = vec![9u8; 120 * 1024];
    for i in 0..600 {
        fs::write(site.path(&format!("f{i}.bin")), &chunk).unwrap();
        let _ = body(get(&serve, &format!("/f{i}.bin"), &[]).await).await;
    }
    let held = serve.cache.answer_bytes();
    assert!(held <= super::super::cache::MAX_CACHED_BYTES, "{held}");
    assert!(held > 32 << 20, "most of the budget is used: {held}");
}

#[tokio::test]
async fn listings_are_cached_and_refreshed() {
    let site = frozen();
    let serve = site.serve_dir();
    let page = body(get(&serve, "/plain/", &[("accept", "text/plain")]).await).await;
    assert_eq!(page.as_ref(), b"readme.txt\n");
    fs::write(site.path("plain/added.txt"), b"1234").unwrap();
    // Another view of the cached entries is rendered from memory: still one entry.
    let json = body(get(&serve, "/plain/", &[("accept", "application/json")]).await).await;
    assert!(!String::from_utf8_lossy(&json).contains("added.txt"));
    expire(&serve);
    let page = body(get(&serve, "/plain/", &[("accept", "text/plain")]).await).await;
    assert_eq!(page.as_ref(), b"added.txt\nreadme.txt\n");
    // An entry's size changes without the directory's mtime moving: still seen.
    fs::write(site.path("plain/added.txt"), b"123456789").unwrap();
    expire(&serve);
    let json = body(get(&serve, "/plain/", &[("accept", "application/json")]).await).await;
    assert!(
        String::from_utf8_lossy(&json).contains("\"size\":9"),
        "{json:?}"
    );
    // Sorting by query on a hit.
    let page = request(
        &serve,
        "GET",
        "/plain/",
        Some("sort=size&order=desc"),
        &[("accept", "text/plain")],
    )
    .await
    .unwrap();
    assert_eq!(body(page).await.as_ref(), b"readme.txt\nadded.txt\n");
}

/// A cached 404 renders its body once per format: answers for the same missing path share
/// the bytes.
#[tokio::test]
async fn a_cached_404_body_is_rendered_once() {
    let site = frozen();
    let serve = site.serve_dir();
    let _ = problem(&serve, "/helo.txt", &[]).await;
    let json = http::HeaderValue::from_static("application/problem+json");
    let first = problem(&serve, "/helo.txt", &[]).await;
    let second = problem(&serve, "/helo.txt", &[]).await;
    let first = first.into_response(Some(&json), false);
    let second = second.into_response(Some(&json), false);
    assert_eq!(full_ptr(&first), full_ptr(&second));
}

/// With precompressed siblings, the answer to each `Accept-Encoding` is kept like the
/// file's: a repeat walks nothing, another field value has its own entry, the plain answer
/// stays plain, and a sibling added (or a file changed) is seen once the entry is checked.
#[tokio::test]
async fn answers_by_coding_are_kept_per_accept_encoding() {
    let mut site = frozen();
    site.opts.precompressed = true;
    fs::write(site.path("app.js"), b"plain").unwrap();
    fs::write(site.path("app.js.gz"), b"GZIP").unwrap();
    let serve = site.serve_dir();
    let gzip = [("accept-encoding", "gzip")];
    let both = [("accept-encoding", "gzip, br")];
    let encoding = |res: &http::Response<ResponseBody>| {
        res.headers()
            .get("content-encoding")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let first = get(&serve, "/app.js", &gzip).await;
    assert_eq!(encoding(&first).as_deref(), Some("gzip"));
    let walks = serve.cache.walks();
    for _ in 0..3 {
        let res = get(&serve, "/app.js", &gzip).await;
        assert_eq!(encoding(&res).as_deref(), Some("gzip"));
        assert_eq!(res.headers()["vary"], "Accept-Encoding");
        assert_eq!(body(res).await.as_ref(), b"GZIP");
    }
    assert_eq!(serve.cache.walks(), walks, "repeats walk nothing");
    let res = get(&serve, "/app.js", &both).await;
    assert_eq!(body(res).await.as_ref(), b"GZIP");
    assert_eq!(
        serve.cache.walks(),
        walks + 1,
        "another value, its own walk"
    );
    let res = get(&serve, "/app.js", &[]).await;
    assert_eq!(encoding(&res), None);
    assert_eq!(body(res).await.as_ref(), b"plain");

    // A brotli sibling appears: within the interval the kept choice stands, then it is seen.
    fs::write(site.path("app.js.br"), b"BROTLI").unwrap();
    let res = get(&serve, "/app.js", &both).await;
    assert_eq!(body(res).await.as_ref(), b"GZIP");
    expire(&serve);
    let res = get(&serve, "/app.js", &both).await;
    assert_eq!(encoding(&res).as_deref(), Some("br"));
    assert_eq!(body(res).await.as_ref(), b"BROTLI");
    let res = get(&serve, "/app.js", &gzip).await;
    assert_eq!(body(res).await.as_ref(), b"GZIP");
}

/// A file dated in the future has no `Last-Modified` (RFC 9110 §8.8.2.1); once its date has
/// come, the next check of its entry gives it one, though the file did not change.
#[tokio::test]
async fn a_file_dated_in_the_future_gets_last_modified_when_its_date_comes() {
    let site = frozen();
    let when = std::time::SystemTime::now() + Duration::from_millis(1500);
    fs::write(site.path("early.txt"), b"from the future\n").unwrap();
    fs::File::options()
        .write(true)
        .open(site.path("early.txt"))
        .unwrap()
        .set_modified(when)
        .unwrap();
    let serve = site.serve_dir();
    let res = get(&serve, "/early.txt", &[]).await;
    assert!(res.headers().get("last-modified").is_none());
    tokio::time::sleep(Duration::from_millis(1700)).await;
    expire(&serve);
    let res = get(&serve, "/early.txt", &[]).await;
    assert!(res.headers().get("last-modified").is_some(), "{res:?}");
    assert_eq!(body(res).await.as_ref(), b"from the future\n");
    // And it stays: answered from the new entry.
    let res = get(&serve, "/early.txt", &[]).await;
    assert!(res.headers().get("last-modified").is_some());
}
