//! Bounded memory: a 10 GiB file is streamed by the `usher` process while its peak resident
//! memory stays within a few tens of MiB; HTTP/2 streams held open by a client that grants
//! no window take at most half the open files usher may have.

use std::io::Write;
use std::net::TcpStream;
use std::process::Command;

use crate::support::{
    IO_TIMEOUT, peak_rss_kib, read_some, split_head, start, start_command, usher,
};

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

/// Clients that open HTTP/2 streams for a large file and grant no window (RFC 9113 §6.9)
/// hold each file open: past half of usher's open file limit (here 600), new streams get
/// 503 at once instead of descriptors, and the places come back when the clients leave.
#[tokio::test]
async fn stalled_http2_streams_take_at_most_half_the_open_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("big.bin"), vec![b'b'; 1 << 20]).unwrap();
    std::fs::write(dir.path().join("small.txt"), "small").unwrap();
    let mut cmd = Command::new("prlimit");
    cmd.arg("--nofile=600:600")
        .arg(usher().get_program())
        .args(["serve", dir.path().to_str().unwrap(), "-l", "127.0.0.1:0"]);
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let p = start_command(cmd);
    let addr = p.addrs[0];
    // A connection whose peer grants no window: answers' heads arrive, their data cannot.
    let stalled = || async move {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (client, connection) = h2::client::Builder::new()
            .initial_window_size(0)
            .handshake::<_, bytes::Bytes>(tcp)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
    };
    let ask = |client: h2::client::SendRequest<bytes::Bytes>, path: &'static str| async move {
        let request = http::Request::get(format!("http://{addr}{path}"))
            .body(())
            .unwrap();
        let mut client = client.ready().await.unwrap();
        let (answer, _) = client.send_request(request, true).unwrap();
        let answer = answer.await.unwrap();
        (answer.status().as_u16(), answer)
    };
    let mut held = Vec::new();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let client = stalled().await;
        for _ in 0..128 {
            let (status, answer) = ask(client.clone(), "/big.bin").await;
            statuses.push(status);
            held.push(answer);
        }
    }
    let admitted = statuses.iter().filter(|&&s| s == 200).count();
    let refused = statuses.iter().filter(|&&s| s == 503).count();
    assert_eq!((admitted, refused), (300, 84), "half of 600 open files");
    // Anyone else's stream is refused too, at once, with a time to come back.
    let other = stalled().await;
    let (status, answer) = ask(other.clone(), "/big.bin").await;
    assert_eq!(status, 503);
    assert_eq!(answer.headers()["retry-after"], "1");
    // HTTP/1.1 is still served: it never waits on the streams' budget.
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.write_all(b"GET /small.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = read_some(&mut s, &mut buf);
    assert!(buf[..n].starts_with(b"HTTP/1.1 200 "));
    // The stalled clients leave: their places come back.
    drop(held);
    let mut status = 0;
    for _ in 0..100 {
        status = ask(other.clone(), "/big.bin").await.0;
        if status == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status, 200, "the places came back");
}
