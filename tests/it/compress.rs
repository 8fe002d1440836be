//! Compression on the way out (`--compress`, a route's `compress`): text-like answers of any
//! responder go out in zstd, br or gzip to a client whose Accept-Encoding takes one, and as
//! they are everywhere else, checked with curl's decoders, raw bytes and an HTTP/2 client.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use crate::support::{
    Process, curl, exchange, explain, head_value, read_some, readme_toml_blocks, split_head, start,
    write,
};

/// A page that compresses well, 6 KiB of it.
fn page() -> String {
    "<p>usher compresses what is worth compressing.</p>\n".repeat(120)
}

/// A site of a page, a stylesheet, an image, a short note and a JSON document.
fn fill(dir: &Path) {
    write(dir, "page.html", page());
    write(dir, "style.css", "p { margin: 0 }\n".repeat(100));
    // Not text: compressed already, whatever its bytes.
    write(dir, "logo.png", "PNG-ISH ".repeat(600));
    write(dir, "note.txt", "short\n");
    write(dir, "data.json", format!("[{}1]", "1, ".repeat(400)));
}

/// `usher DIR --compress` on a fresh site.
fn serve() -> (Process, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path());
    let root = dir.path().to_str().unwrap().to_owned();
    let p = start(&[&root, "-l", "127.0.0.1:0", "--compress"]);
    (p, dir)
}

/// One exchange: the head as text and the body as bytes, chunked framing removed.
fn get(addr: SocketAddr, method: &str, target: &str, fields: &str) -> (String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let request =
        format!("{method} {target} HTTP/1.1\r\nHost: x\r\n{fields}Connection: close\r\n\r\n");
    s.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let (head, body) = split_head(&out);
    let body = if head_value(&head, "transfer-encoding") == Some("chunked") {
        dechunk(body)
    } else {
        body.to_vec()
    };
    (head, body)
}

/// The content of a chunked body (its chunks, joined).
fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("size line");
        let size = std::str::from_utf8(&rest[..line_end]).unwrap();
        let n = usize::from_str_radix(size.trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        let data = &rest[line_end + 2..];
        out.extend_from_slice(&data[..n]);
        rest = &data[n + 2..];
    }
}

/// `bytes` decoded from `coding`, as far as they go (a stream may be cut after a flush).
fn decode(coding: &str, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let mut drain = |r: &mut dyn std::io::Read| {
        while let Ok(n @ 1..) = r.read(&mut buf) {
            out.extend_from_slice(&buf[..n]);
        }
    };
    match coding {
        "gzip" => drain(&mut flate2::read::GzDecoder::new(bytes)),
        "br" => drain(&mut brotli::Decompressor::new(bytes, 4096)),
        "zstd" => drain(&mut zstd::stream::read::Decoder::new(bytes).unwrap()),
        other => panic!("no decoder for {other}"),
    }
    out
}

/// curl with its own decoders, and only `coding` offered: the page arrives whole and the
/// answer names that coding.
#[tokio::test]
async fn curl_decodes_each_coding_to_the_page() {
    let (p, _dir) = serve();
    let url = format!("http://{}/page.html", p.addrs[0]);
    for coding in ["gzip", "br", "zstd"] {
        for version in ["--http1.1", "--http2-prior-knowledge"] {
            let accept = format!("Accept-Encoding: {coding}");
            let out = curl(&[version, "--compressed", "-H", &accept, "-D", "-", &url]).await;
            assert!(out.ok, "{coding} {version}: {}", out.stderr);
            let text = String::from_utf8_lossy(&out.stdout);
            let (head, body) = text.split_once("\r\n\r\n").unwrap();
            assert_eq!(body, page(), "{coding} {version}");
            let head = head.to_ascii_lowercase();
            assert!(
                head.contains(&format!("content-encoding: {coding}")),
                "{coding} {version}: {head}"
            );
        }
    }
}

