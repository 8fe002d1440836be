//! Files: representation headers, conditional requests (RFC 9110 §13), ranges (§14),
//! bounded memory and consistency while a file changes.

use std::time::{Duration, SystemTime};

use crate::support::{TestServer, client, head_value, header, read_some, split_head, write};

async fn site() -> TestServer {
    TestServer::start(|root| {
        write(root, "hello.txt", "hello, world\n");
        write(root, "page.html", "<!doctype html><p>hi</p>");
        write(root, "data.json", "{\"a\":1}");
        write(root, "style.css", "p{}");
        write(root, "app.js", "1");
        write(root, "pic.png", [0x89, b'P', b'N', b'G']);
        write(root, "blob.unknownext", "??");
        write(root, "README", "no extension");
        write(root, "digits.txt", "0123456789");
    })
    .await
}

#[tokio::test]
async fn content_type_from_extension_with_charset_on_text() {
    let s = site().await;
    let cases = [
        ("/hello.txt", "text/plain; charset=utf-8"),
        ("/page.html", "text/html; charset=utf-8"),
        ("/style.css", "text/css; charset=utf-8"),
        ("/app.js", "text/javascript; charset=utf-8"),
        ("/data.json", "application/json"),
        ("/pic.png", "image/png"),
        ("/blob.unknownext", "application/octet-stream"),
        ("/README", "application/octet-stream"),
    ];
    for (path, expected) in cases {
        let r = s.get(path, &[]).await;
        assert_eq!(r.status(), 200, "{path}");
        let ct = header(&r, "content-type").to_ascii_lowercase();
        assert!(ct.starts_with(expected), "{path}: {ct}");
    }
}

#[tokio::test]
async fn file_answer_carries_validators_and_length() {
    let s = site().await;
    let r = s.get("/hello.txt", &[]).await;
    let h = r.headers().clone();
    assert_eq!(h["content-length"], "13");
    assert_eq!(h["accept-ranges"], "bytes");
    let etag = h["etag"].to_str().unwrap();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && !etag.starts_with("W/"),
        "strong: {etag}"
    );
    let lm = httpdate::parse_http_date(h["last-modified"].to_str().unwrap()).unwrap();
    let actual = std::fs::metadata(s.root.join("hello.txt"))
        .unwrap()
        .modified()
        .unwrap();
    assert!(actual.duration_since(lm).unwrap() < Duration::from_secs(1));
    assert_eq!(r.text().await.unwrap(), "hello, world\n");
}

#[tokio::test]
async fn etag_changes_when_the_file_changes() {
    // Revalidate on every request: this test is about the tag, not the cache's staleness
    // bound (a change is seen within `revalidate_after`, 1 s by default: tests/it/cache.rs).
    let s = TestServer::start_with(
        |root| write(root, "hello.txt", "hello, world\n"),
        |c| c.files.revalidate_after = Duration::ZERO,
    )
    .await;
    let tag = |r: &reqwest::Response| header(r, "etag").to_owned();
    let before = tag(&s.get("/hello.txt", &[]).await);
    write(&s.root, "hello.txt", "hello, there\n");
    let later = SystemTime::now() + Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(s.root.join("hello.txt"))
        .unwrap()
        .set_modified(later)
        .unwrap();
    let after = s.get("/hello.txt", &[]).await;
    assert_ne!(before, tag(&after));
    assert_eq!(after.text().await.unwrap(), "hello, there\n");
}

