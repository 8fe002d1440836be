//! Range requests: single, multipart/byteranges, unsatisfiable, If-Range, HEAD.

use std::fs;

use http::StatusCode;
use http_body::Body as _;

use super::{Site, body, get, header, problem, request};

fn content() -> Vec<u8> {
    (0..200_000u32).map(|i| (i % 253) as u8).collect()
}

#[tokio::test]
async fn single_range() {
    let site = Site::new();
    fs::write(site.path("data.bin"), content()).unwrap();
    let serve = site.serve_dir();
    let res = get(&serve, "/data.bin", &[("range", "bytes=100-199")]).await;
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(header(&res, "content-range"), "bytes 100-199/200000");
    assert_eq!(header(&res, "content-length"), "100");
    assert_eq!(header(&res, "content-type"), "application/octet-stream");
    assert!(!header(&res, "etag").is_empty());
    assert!(!header(&res, "last-modified").is_empty());
    assert_eq!(body(res).await.as_ref(), &content()[100..200]);

    // A suffix range crossing chunk boundaries.
    let res = get(&serve, "/data.bin", &[("range", "bytes=-150000")]).await;
    assert_eq!(header(&res, "content-range"), "bytes 50000-199999/200000");
    assert_eq!(body(res).await.as_ref(), &content()[50_000..]);

    // A small file, read otherwise in one go.
    let res = get(&serve, "/hello.txt", &[("range", "bytes=6-")]).await;
    assert_eq!(header(&res, "content-range"), "bytes 6-11/12");
    assert_eq!(body(res).await.as_ref(), b"world\n");
}

#[tokio::test]
async fn multiple_ranges_are_multipart_with_exact_length() {
    let site = Site::new();
    fs::write(site.path("data.bin"), content()).unwrap();
    let res = get(
        &site.serve_dir(),
        "/data.bin",
        &[("range", "bytes=0-9, 100000-100009, -5")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    let ct = header(&res, "content-type").to_owned();
    let boundary = ct
        .strip_prefix("multipart/byteranges; boundary=")
        .expect("multipart content type")
        .to_owned();
    assert!(!boundary.is_empty() && boundary.len() <= 70);
    assert!(res.headers().get("content-range").is_none());
    let length: usize = header(&res, "content-length").parse().unwrap();
    assert_eq!(res.body().size_hint().exact(), Some(length as u64));
    let got = body(res).await;
    assert_eq!(got.len(), length, "Content-Length is exact");

    let c = content();
    let mut expected = Vec::new();
    for (i, (a, b)) in [(0usize, 9usize), (100_000, 100_009), (199_995, 199_999)]
        .into_iter()
        .enumerate()
    {
        if i > 0 {
            expected.extend_from_slice(b"\r\n");
        }
        expected.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Type: application/octet-stream\r\n\
                 Content-Range: bytes {a}-{b}/200000\r\n\r\n"
            )
            .as_bytes(),
        );
        expected.extend_from_slice(&c[a..=b]);
    }
    expected.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    assert_eq!(got.as_ref(), expected.as_slice());
}

#[tokio::test]
async fn boundaries_differ_between_responses() {
    let site = Site::new();
    let serve = site.serve_dir();
    let a = get(&serve, "/hello.txt", &[("range", "bytes=0-0,5-5")]).await;
    let b = get(&serve, "/hello.txt", &[("range", "bytes=0-0,5-5")]).await;
    assert_ne!(header(&a, "content-type"), header(&b, "content-type"));
}

#[tokio::test]
async fn unsatisfiable_range_is_416_with_validators() {
    let site = Site::new();
    let p = problem(
        &site.serve_dir(),
        "/hello.txt",
        &[("range", "bytes=100-200")],
    )
    .await;
    assert_eq!(p.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        p.headers.get("content-range").and_then(|v| v.to_str().ok()),
        Some("bytes */12")
    );
    assert!(p.headers.contains_key("etag"));
    assert!(p.headers.contains_key("last-modified"));
}

#[tokio::test]
async fn ignored_ranges_send_everything() {
    let site = Site::new();
    let serve = site.serve_dir();
    for range in ["items=0-1", "bytes=5-1", "bytes", "bytes=abc"] {
        let res = get(&serve, "/hello.txt", &[("range", range)]).await;
        assert_eq!(res.status(), StatusCode::OK, "{range}");
        assert_eq!(body(res).await.as_ref(), b"hello world\n");
    }
    // Range is for GET only.
    let res = request(
        &serve,
        "HEAD",
        "/hello.txt",
        None,
        &[("range", "bytes=0-1")],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header(&res, "content-length"), "12");
}

#[tokio::test]
async fn if_range() {
    let site = Site::new();
    let serve = site.serve_dir();
    let res = get(&serve, "/hello.txt", &[]).await;
    let etag = header(&res, "etag").to_owned();
    let lm = header(&res, "last-modified").to_owned();

    let res = get(
        &serve,
        "/hello.txt",
        &[("range", "bytes=0-4"), ("if-range", &etag)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(body(res).await.as_ref(), b"hello");

    let res = get(
        &serve,
        "/hello.txt",
        &[("range", "bytes=0-4"), ("if-range", "\"stale\"")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(body(res).await.as_ref(), b"hello world\n");

    // A date validator only counts if it is strong; ours is at least a second old or not.
    let res = get(
        &serve,
        "/hello.txt",
        &[("range", "bytes=0-4"), ("if-range", &lm)],
    )
    .await;
    assert!(matches!(
        res.status(),
        StatusCode::OK | StatusCode::PARTIAL_CONTENT
    ));
}

#[tokio::test]
async fn range_with_precondition_failure_is_412() {
    let site = Site::new();
    let p = problem(
        &site.serve_dir(),
        "/hello.txt",
        &[("range", "bytes=0-4"), ("if-match", "\"nope\"")],
    )
    .await;
    assert_eq!(p.status, StatusCode::PRECONDITION_FAILED);
}