/// The fields of a compressed answer: the coding, no length, no ranges, a weak validator,
/// `Vary`; an uncompressed answer of the same file keeps its length and strong validator and
/// still says `Vary`. The bytes decode to the file.
#[test]
fn a_compressed_answer_says_what_changed() {
    let (p, _dir) = serve();
    let addr = p.addrs[0];
    let (plain, body) = get(addr, "GET", "/page.html", "");
    assert!(plain.starts_with("HTTP/1.1 200 "), "{plain}");
    assert_eq!(body, page().as_bytes());
    assert_eq!(head_value(&plain, "content-encoding"), None);
    assert_eq!(head_value(&plain, "vary"), Some("Accept-Encoding"));
    assert_eq!(
        head_value(&plain, "content-length"),
        Some(page().len().to_string().as_str())
    );
    let strong = head_value(&plain, "etag").unwrap().to_owned();
    assert!(strong.starts_with('"'), "{strong}");

    let (head, body) = get(addr, "GET", "/page.html", "Accept-Encoding: gzip, br\r\n");
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    // Equal weights: usher's order, br before gzip.
    assert_eq!(head_value(&head, "content-encoding"), Some("br"));
    // A page the file cache holds is compressed once, and sent whole, with its length.
    assert_eq!(
        head_value(&head, "content-length"),
        Some(body.len().to_string().as_str())
    );
    assert_eq!(head_value(&head, "accept-ranges"), None);
    assert_eq!(head_value(&head, "vary"), Some("Accept-Encoding"));
    assert_eq!(
        head_value(&head, "etag"),
        Some(format!("W/{strong}").as_str())
    );
    assert!(
        head_value(&head, "content-type").is_some_and(|t| t.starts_with("text/html")),
        "{head}"
    );
    assert!(body.len() < page().len() / 10, "{} bytes", body.len());
    assert_eq!(decode("br", &body), page().as_bytes());

    // HEAD: the GET's fields, no length (a GET's is not known), no content.
    let (head, body) = get(addr, "HEAD", "/page.html", "Accept-Encoding: gzip\r\n");
    assert_eq!(
        head_value(&head, "content-encoding"),
        Some("gzip"),
        "{head}"
    );
    assert_eq!(head_value(&head, "content-length"), None, "{head}");
    assert!(body.is_empty());

    // The weak validator revalidates (weak comparison), for either form.
    let weak = format!("If-None-Match: W/{strong}\r\n");
    let (head, _) = get(
        addr,
        "GET",
        "/page.html",
        &format!("Accept-Encoding: gzip\r\n{weak}"),
    );
    assert!(head.starts_with("HTTP/1.1 304 "), "{head}");
    // With the fields its 200 would have (RFC 9110 §15.4.5): a cache updating its gzip copy
    // keeps a weak tag and its Vary.
    assert_eq!(head_value(&head, "vary"), Some("Accept-Encoding"), "{head}");
    let weak_tag = format!("W/{strong}");
    assert_eq!(head_value(&head, "etag"), Some(weak_tag.as_str()), "{head}");
    // A client that takes no coding revalidates its plain copy: the strong tag, and Vary.
    let (head, _) = get(
        addr,
        "GET",
        "/page.html",
        &format!("If-None-Match: {strong}\r\n"),
    );
    assert!(head.starts_with("HTTP/1.1 304 "), "{head}");
    assert_eq!(head_value(&head, "vary"), Some("Accept-Encoding"), "{head}");
    assert_eq!(head_value(&head, "etag"), Some(strong.as_str()), "{head}");

    // A range is of the identity bytes, with or without a coding taken.
    let (head, body) = get(
        addr,
        "GET",
        "/page.html",
        "Accept-Encoding: gzip\r\nRange: bytes=0-9\r\n",
    );
    assert!(head.starts_with("HTTP/1.1 206 "), "{head}");
    assert_eq!(head_value(&head, "content-encoding"), None);
    // RFC 9110 §15.3.7: the Vary its 200 would carry.
    assert_eq!(head_value(&head, "vary"), Some("Accept-Encoding"), "{head}");
    assert_eq!(body, &page().as_bytes()[..10]);
    // If-Range with the weak validator never matches: the whole answer, not a slice of
    // bytes the client does not have.
    let (head, _) = get(
        addr,
        "GET",
        "/page.html",
        &format!("Range: bytes=0-9\r\nIf-Range: W/{strong}\r\n"),
    );
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
}

