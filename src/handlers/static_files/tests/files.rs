//! Files: headers, HEAD, streaming with bounded memory, files that change while sent,
//! preconditions, directories and redirects.

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::time::Duration;

use http::StatusCode;
use http_body::Body as _;
use http_body_util::BodyExt;

use super::{Site, body, get, header, problem, request};
use crate::body::ResponseBody;

#[tokio::test]
async fn file_has_full_headers() {
    let site = Site::new();
    let serve = site.serve_dir();
    let res = get(&serve, "/hello.txt", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(header(&res, "content-type").starts_with("text/plain"));
    assert_eq!(header(&res, "content-length"), "12");
    assert_eq!(header(&res, "accept-ranges"), "bytes");
    let etag = header(&res, "etag");
    assert!(
        etag.starts_with('"') && etag.ends_with('"'),
        "strong ETag: {etag}"
    );
    let modified = fs::metadata(site.path("hello.txt"))
        .unwrap()
        .modified()
        .unwrap();
    let lm = httpdate::parse_http_date(header(&res, "last-modified")).expect("HTTP-date");
    assert!(modified.duration_since(lm).unwrap_or_default() < Duration::from_secs(1));
    assert!(
        res.headers().get("vary").is_none(),
        "a plain file does not vary"
    );
    assert_eq!(body(res).await.as_ref(), b"hello world\n");
}

#[tokio::test]
async fn head_has_the_same_headers_and_no_body() {
    let site = Site::new();
    let serve = site.serve_dir();
    let g = get(&serve, "/hello.txt", &[]).await;
    let h = request(&serve, "HEAD", "/hello.txt", None, &[])
        .await
        .unwrap();
    assert_eq!(h.status(), StatusCode::OK);
    for name in [
        "content-type",
        "content-length",
        "etag",
        "last-modified",
        "accept-ranges",
    ] {
        assert_eq!(header(&g, name), header(&h, name), "{name}");
    }
    assert!(matches!(h.body(), ResponseBody::Empty));
    // HEAD on a big file does not build a stream either.
    fs::write(site.path("big.bin"), vec![7u8; 300_000]).unwrap();
    let h = request(&serve, "HEAD", "/big.bin", None, &[])
        .await
        .unwrap();
    assert_eq!(header(&h, "content-length"), "300000");
    assert!(matches!(h.body(), ResponseBody::Empty));
}

#[tokio::test]
async fn empty_file() {
    let site = Site::new();
    let res = get(&site.serve_dir(), "/empty.txt", &[]).await;
    assert_eq!(header(&res, "content-length"), "0");
    assert!(body(res).await.is_empty());
}

#[tokio::test]
async fn big_file_is_streamed_exactly() {
    let site = Site::new();
    let content: Vec<u8> = (0..1_000_003u32).map(|i| (i % 251) as u8).collect();
    fs::write(site.path("big.bin"), &content).unwrap();
    let res = get(&site.serve_dir(), "/big.bin", &[]).await;
    assert_eq!(header(&res, "content-type"), "application/octet-stream");
    assert_eq!(header(&res, "content-length"), "1000003");
    assert!(matches!(res.body(), ResponseBody::File(_)));
    assert_eq!(res.body().size_hint().exact(), Some(1_000_003));
    assert_eq!(body(res).await.as_ref(), content.as_slice());
}

/// Resident set size of this process, from /proc (Linux).
fn rss_bytes() -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

async fn stream_sparse(len: u64) {
    let site = Site::new();
    let file = fs::File::create(site.path("huge.bin")).unwrap();
    file.set_len(len).unwrap(); // sparse: costs no disk
    let serve = site.serve_dir();
    let res = get(&serve, "/huge.bin", &[]).await;
    assert_eq!(header(&res, "content-length"), len.to_string());
    let before = rss_bytes();
    let mut body = res.into_body();
    let (mut total, mut biggest) = (0u64, 0usize);
    while let Some(frame) = body.frame().await {
        let data = frame.expect("no error").into_data().expect("data frame");
        biggest = biggest.max(data.len());
        total += data.len() as u64;
    }
    assert_eq!(total, len);
    assert!(
        biggest as u64 <= crate::body::file::MAX_CHUNK,
        "chunks of at most 512 KiB, got {biggest}"
    );
    let grown = rss_bytes().saturating_sub(before);
    assert!(grown < 32 << 20, "memory grew by {grown} bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sparse_256_mib_file_streams_in_bounded_memory() {
    stream_sparse(256 << 20).await;
}

/// Issue #2: a 10 GiB file with the process under a few tens of MiB. Slow in debug builds.
#[tokio::test]
async fn file_that_shrinks_while_sent_ends_with_an_error() {
    let site = Site::new();
    fs::write(site.path("shrink.bin"), vec![1u8; 1 << 20]).unwrap();
    let res = get(&site.serve_dir(), "/shrink.bin", &[]).await;
    assert_eq!(header(&res, "content-length"), (1u64 << 20).to_string());
    let mut body = res.into_body();
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    let mut sent = first.len();
    OpenOptions::new()
        .write(true)
        .open(site.path("shrink.bin"))
        .unwrap()
        .set_len(100_000)
        .unwrap();
    let mut failed = false;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(f) => sent += f.into_data().unwrap().len(),
            Err(err) => {
                assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
                failed = true;
                break;
            }
        }
    }
    assert!(failed, "a short body must end with an error, sent {sent}");
    assert!(sent < 1 << 20);
    assert!(body.frame().await.is_none(), "nothing after the error");
}