/// RFC 9110 §13.2.2, step by step.
#[tokio::test]
async fn preconditions_in_rfc_order() {
    let s = site().await;
    let c = client();
    let first = s.get("/hello.txt", &[]).await;
    let etag = header(&first, "etag").to_owned();
    let lm = header(&first, "last-modified").to_owned();
    let weak = format!("W/{etag}");
    let list = format!("\"x\", {etag}");
    let past = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(86_400));
    let future = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(86_400));
    let cases: Vec<(Vec<(&str, &str)>, u16)> = vec![
        (vec![("if-match", &etag)], 200),
        (vec![("if-match", "*")], 200),
        (vec![("if-match", "\"other\"")], 412),
        (vec![("if-match", &weak)], 412), // strong comparison
        (vec![("if-match", &list)], 200),
        (vec![("if-unmodified-since", &past)], 412),
        (vec![("if-unmodified-since", &lm)], 200),
        (vec![("if-unmodified-since", "garbage")], 200),
        // If-Match present: If-Unmodified-Since is not evaluated.
        (
            vec![("if-match", &etag), ("if-unmodified-since", &past)],
            200,
        ),
        (vec![("if-none-match", &etag)], 304),
        (vec![("if-none-match", &weak)], 304), // weak comparison
        (vec![("if-none-match", "*")], 304),
        (vec![("if-none-match", "\"other\"")], 200),
        (vec![("if-modified-since", &lm)], 304),
        // A date past the server's clock is no date it sent: ignored (Apache, RFC 2616).
        (vec![("if-modified-since", &future)], 200),
        (vec![("if-modified-since", &past)], 200),
        // If-None-Match present: If-Modified-Since is ignored.
        (
            vec![("if-none-match", "\"other\""), ("if-modified-since", &lm)],
            200,
        ),
        // If-Match failure wins over If-None-Match.
        (
            vec![("if-match", "\"other\""), ("if-none-match", &etag)],
            412,
        ),
    ];
    for (headers, expected) in cases {
        let mut req = c.get(s.url("/hello.txt"));
        for (n, v) in &headers {
            req = req.header(*n, *v);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status().as_u16(), expected, "{headers:?}");
        if expected == 304 {
            assert_eq!(r.headers()["etag"], etag.as_str());
            assert!(r.bytes().await.unwrap().is_empty());
        }
    }
    let head = c
        .head(s.url("/hello.txt"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 304);
}

async fn range(s: &TestServer, value: &str) -> reqwest::Response {
    client()
        .get(s.url("/digits.txt"))
        .header("range", value)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn single_suffix_and_open_ranges() {
    let s = site().await;
    for (value, part, content_range) in [
        ("bytes=0-3", "0123", "bytes 0-3/10"),
        ("bytes=5-", "56789", "bytes 5-9/10"),
        ("bytes=-3", "789", "bytes 7-9/10"),
        ("bytes=8-100", "89", "bytes 8-9/10"),
        ("bytes=-100", "0123456789", "bytes 0-9/10"),
        ("BYTES=2-2", "2", "bytes 2-2/10"),
    ] {
        let r = range(&s, value).await;
        assert_eq!(r.status(), 206, "{value}");
        assert_eq!(r.headers()["content-range"], content_range, "{value}");
        assert_eq!(header(&r, "content-length"), part.len().to_string());
        assert_eq!(r.text().await.unwrap(), part, "{value}");
    }
}

#[tokio::test]
async fn unsatisfiable_ranges_get_416_with_the_length() {
    let s = site().await;
    for value in ["bytes=10-", "bytes=20-30", "bytes=-0", "bytes=10-11,12-"] {
        let r = range(&s, value).await;
        assert_eq!(r.status(), 416, "{value}");
        assert_eq!(r.headers()["content-range"], "bytes */10");
        let body = r.text().await.unwrap();
        assert!(
            body.contains("10"),
            "the 416 gives the representation length: {body}"
        );
    }
}

#[tokio::test]
async fn invalid_or_unknown_ranges_are_ignored() {
    let s = site().await;
    for value in [
        "bytes=3-1",
        "bytes=abc",
        "items=0-1",
        "bytes=",
        "bytes=1-2-3",
        "0-1",
    ] {
        let r = range(&s, value).await;
        assert_eq!(r.status(), 200, "{value}");
        assert_eq!(r.text().await.unwrap(), "0123456789");
    }
}

#[tokio::test]
async fn several_ranges_give_multipart_byteranges() {
    let s = site().await;
    let r = range(&s, "bytes=0-1, 5-6").await;
    assert_eq!(r.status(), 206);
    let ct = header(&r, "content-type").to_owned();
    let boundary = ct
        .strip_prefix("multipart/byteranges; boundary=")
        .expect(&ct)
        .trim_matches('"')
        .to_owned();
    let declared: usize = header(&r, "content-length").parse().unwrap();
    let body = r.text().await.unwrap();
    assert_eq!(
        body.len(),
        declared,
        "Content-Length matches the multipart body"
    );
    let parts: Vec<&str> = body.split(&format!("--{boundary}")).collect();
    assert_eq!(parts.len(), 4, "preamble, two parts, closing: {body}");
    assert!(
        parts[1].contains("Content-Range: bytes 0-1/10") && parts[1].ends_with("\r\n01\r\n"),
        "{body}"
    );
    assert!(
        parts[2].contains("Content-Range: bytes 5-6/10") && parts[2].ends_with("\r\n56\r\n"),
        "{body}"
    );
    assert!(parts[1].contains("Content-Type: text/plain"));
    assert!(parts[3].starts_with("--"));
}

#[tokio::test]
async fn overlapping_ranges_coalesce_and_many_ranges_cannot_amplify() {
    let s = site().await;
    let r = range(&s, "bytes=0-4,2-6,6-7").await;
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["content-range"], "bytes 0-7/10");
    assert_eq!(r.text().await.unwrap(), "01234567");
    let many = vec!["0-9"; 500].join(",");
    let r = range(&s, &format!("bytes={many}")).await;
    let len: usize = header(&r, "content-length").parse().unwrap();
    assert!(
        len <= 10,
        "500 copies of the whole file are not sent: {len} bytes"
    );
    let many_small: Vec<String> = (0..10).map(|i| format!("{i}-{i}")).collect();
    let r = range(&s, &format!("bytes={}", many_small.join(","))).await;
    let len: usize = header(&r, "content-length").parse().unwrap();
    assert!(len <= 10, "adjacent ranges coalesce: {len}");
}