/// A file too large for the file cache's memory is compressed as it is read, chunked; a
/// page the cache holds is compressed once, and a change to it is seen as soon as without
/// compression (the cache's bound, 1 s).
#[test]
fn large_files_stream_and_changed_pages_are_seen() {
    let (p, dir) = serve();
    let addr = p.addrs[0];
    let large = page().repeat(40);
    write(dir.path(), "large.html", &large);
    let (head, body) = get(addr, "GET", "/large.html", "Accept-Encoding: zstd\r\n");
    assert_eq!(
        head_value(&head, "content-encoding"),
        Some("zstd"),
        "{head}"
    );
    assert_eq!(
        head_value(&head, "transfer-encoding"),
        Some("chunked"),
        "{head}"
    );
    assert_eq!(decode("zstd", &body), large.as_bytes());

    let gzip = "Accept-Encoding: gzip\r\n";
    // A page the cache holds but sends from the open file (above 16 KiB) is compressed once
    // too, from the bytes the cache holds.
    let mid = page().repeat(14);
    write(dir.path(), "mid.html", &mid);
    let mut lengths = Vec::new();
    for _ in 0..3 {
        let (head, body) = get(addr, "GET", "/mid.html", gzip);
        assert!(decode("gzip", &body) == mid.as_bytes(), "mid.html decodes");
        lengths.push(head_value(&head, "content-length").map(str::to_owned));
    }
    assert!(lengths[2].is_some(), "{lengths:?}");
    // One whose compressed form is large (hex digits: gzip halves them) is sent from the
    // cache's memory file, over HTTP/1.1 and HTTP/2 alike.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let hex: String = (0..12_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            format!("{:08x}", state as u32)
        })
        .collect();
    write(dir.path(), "hex.txt", &hex);
    for _ in 0..3 {
        let (head, body) = get(addr, "GET", "/hex.txt", gzip);
        assert!(decode("gzip", &body) == hex.as_bytes(), "hex.txt decodes");
        lengths.push(head_value(&head, "content-length").map(str::to_owned));
    }
    let length: usize = lengths[5].as_deref().expect("a length").parse().unwrap();
    assert!(length > 16 * 1024 && length < hex.len(), "{length}");
    let url = format!("http://{addr}/hex.txt");
    for version in ["--http1.1", "--http2-prior-knowledge"] {
        let out = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(curl(&[
                version,
                "--compressed",
                "-H",
                "Accept-Encoding: gzip",
                &url,
            ]));
        assert!(
            out.ok && out.stdout == hex.as_bytes(),
            "{version}: {}",
            out.stderr
        );
    }
    for _ in 0..2 {
        let (_, body) = get(addr, "GET", "/page.html", gzip);
        assert_eq!(decode("gzip", &body), page().as_bytes());
    }
    let changed = page().replace("worth", "WORTH");
    write(dir.path(), "page.html", &changed);
    let seen = crate::support::within(std::time::Duration::from_secs(5), || {
        let (_, body) = get(addr, "GET", "/page.html", gzip);
        decode("gzip", &body) == changed.as_bytes()
    });
    assert!(seen, "the changed page never came");
    // And it stays: the answers the file cache makes from now on, compressed once.
    for _ in 0..3 {
        let (head, body) = get(addr, "GET", "/page.html", gzip);
        assert!(decode("gzip", &body) == changed.as_bytes(), "a stale page");
        assert!(head_value(&head, "content-length").is_some(), "{head}");
    }
}

