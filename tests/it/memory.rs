//! Bounded memory: a 10 GiB file is streamed by the `usher` process while its peak resident
//! memory stays within a few tens of MiB.

use std::io::Write;
use std::net::TcpStream;

use crate::support::{IO_TIMEOUT, peak_rss_kib, read_some, split_head, start};

/// The file served: 10 GiB, sparse so the test needs no disk space.
const FILE_SIZE: u64 = 10 * 1024 * 1024 * 1024;

/// The most the server's peak RSS may reach while sending it.
const RSS_LIMIT_KIB: u64 = 64 * 1024;

#[test]
fn a_10_gib_file_streams_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let file = std::fs::File::create(dir.path().join("huge.bin")).unwrap();
    file.set_len(FILE_SIZE).unwrap();
    let p = start(&["serve", dir.path().to_str().unwrap(), "-l", "127.0.0.1:0"]);
    let mut s = TcpStream::connect(p.addrs[0]).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.write_all(b"GET /huge.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let n = read_some(&mut s, &mut buf);
    let (head, first) = split_head(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let mut total = first.len() as u64;
    loop {
        match read_some(&mut s, &mut buf) {
            0 => break,
            n => total += n as u64,
        }
    }
    assert_eq!(total, FILE_SIZE);
    let peak = peak_rss_kib(p.pid());
    assert!(
        peak < RSS_LIMIT_KIB,
        "peak RSS {peak} KiB while serving 10 GiB"
    );
}

/// usher runs with transparent huge pages off: with them its heap (mimalloc asks for them)
/// grew by whole 2 MiB pages, so a few idle connections more could cost 2 MiB (row g of
/// `bench/compare.sh`). The kernel says so in the process's status (Linux 6.x); an older
/// kernel without the line is not asked.
#[test]
fn the_server_runs_without_transparent_huge_pages() {
    let dir = tempfile::tempdir().unwrap();
    let p = start(&["serve", dir.path().to_str().unwrap(), "-l", "127.0.0.1:0"]);
    let status = std::fs::read_to_string(format!("/proc/{}/status", p.pid())).unwrap();
    if let Some(line) = status.lines().find(|l| l.starts_with("THP_enabled:")) {
        assert_eq!(line.split_whitespace().nth(1), Some("0"), "{line}");
    }
}