#[tokio::test]
async fn if_range_honours_only_strong_matching_validators() {
    let s = site().await;
    // A Last-Modified is only a strong validator a second after it (RFC 9110 §8.8.2.2):
    // make the file older than that, before anything caches its metadata.
    std::fs::File::options()
        .write(true)
        .open(s.root.join("digits.txt"))
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(10))
        .unwrap();
    let c = client();
    let first = s.get("/digits.txt", &[]).await;
    let etag = header(&first, "etag").to_owned();
    let lm = header(&first, "last-modified").to_owned();
    for (if_range, expected) in [
        (etag.clone(), 206),
        (format!("W/{etag}"), 200),
        ("\"stale\"".to_owned(), 200),
        (lm.clone(), 206),
        (
            httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(99_999)),
            200,
        ),
    ] {
        let r = c
            .get(s.url("/digits.txt"))
            .header("range", "bytes=0-0")
            .header("if-range", &if_range)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), expected, "If-Range: {if_range}");
    }
}

/// A file dated in the future has no Last-Modified (RFC 9110 §8.8.2.1 forbids stating it,
/// and the present would move with the clock), so date preconditions are ignored and only
/// its ETag validates it.
#[tokio::test]
async fn a_file_dated_in_the_future_has_no_last_modified() {
    let s = site().await;
    write(&s.root, "later.txt", "0123456789");
    std::fs::File::options()
        .write(true)
        .open(s.root.join("later.txt"))
        .unwrap()
        .set_modified(SystemTime::now() + Duration::from_secs(86_400 * 365))
        .unwrap();
    let first = s.get("/later.txt", &[]).await;
    assert_eq!(first.status().as_u16(), 200);
    assert!(first.headers().get("last-modified").is_none(), "{first:?}");
    let etag = header(&first, "etag").to_owned();
    let past = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(60));
    let next_year = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(86_400 * 400));
    for (fields, expected) in [
        (vec![("if-unmodified-since", past.as_str())], 200),
        (vec![("if-modified-since", next_year.as_str())], 200),
        (vec![("if-none-match", etag.as_str())], 304),
        (
            vec![("range", "bytes=0-0"), ("if-range", next_year.as_str())],
            200,
        ),
        (
            vec![("range", "bytes=0-0"), ("if-range", etag.as_str())],
            206,
        ),
    ] {
        let answer = s.get("/later.txt", &fields).await;
        assert_eq!(answer.status().as_u16(), expected, "{fields:?}");
        assert!(answer.headers().get("last-modified").is_none());
    }
}