/// Weights decide, a refused coding is never sent, and what is not worth compressing (an
/// image, a short note) goes as it is, without `Vary`.
#[test]
fn only_text_worth_it_for_a_coding_the_client_takes() {
    let (p, _dir) = serve();
    let addr = p.addrs[0];
    let coding_of = |target: &str, accept: &str| {
        let (head, body) = get(
            addr,
            "GET",
            target,
            &format!("Accept-Encoding: {accept}\r\n"),
        );
        assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
        let coding = head_value(&head, "content-encoding").map(str::to_owned);
        let vary = head_value(&head, "vary").map(str::to_owned);
        (coding, vary, body)
    };
    let (coding, _, body) = coding_of("/style.css", "gzip;q=1, br;q=0.5, zstd;q=0.1");
    assert_eq!(coding.as_deref(), Some("gzip"));
    assert_eq!(
        decode("gzip", &body),
        "p { margin: 0 }\n".repeat(100).as_bytes()
    );
    let (coding, _, body) = coding_of("/data.json", "zstd");
    assert_eq!(coding.as_deref(), Some("zstd"));
    assert!(decode("zstd", &body).starts_with(b"[1, 1, "));
    let (coding, vary, _) = coding_of("/page.html", "gzip;q=0, br;q=0, zstd;q=0, *;q=0");
    assert_eq!((coding, vary.as_deref()), (None, Some("Accept-Encoding")));
    let (coding, vary, _) = coding_of("/page.html", "deflate, identity");
    assert_eq!((coding, vary.as_deref()), (None, Some("Accept-Encoding")));
    for target in ["/logo.png", "/note.txt"] {
        let (coding, vary, _) = coding_of(target, "gzip, br, zstd");
        assert_eq!((coding, vary), (None, None), "{target}");
        // HEAD gets what GET gets.
        let (head, _) = get(addr, "HEAD", target, "Accept-Encoding: gzip\r\n");
        assert_eq!(
            head_value(&head, "content-encoding"),
            None,
            "{target}: {head}"
        );
        assert!(
            head_value(&head, "content-length").is_some(),
            "{target}: {head}"
        );
    }
}

/// Routes from a config file: one compresses with gzip only, one not at all (whatever
/// `--compress` says), a program's output is compressed as it is written, and a field
/// `Cache-Control: no-transform` keeps an answer as it is.
const CONFIG: &str = r#"
[server]
listen = ["127.0.0.1:0"]

[[site]]
root = "public"

[[site.route]]
path = "/gz/"
files = {}
compress = ["gzip"]

[[site.route]]
path = "/raw/"
files = {}
compress = false

[[site.route]]
path = "/kept/"
files = {}
compress = true
header-rules = [ { match = "*.html", set = { "Cache-Control" = "no-transform" } } ]

[[site.route]]
path = "/cgi-bin/"
cgi = { dir = "cgi-bin" }
compress = true
"#;

/// The program behind `/cgi-bin/slow.py`: a line, then a wait for `marker`, then another.
fn slow_program(python: &str, marker: &Path) -> String {
    format!(
        r#"#!{python}
import os, sys, time
sys.stdout.write("Content-Type: text/event-stream\n\n")
sys.stdout.write("data: first\n\n")
sys.stdout.flush()
for _ in range(2000):
    if os.path.exists({marker:?}):
        break
    time.sleep(0.01)
sys.stdout.write("data: second\n\n")
"#,
        marker = marker.display().to_string()
    )
}

