//! The proxy with other peers: clients that leave mid-answer, HTTP/2 clients, a Unix-socket
//! upstream, a connection limit, and upgrades (tunnels) against scripted upstreams. Every
//! wait is bounded by [`IO_TIMEOUT`].

use std::io::{BufReader, Read};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use crate::proxy::{proxy, usher_for};
use crate::scripted::{Client, Conn, Scripted, target};
use crate::support::{IO_TIMEOUT, head_value};
use crate::upstream::App;

/// A client that leaves mid-download frees the upstream's connection, whether the upstream
/// keeps sending or trickles.
#[test]
fn a_client_leaving_mid_download_closes_the_upstreams_connection() {
    let (ended_tx, ended) = mpsc::channel();
    let ended_tx = Mutex::new(ended_tx);
    let up = Scripted::start(move |mut conn, _| {
        let Some(head) = conn.request(true) else {
            return;
        };
        let pause = match target(&head) {
            "/trickle" => Duration::from_millis(50),
            _ => Duration::ZERO,
        };
        conn.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        let chunk = format!("4000\r\n{}\r\n", "d".repeat(0x4000));
        let started = Instant::now();
        while started.elapsed() < IO_TIMEOUT && conn.send(&chunk) {
            std::thread::sleep(pause);
        }
        let _ = ended_tx
            .lock()
            .unwrap()
            .send(started.elapsed() < IO_TIMEOUT);
    });
    let (_dir, usher) = usher_for(up.addr, "");
    for target in ["/flood", "/trickle"] {
        let mut client = Client::connect(usher.addrs[0]);
        client.send(format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n"));
        let mut some = [0u8; 1024];
        client.r.read_exact(&mut some).unwrap();
        drop(client);
        assert_eq!(ended.recv_timeout(IO_TIMEOUT * 2), Ok(true), "{target}");
    }
}

/// Two slow requests with `max-connections = 1`: the second waits for the first's connection
/// and is answered on it; or, past `connect-timeout`, gets 503.
#[test]
fn max_connections_one_makes_the_second_request_wait_or_503() {
    for connect_timeout in ["10s", "300ms"] {
        let (got_tx, got) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let (got_tx, released) = (Mutex::new(got_tx), Mutex::new(released));
        let up = Scripted::start(move |mut conn, _| {
            while conn.request(true).is_some() {
                let _ = got_tx.lock().unwrap().send(());
                let go = released.lock().unwrap().recv_timeout(IO_TIMEOUT);
                if go.is_err() || !conn.ok("slow") {
                    return;
                }
            }
        });
        let extra = format!(r#", max-connections = 1, connect-timeout = "{connect_timeout}""#);
        let (_dir, usher) = usher_for(up.addr, &extra);
        let addr = usher.addrs[0];
        let ask = move || Client::connect(addr).ask("GET", "/slow").unwrap();
        let first = std::thread::spawn(ask);
        got.recv_timeout(IO_TIMEOUT)
            .expect("the first request arrives");
        let second = std::thread::spawn(ask);
        if connect_timeout == "300ms" {
            let second = second.join().unwrap();
            assert_eq!(second.status, 503, "{second:?}");
            assert!(second.field("retry-after").is_some());
            release.send(()).unwrap();
        } else {
            release.send(()).unwrap();
            got.recv_timeout(IO_TIMEOUT)
                .expect("the second request arrives");
            release.send(()).unwrap();
            assert_eq!(second.join().unwrap().text(), "slow");
        }
        assert_eq!(first.join().unwrap().text(), "slow");
        assert_eq!(
            up.accepted(),
            1,
            "{connect_timeout}: one connection at a time"
        );
    }
}

#[test]
fn a_unix_socket_upstream_serves_gets_and_posts() {
    use std::os::unix::net::UnixListener;
    let sockets = tempfile::tempdir().unwrap();
    let path = sockets.path().join("up.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            count.fetch_add(1, Ordering::SeqCst);
            conn.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
            std::thread::spawn(move || {
                let mut conn = Conn {
                    r: BufReader::new(conn),
                };
                while let Some(head) = conn.request(true) {
                    let line = head.lines().next().unwrap_or("").to_owned();
                    let host = head_value(&format!("x\r\n{head}"), "host")
                        .unwrap_or("")
                        .to_owned();
                    let length = head_value(&format!("x\r\n{head}"), "content-length")
                        .unwrap_or("-")
                        .to_owned();
                    conn.ok(&format!("{line} host={host} length={length}"));
                }
            });
        }
    });
    let (_dir, usher) = usher_for(format!("unix:{}", path.display()), "");
    let mut client = Client::connect(usher.addrs[0]);
    let answer = client.ask("GET", "/a?b=c").unwrap();
    assert_eq!(answer.text(), "GET /a?b=c HTTP/1.1 host=site.test length=-");
    client.send("POST /form HTTP/1.1\r\nHost: site.test\r\nContent-Length: 5\r\n\r\nhello");
    let answer = client.answer(false).unwrap();
    assert_eq!(answer.text(), "POST /form HTTP/1.1 host=site.test length=5");
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

/// An upstream named by host name (`localhost:PORT`, and in nginx's URL form) is resolved
/// when a connection opens; a redirect naming it by that name comes back as a path.
#[test]
fn an_upstream_named_by_host_name_is_resolved() {
    let app = App::start("named");
    let port = app.upstream().rsplit(':').next().unwrap().to_owned();
    for written in [
        format!("localhost:{port}"),
        format!("http://LocalHost:{port}/"),
    ] {
        let (_dir, usher) = usher_for(&written, "");
        let mut client = Client::connect(usher.addrs[0]);
        let answer = client.ask("GET", "/hello?x=1").unwrap();
        assert_eq!(answer.status, 200, "{written}");
        assert!(
            answer.text().starts_with("GET /hello?x=1 HTTP/1.1"),
            "{written}"
        );
        let own = format!("http://localhost:{port}/inside?y=2");
        let answer = client.ask("GET", &format!("/redirect?to={own}")).unwrap();
        assert_eq!(answer.status, 302);
        assert_eq!(answer.field("location"), Some("/inside?y=2"), "{written}");
    }
}

/// An HTTP/2 client (prior knowledge) through the proxy to an HTTP/1.1 upstream: GET, a
/// download, and POSTs with a length and without one (sent on chunked).
#[tokio::test]
async fn an_http2_client_gets_and_posts_through_the_proxy() {
    use bytes::Bytes;
    let app = App::start("h2");
    let dir = tempfile::tempdir().unwrap();
    let usher = proxy(
        dir.path(),
        "/",
        &format!(r#"upstreams = ["{}"]"#, app.upstream()),
    );
    let base = format!("http://{}", usher.addrs[0]);
    let client = crate::support::h2_client();
    let answer = client.get(format!("{base}/echo/x")).send().await.unwrap();
    assert_eq!(answer.version(), reqwest::Version::HTTP_2);
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["x-app"], "h2");
    let answer = client
        .get(format!("{base}/bytes?n=3000000"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.headers()["content-length"], "3000000");
    assert_eq!(answer.bytes().await.unwrap().len(), 3_000_000);
    let content = vec![3u8; 1 << 20];
    let answer = client
        .post(format!("{base}/upload"))
        .body(content)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer.text().await.unwrap(),
        format!("{} {}", 1 << 20, 3 << 20)
    );

    // No length: the h2 crate, sending DATA frames as they come.
    let io = tokio::net::TcpStream::connect(usher.addrs[0])
        .await
        .unwrap();
    let (h2, connection) = h2::client::handshake(io).await.unwrap();
    tokio::spawn(connection);
    let mut h2 = h2.ready().await.unwrap();
    let request = http::Request::post(format!("{base}/upload"))
        .body(())
        .unwrap();
    let (answer, mut out) = h2.send_request(request, false).unwrap();
    for piece in [&b"abc"[..], b"de"] {
        out.reserve_capacity(piece.len());
        out.send_data(Bytes::from_static(piece), false).unwrap();
    }
    out.send_data(Bytes::new(), true).unwrap();
    let answer = tokio::time::timeout(IO_TIMEOUT, answer)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer.status(), 200);
    let mut body = answer.into_body();
    let mut got = Vec::new();
    while let Some(data) = tokio::time::timeout(IO_TIMEOUT, body.data()).await.unwrap() {
        got.extend_from_slice(&data.unwrap());
    }
    let sum: u32 = b"abcde".iter().map(|&b| u32::from(b)).sum();
    assert_eq!(String::from_utf8(got).unwrap(), format!("5 {sum}"));
    let chunked = app
        .seen()
        .into_iter()
        .any(|s| s.one("transfer-encoding") == Some("chunked"));
    assert!(chunked, "the content of unknown length went on chunked");
}