/// A file dated before 1970 has no Last-Modified either (stating 1970 would be false), and
/// its listing entry says its real date.
#[tokio::test]
async fn a_file_dated_before_1970_is_not_said_to_be_of_1970() {
    let s = site().await;
    write(&s.root, "old/1960.txt", "sixties");
    std::fs::File::options()
        .write(true)
        .open(s.root.join("old/1960.txt"))
        .unwrap()
        .set_modified(SystemTime::UNIX_EPOCH - Duration::from_secs(315_619_200))
        .unwrap();
    let answer = s.get("/old/1960.txt", &[]).await;
    assert_eq!(answer.status().as_u16(), 200);
    assert!(
        answer.headers().get("last-modified").is_none(),
        "{answer:?}"
    );
    let listing = s.get("/old/", &[("accept", "application/json")]).await;
    let listing = listing.text().await.unwrap();
    assert!(
        listing.contains("\"modified\":\"1960-01-01T00:00:00Z\""),
        "{listing}"
    );
}

/// RFC 9110 §13.1.5: an If-Range date that is not a strong validator (§8.8.2.2) is false. A
/// Last-Modified naming the current second is weak: the file may change again within it, so
/// the range is not sent (on the first answer and on the cached one).
#[tokio::test]
async fn if_range_date_of_a_file_changed_this_second_sends_the_whole_file() {
    let s = site().await;
    let c = client();
    // Start at the beginning of a second, so the requests below fall within it.
    let into = SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    tokio::time::sleep(Duration::from_nanos(
        u64::from(1_000_000_000 - into) + 5_000_000,
    ))
    .await;
    let now = SystemTime::now();
    write(&s.root, "fresh.txt", "0123456789");
    std::fs::File::options()
        .write(true)
        .open(s.root.join("fresh.txt"))
        .unwrap()
        .set_modified(now)
        .unwrap();
    let lm = httpdate::fmt_http_date(now);
    for _ in 0..2 {
        let r = c
            .get(s.url("/fresh.txt"))
            .header("range", "bytes=0-0")
            .header("if-range", &lm)
            .send()
            .await
            .unwrap();
        let still_same_second = httpdate::fmt_http_date(SystemTime::now()) == lm;
        let status = r.status().as_u16();
        let body = r.text().await.unwrap();
        if still_same_second {
            assert_eq!(status, 200, "If-Range: {lm}");
            assert_eq!(body, "0123456789");
        }
    }
}

/// A file that shrinks while it is being sent must not end in a "complete" short body.
#[tokio::test]
async fn a_file_shrinking_mid_download_never_gives_a_short_complete_body() {
    let size = 16 * 1024 * 1024;
    let s = TestServer::start(|root| write(root, "big.bin", vec![1u8; size])).await;
    let path = s.root.join("big.bin");
    let addr = s.addr;
    let received = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(crate::support::IO_TIMEOUT))
            .unwrap();
        stream
            .write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        let mut first = vec![0u8; 4096];
        let n = read_some(&mut stream, &mut first);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(1024)
            .unwrap();
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest);
        let all = [&first[..n], &rest[..]].concat();
        let (head, body) = split_head(&all);
        assert_eq!(
            head_value(&head, "content-length"),
            Some(&*size.to_string())
        );
        body.len()
    })
    .await
    .unwrap();
    assert!(received < size, "the connection is cut, not padded");
}

/// A file that grows while it is being sent yields exactly the promised length.
#[tokio::test]
async fn a_file_growing_mid_download_yields_exactly_content_length() {
    let size = 8 * 1024 * 1024;
    let s = TestServer::start(|root| write(root, "grow.bin", vec![2u8; size])).await;
    let path = s.root.join("grow.bin");
    let mut r = s.get("/grow.bin", &[]).await;
    assert_eq!(r.content_length(), Some(size as u64));
    let mut got = r.chunk().await.unwrap().map_or(0, |c| c.len());
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(&vec![3u8; 1024 * 1024]).unwrap();
    }
    while let Some(chunk) = r.chunk().await.unwrap() {
        got += chunk.len();
    }
    assert_eq!(got, size);
}