fn serve_config(marker: &Path) -> (Process, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for sub in ["gz", "raw", "kept"] {
        write(d, &format!("public/{sub}/page.html"), page());
    }
    let python = String::from_utf8(
        std::process::Command::new("sh")
            .args(["-c", "command -v python3"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let program = d.join("cgi-bin/slow.py");
    write(d, "cgi-bin/slow.py", slow_program(python.trim(), marker));
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    write(d, "usher.toml", CONFIG);
    let config = d.join("usher.toml").display().to_string();
    let p = start(&["-c", &config, "--compress"]);
    (p, dir)
}

#[test]
fn each_route_says_how_it_compresses() {
    let marker_dir = tempfile::tempdir().unwrap();
    let (p, dir) = serve_config(&marker_dir.path().join("go"));
    let addr = p.addrs[0];
    let all = "Accept-Encoding: zstd, br, gzip\r\n";
    let (head, body) = get(addr, "GET", "/gz/page.html", all);
    assert_eq!(
        head_value(&head, "content-encoding"),
        Some("gzip"),
        "{head}"
    );
    assert_eq!(decode("gzip", &body), page().as_bytes());
    let (head, _) = get(addr, "GET", "/gz/page.html", "Accept-Encoding: br\r\n");
    assert_eq!(head_value(&head, "content-encoding"), None, "{head}");
    assert_eq!(head_value(&head, "vary"), Some("Accept-Encoding"));
    // `compress = false` holds against `--compress`.
    let (head, body) = get(addr, "GET", "/raw/page.html", all);
    assert_eq!(head_value(&head, "content-encoding"), None, "{head}");
    assert_eq!(head_value(&head, "vary"), None, "{head}");
    assert_eq!(body, page().as_bytes());
    let (head, body) = get(addr, "GET", "/kept/page.html", all);
    assert_eq!(head_value(&head, "content-encoding"), None, "{head}");
    assert_eq!(body, page().as_bytes());

    let explained = explain(
        dir.path(),
        &["GET", "/gz/page.html", "-H", "Accept-Encoding: br, gzip"],
    );
    assert!(
        explained
            .contains("compress: gzip for text-like answers; this request's text answers in gzip"),
        "{explained}"
    );
}

/// A program's output reaches the client as it is written, compressed: the first event
/// decodes while the program still waits, as it would uncompressed.
#[test]
fn a_programs_output_is_compressed_as_it_is_written() {
    let marker_dir = tempfile::tempdir().unwrap();
    let marker = marker_dir.path().join("go");
    let (p, _dir) = serve_config(&marker);
    let mut s = TcpStream::connect(p.addrs[0]).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    s.write_all(
        b"GET /cgi-bin/slow.py HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    // Until the first event decodes from what arrived (chunks may be cut anywhere).
    let decoded = |got: &[u8]| {
        if !got.windows(4).any(|w| w == b"\r\n\r\n") {
            return Vec::new();
        }
        let (_, body) = split_head(got);
        decode("gzip", &dechunk_partial(body))
    };
    while !decoded(&got).ends_with(b"data: first\n\n") {
        let n = read_some(&mut s, &mut buf);
        assert!(n > 0, "closed before the first event: {got:?}");
        got.extend_from_slice(&buf[..n]);
    }
    let (head, _) = split_head(&got);
    assert_eq!(
        head_value(&head, "content-encoding"),
        Some("gzip"),
        "{head}"
    );
    std::fs::write(&marker, "").unwrap();
    s.read_to_end(&mut got).unwrap();
    let (_, body) = split_head(&got);
    assert_eq!(
        decode("gzip", &dechunk(body)),
        b"data: first\n\ndata: second\n\n"
    );
}

/// The chunks of a chunked body that have arrived whole.
fn dechunk_partial(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = rest.windows(2).position(|w| w == b"\r\n") {
        let Ok(n) = usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).unwrap(), 16)
        else {
            break;
        };
        let data = &rest[line_end + 2..];
        if n == 0 || data.len() < n + 2 {
            break;
        }
        out.extend_from_slice(&data[..n]);
        rest = &data[n + 2..];
    }
    out
}

/// The README's compression examples are valid configuration.
#[test]
fn the_readme_compression_examples_are_valid() {
    let blocks = readme_toml_blocks("Compression");
    assert!(!blocks.is_empty(), "no toml blocks under Compression");
    for block in blocks {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "public/index.html", "home");
        let config = format!("[[site]]\nroot = \"public\"\n\n{block}");
        write(dir.path(), "usher.toml", &config);
        let checked = crate::support::check(&dir.path().join("usher.toml"));
        assert!(checked.is_ok(), "{config}\n{checked:?}");
    }
}

/// Without `--compress` or a route's `compress`, nothing is compressed and nothing varies.
#[test]
fn off_by_default() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path());
    let p = start(&[dir.path().to_str().unwrap(), "-l", "127.0.0.1:0"]);
    let (head, body) = exchange(
        p.addrs[0],
        "GET /page.html HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip, br, zstd\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(head_value(&head, "content-encoding"), None, "{head}");
    assert_eq!(head_value(&head, "vary"), None, "{head}");
    assert_eq!(body, page());
}