/// An upgrade request with content, and an upstream that switches before reading it: the
/// content still goes first, then the tunnel.
#[test]
fn an_upgrade_with_content_answered_before_the_content_is_read() {
    let (got_tx, got) = mpsc::channel();
    let got_tx = Mutex::new(got_tx);
    let up = Scripted::start(move |mut conn, _| {
        if conn.request(false).is_none() {
            return;
        }
        conn.send(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: upgrade\r\n\r\n",
        );
        let _ = got_tx.lock().unwrap().send(());
        let mut content = [0u8; 5];
        if conn.r.read_exact(&mut content).is_err() || &content != b"hello" {
            return;
        }
        let mut buf = [0u8; 1024];
        while let Ok(n @ 1..) = conn.r.read(&mut buf) {
            if !conn.send(&buf[..n]) {
                return;
            }
        }
    });
    let (_dir, usher) = usher_for(up.addr, "");
    let mut client = Client::connect(usher.addrs[0]);
    client.send("GET /up HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: upgrade\r\nContent-Length: 5\r\n\r\n");
    got.recv_timeout(IO_TIMEOUT).expect("the upstream switched");
    client.send("hello");
    let answer = client.answer(true).unwrap();
    assert_eq!(answer.status, 101, "{answer:?}");
    client.send("ping");
    let mut echo = [0u8; 4];
    client.r.read_exact(&mut echo).unwrap();
    assert_eq!(&echo, b"ping");
}