#[tokio::test]
async fn file_that_grows_while_sent_stops_at_content_length() {
    let site = Site::new();
    fs::write(site.path("grow.bin"), vec![1u8; 200_000]).unwrap();
    let res = get(&site.serve_dir(), "/grow.bin", &[]).await;
    let mut f = OpenOptions::new()
        .append(true)
        .open(site.path("grow.bin"))
        .unwrap();
    f.write_all(&[2u8; 100_000]).unwrap();
    let got = body(res).await;
    assert_eq!(got.len(), 200_000);
    assert!(got.iter().all(|&b| b == 1));
}

#[tokio::test]
async fn conditional_requests() {
    let site = Site::new();
    let serve = site.serve_dir();
    let res = get(&serve, "/hello.txt", &[]).await;
    let etag = header(&res, "etag").to_owned();
    let lm = header(&res, "last-modified").to_owned();

    let res = get(&serve, "/hello.txt", &[("if-none-match", &etag)]).await;
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(&res, "etag"), etag);
    assert_eq!(header(&res, "last-modified"), lm);
    assert!(res.headers().get("content-length").is_none());
    assert!(body(res).await.is_empty());

    let res = get(&serve, "/hello.txt", &[("if-modified-since", &lm)]).await;
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);

    let res = get(&serve, "/hello.txt", &[("if-none-match", "\"other\"")]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(body(res).await.as_ref(), b"hello world\n");

    let p = problem(&serve, "/hello.txt", &[("if-match", "\"other\"")]).await;
    assert_eq!(p.status, StatusCode::PRECONDITION_FAILED);

    let h = request(
        &serve,
        "HEAD",
        "/hello.txt",
        None,
        &[("if-none-match", &etag)],
    )
    .await
    .unwrap();
    assert_eq!(h.status(), StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn etag_changes_when_the_file_changes() {
    let site = Site::new();
    let serve = site.serve_dir();
    let a = header(&get(&serve, "/hello.txt", &[]).await, "etag").to_owned();
    fs::write(site.path("hello.txt"), b"hello world, longer\n").unwrap();
    super::expire(&serve);
    let res = get(&serve, "/hello.txt", &[("if-none-match", &a)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_ne!(header(&res, "etag"), a);
    assert_eq!(body(res).await.as_ref(), b"hello world, longer\n");
}

#[tokio::test]
async fn directory_without_slash_redirects() {
    let site = Site::new();
    let serve = site.serve_dir();
    let res = get(&serve, "/docs", &[]).await;
    assert_eq!(res.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(header(&res, "location"), "/docs/");

    let res = request(&serve, "GET", "/sp ace", Some("a=1&b=%20"), &[])
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(header(&res, "location"), "/sp%20ace/?a=1&b=%20");

    let res = request(&serve, "HEAD", "/dir-link", None, &[])
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(header(&res, "location"), "/dir-link/");
}

#[tokio::test]
async fn directory_serves_its_index_as_a_file() {
    let site = Site::new();
    let serve = site.serve_dir();
    let res = get(&serve, "/docs/", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(header(&res, "content-type").starts_with("text/html"));
    assert!(!header(&res, "etag").is_empty());
    assert_eq!(header(&res, "accept-ranges"), "bytes");
    let etag = header(&res, "etag").to_owned();
    assert_eq!(body(res).await.as_ref(), b"<h1>docs</h1>");

    let res = get(&serve, "/docs/", &[("if-none-match", &etag)]).await;
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    let res = get(&serve, "/docs/", &[("range", "bytes=1-2")]).await;
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(body(res).await.as_ref(), b"h1");
}

#[tokio::test]
async fn index_files_are_tried_in_order() {
    let mut site = Site::new();
    fs::write(site.path("plain/default.htm"), b"default").unwrap();
    site.opts.index_files = vec!["index.html".into(), "default.htm".into()];
    let res = get(&site.serve_dir(), "/plain/", &[]).await;
    assert_eq!(body(res).await.as_ref(), b"default");
}

#[tokio::test]
async fn directory_without_index_or_listing_is_forbidden() {
    let mut site = Site::new();
    site.opts.listing = false;
    let p = problem(&site.serve_dir(), "/plain/", &[]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn file_with_trailing_slash_is_not_found_and_points_at_the_file() {
    let site = Site::new();
    let p = problem(&site.serve_dir(), "/hello.txt/", &[]).await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    assert_eq!(p.suggestions, vec!["/hello.txt".to_owned()]);
}

#[tokio::test]
async fn hostile_names_are_served() {
    let site = Site::new();
    let serve = site.serve_dir();
    for name in super::HOSTILE {
        let res = get(&serve, &format!("/{name}"), &[]).await;
        assert_eq!(res.status(), StatusCode::OK, "{name}");
        assert_eq!(body(res).await.as_ref(), name.as_bytes(), "{name}");
    }
}

#[tokio::test]
async fn file_replaced_between_requests_is_served_fresh() {
    let site = Site::new();
    let serve = site.serve_dir();
    fs::write(site.path("swap.txt.new"), b"new content").unwrap();
    let _ = body(get(&serve, "/hello.txt", &[]).await).await;
    fs::rename(site.path("swap.txt.new"), site.path("hello.txt")).unwrap();
    super::expire(&serve);
    assert_eq!(
        body(get(&serve, "/hello.txt", &[]).await).await.as_ref(),
        b"new content"
    );
}