/// Compressing a large answer does not hold the thread's other connections: with one worker,
/// a small file asked for while a large one is being compressed (and read as fast as it
/// comes) is answered before the large one ends.
#[test]
fn compressing_leaves_the_thread_to_other_connections() {
    let dir = tempfile::tempdir().unwrap();
    // 32 MB of words drawn from 4096 made-up ones: gzip takes a good fraction of a second
    // over it, and gives a frame every few pieces.
    let mut state = 0x853c_49e6_748f_ea9b_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let words: Vec<String> = (0..4096)
        .map(|_| format!("{:x}", next() % 0xff_ffff))
        .collect();
    let mut text = String::with_capacity(32 << 20);
    while text.len() < 32 << 20 {
        let n = next();
        text.push_str(&words[(n % 4096) as usize]);
        text.push(if n % 11 == 0 { '\n' } else { ' ' });
    }
    write(dir.path(), "large.txt", &text);
    write(dir.path(), "tiny.txt", "tiny\n");
    let root = dir.path().to_str().unwrap();
    let p = start(&[root, "-l", "127.0.0.1:0", "--compress", "--workers", "1"]);
    let addr = p.addrs[0];
    // Once through, so its pages are in memory and read on the thread itself (a read that
    // waits would let other connections run anyway).
    let (_, body) = get(addr, "GET", "/large.txt", "");
    assert_eq!(body.len(), text.len());
    let mut large = TcpStream::connect(addr).unwrap();
    large
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    large
        .write_all(b"GET /large.txt HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n")
        .unwrap();
    // The large answer has begun; a reader takes the rest as fast as it comes.
    let mut buf = vec![0u8; 64 * 1024];
    assert!(read_some(&mut large, &mut buf) > 0);
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut rest = Vec::new();
        let _ = large.read_to_end(&mut rest);
        let _ = done_tx.send(());
        rest.len()
    });
    let (head, body) = get(addr, "GET", "/tiny.txt", "");
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert_eq!(body, b"tiny\n");
    assert!(
        done_rx.try_recv().is_err(),
        "the small answer waited for the large one to end"
    );
    assert!(reader.join().unwrap() > 0);
}

/// A kept compressed form is repeated by the express lane as the answer it replaces is: the
/// same bytes on one keep-alive connection, and, for a page sent from the open file (over 16
/// KiB), the new page at once after a change in place, with the cache's bound far off. Both
/// forms: one in memory (the page) and one in the memory file (hex digits).
#[tokio::test]
async fn kept_forms_are_repeated_until_the_file_changes() {
    let hex = hex_text(8_000);
    let s = crate::support::TestServer::start_with(
        |root| {
            write(root, "mid.html", page().repeat(14));
            write(root, "hex.txt", &hex);
        },
        |c| {
            c.compress = true;
            c.workers = 1;
            c.files.revalidate_after = std::time::Duration::from_secs(600);
        },
    )
    .await;
    let (addr, root) = (s.addr, s.root.clone());
    tokio::task::spawn_blocking(move || {
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        for (name, original, changed) in [
            (
                "mid.html",
                page().repeat(14),
                page().repeat(14).replace("usher", "USHER"),
            ),
            ("hex.txt", hex.clone(), hex.to_uppercase()),
        ] {
            let request =
                format!("GET /{name} HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n");
            let answers: Vec<_> = (0..5).map(|_| ask(&mut c, &request)).collect();
            for (head, body) in &answers {
                assert_eq!(head_value(head, "content-encoding"), Some("gzip"), "{head}");
                assert!(
                    decode("gzip", body) == original.as_bytes(),
                    "{name} decodes"
                );
            }
            let without_date = |head: &str| -> Vec<String> {
                let lines = head.lines().filter(|l| !l.starts_with("date:"));
                lines.map(str::to_owned).collect()
            };
            assert_eq!(without_date(&answers[3].0), without_date(&answers[4].0));
            assert!(head_value(&answers[4].0, "content-length").is_some());
            // The same length, in place: only the file's times and bytes tell.
            write(&root, name, &changed);
            let (_, body) = ask(&mut c, &request);
            assert!(decode("gzip", &body) == changed.as_bytes(), "{name}: stale");
        }
    })
    .await
    .unwrap();
}