/// A client that leaves a tunnel whose upstream never closes its side: the half-open tunnel
/// ends after the idle timeout, and frees its connection (here the only one allowed).
#[test]
fn a_tunnel_the_upstream_never_closes_ends_once_the_client_has_left() {
    let (done, held) = mpsc::channel::<()>();
    let held = Mutex::new(held);
    let up = Scripted::start(move |mut conn, _| {
        while let Some(head) = conn.request(true) {
            if target(&head) != "/up" {
                conn.ok("plain");
                continue;
            }
            conn.send(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: upgrade\r\n\r\n",
            );
            let _ = conn.closed_by_usher(); // usher passes the client's close on...
            let _ = held.lock().unwrap().recv_timeout(IO_TIMEOUT); // ...this side never closes
            return;
        }
    });
    let extra = r#", max-connections = 1, connect-timeout = "5s", idle-timeout = "500ms""#;
    let (_dir, usher) = usher_for(up.addr, extra);
    let mut client = Client::connect(usher.addrs[0]);
    client.send("GET /up HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: upgrade\r\n\r\n");
    assert_eq!(client.answer(true).unwrap().status, 101);
    drop(client);
    let answer = Client::connect(usher.addrs[0])
        .ask("GET", "/plain")
        .unwrap();
    assert_eq!((answer.status, answer.text().as_str()), (200, "plain"));
    drop(done);
}