/// `count` words of eight hex digits, which gzip halves at best.
fn hex_text(count: usize) -> String {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    (0..count)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            format!("{:08x}", state as u32)
        })
        .collect()
}

/// One exchange on a kept-alive connection: head and body (framed by `Content-Length`, or
/// chunked: the first answers, before the file cache holds the page).
fn ask(c: &mut TcpStream, request: &str) -> (String, Vec<u8>) {
    c.write_all(request.as_bytes()).unwrap();
    let mut got = Vec::new();
    let mut more = |got: &mut Vec<u8>| {
        let mut buf = [0u8; 64 * 1024];
        let n = read_some(c, &mut buf);
        assert!(n > 0, "closed mid-answer");
        got.extend_from_slice(&buf[..n]);
    };
    let end = loop {
        if let Some(at) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        more(&mut got);
    };
    let head = String::from_utf8(got[..end].to_vec()).unwrap();
    let Some(length) = head_value(&head, "content-length") else {
        // Chunk by chunk until the last (no trailers here).
        let mut at = end;
        loop {
            let line = loop {
                if let Some(n) = got[at..].windows(2).position(|w| w == b"\r\n") {
                    break n;
                }
                more(&mut got);
            };
            let size = std::str::from_utf8(&got[at..at + line]).unwrap();
            let size = usize::from_str_radix(size, 16).unwrap();
            at += line + 2 + size + 2;
            while got.len() < at {
                more(&mut got);
            }
            if size == 0 {
                assert_eq!(got.len(), at, "nothing past the answer");
                return (head, dechunk(&got[end..]));
            }
        }
    };
    let length: usize = length.parse().unwrap();
    while got.len() < end + length {
        more(&mut got);
    }
    assert_eq!(got.len(), end + length, "nothing past the answer");
    (head, got[end..].to_vec())
}

/// The answer of the request that finds the file cache's entry due for its check, and the
/// file unchanged, is the entry's own: the kept compressed form, with its length, not the
/// page compressed again as it streams from the file the check opened.
#[tokio::test]
async fn a_checked_entry_answers_with_its_kept_form() {
    let bound = std::time::Duration::from_millis(30);
    let s = crate::support::TestServer::start_with(
        |root| write(root, "mid.html", page().repeat(14)),
        |c| {
            c.compress = true;
            c.files.revalidate_after = bound;
        },
    )
    .await;
    let addr = s.addr;
    tokio::task::spawn_blocking(move || {
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let request = "GET /mid.html HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n";
        // The first answers come before the cache holds the page.
        for _ in 0..3 {
            ask(&mut c, request);
        }
        for round in 0..4 {
            // Each past the bound: its entry is checked first.
            std::thread::sleep(bound * 2);
            let (head, body) = ask(&mut c, request);
            assert!(decode("gzip", &body) == page().repeat(14).as_bytes());
            assert!(
                head_value(&head, "content-length").is_some(),
                "round {round}: compressed again: {head}"
            );
        }
    })
    .await
    .unwrap();
}
