//! The FastCGI client against small fake applications: pooling, refusals, failover and
//! timeouts. The scripted peer in `peer_tests` covers the protocol's edge cases.

use http_body_util::BodyExt as _;
use tokio::net::UnixListener;

use super::*;
use crate::handlers::fastcgi::{FastCgiOptions, Upstream};

/// A fake application on a temp Unix socket: for one connection, reads the request up to
/// the end of FCGI_STDIN, then writes `answer` and keeps the connection open.
async fn fake(answer: Vec<u8>) -> (tempfile::TempDir, FastCgi) {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("app.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.unwrap();
        let mut decoder = RecordDecoder::from_client();
        let mut buf = BytesMut::new();
        loop {
            match decoder.decode(&mut buf).unwrap() {
                Some(r) if r.kind == RecordType::Stdin && r.content.is_empty() => break,
                Some(_) => continue,
                None => assert!(conn.read_buf(&mut buf).await.unwrap() > 0),
            }
        }
        conn.write_all(&answer).await.unwrap();
        let _ = conn.read_buf(&mut buf).await; // hold the connection until usher closes it
    });
    let mut opts = FastCgiOptions::new(Upstream::Unix(sock), dir.path().to_path_buf());
    opts.header_timeout = Duration::from_millis(300);
    opts.max_connections = Some(4);
    (dir, FastCgi::new(opts))
}

async fn ask(fcgi: &FastCgi) -> Result<Response<ResponseBody>, Problem> {
    let (parts, ()) = http::Request::get("/a.php").body(()).unwrap().into_parts();
    let script = Script {
        file: "/a.php".into(),
        name: "/a.php".into(),
        path_info: String::new(),
    };
    let peer = Peer {
        remote: "127.0.0.1:1".parse().unwrap(),
        local: "127.0.0.1:2".parse().unwrap(),
        user: None,
    };
    let body = http_body_util::Empty::<Bytes>::new();
    respond(fcgi, &script, &parts, body, peer, "t1").await
}

fn stdout(data: &[u8]) -> Vec<u8> {
    let mut out = BytesMut::new();
    record::encode_stream(&mut out, RecordType::Stdout, REQUEST_ID, data);
    out.to_vec()
}

fn end(status: ProtocolStatus) -> Vec<u8> {
    let end = EndRequest {
        app_status: 0,
        protocol_status: status,
    };
    end.encode(REQUEST_ID).to_vec()
}

#[tokio::test]
async fn a_clean_answer_streams_and_pools_the_connection() {
    let mut answer = stdout(b"Content-Type: text/plain\r\n\r\nhel");
    answer.extend(stdout(b"lo"));
    answer.extend(record::stream_end(RecordType::Stdout, REQUEST_ID));
    answer.extend(end(ProtocolStatus::RequestComplete));
    let (_dir, fcgi) = fake(answer).await;
    let response = ask(&fcgi).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"hello");
    // The pump pools it once END_REQUEST is read, just after the body's end.
    for _ in 0..200 {
        if fcgi.idle_count() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(fcgi.idle_count(), 1);
}

#[tokio::test]
async fn an_end_that_is_not_complete_after_the_head_is_an_error() {
    let mut answer = stdout(b"Content-Type: text/plain\r\n\r\npart");
    answer.extend(record::stream_end(RecordType::Stdout, REQUEST_ID));
    answer.extend(end(ProtocolStatus::Overloaded));
    let (_dir, fcgi) = fake(answer).await;
    // All of it came with the head: a 503 before anything is sent, not a clean 200.
    let e = ask(&fcgi).await.unwrap_err();
    assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(fcgi.idle_count(), 0);
}

#[tokio::test]
async fn overloaded_is_503_and_unknown_role_502() {
    for (status, code) in [
        (ProtocolStatus::Overloaded, 503),
        (ProtocolStatus::UnknownRole, 502),
    ] {
        let (_dir, fcgi) = fake(end(status)).await;
        assert_eq!(ask(&fcgi).await.unwrap_err().status.as_u16(), code);
        assert_eq!(fcgi.idle_count(), 0);
    }
}

#[tokio::test]
async fn malformed_records_are_502_and_silence_504() {
    let (_dir, fcgi) = fake(vec![9; 16]).await;
    assert_eq!(
        ask(&fcgi).await.unwrap_err().status,
        StatusCode::BAD_GATEWAY
    );
    let (_dir, fcgi) = fake(Vec::new()).await;
    let e = ask(&fcgi).await.unwrap_err();
    assert_eq!(e.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(fcgi.idle_count(), 0);
}

#[tokio::test]
async fn an_address_that_refuses_is_skipped_and_marked_down() {
    let mut answer = stdout(b"Status: 201 Made\r\n\r\n");
    answer.extend(record::stream_end(RecordType::Stdout, REQUEST_ID));
    answer.extend(end(ProtocolStatus::RequestComplete));
    let (dir, good) = fake(answer).await;
    let dead = Upstream::Unix(dir.path().join("nobody.sock"));
    let mut opts = good.opts.clone();
    opts.upstreams.insert(0, dead);
    let fcgi = FastCgi::new(opts);
    let response = ask(&fcgi).await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(
        !fcgi.upstreams.is_up(0, Instant::now()),
        "the dead one is down"
    );
    assert!(fcgi.upstreams.is_up(1, Instant::now()));
}

#[tokio::test]
async fn every_address_refusing_is_502_and_all_marked_down() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = FastCgiOptions::new(
        Upstream::Unix(dir.path().join("a.sock")),
        dir.path().to_path_buf(),
    );
    opts.upstreams
        .push(Upstream::Unix(dir.path().join("b.sock")));
    let fcgi = FastCgi::new(opts);
    let e = ask(&fcgi).await.unwrap_err();
    assert_eq!(e.status, StatusCode::BAD_GATEWAY);
    let now = Instant::now();
    assert!(!fcgi.upstreams.is_up(0, now) && !fcgi.upstreams.is_up(1, now));
    // While both cool down, nothing is tried: still a 502 that names no address.
    let e = ask(&fcgi).await.unwrap_err();
    assert_eq!(e.status, StatusCode::BAD_GATEWAY);
    assert!(!format!("{e:?}").contains(".sock"));
}

#[tokio::test]
async fn a_connection_not_accepted_in_time_is_504() {
    // A listener whose accept queue is full drops new SYNs, so connecting hangs.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
    socket.listen(0).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..4 {
        let connect = tokio::net::TcpStream::connect(addr);
        if let Ok(Ok(s)) = tokio::time::timeout(Duration::from_millis(200), connect).await {
            fillers.push(s);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let mut opts = FastCgiOptions::new(Upstream::Tcp(addr), dir.path().to_path_buf());
    opts.connect_timeout = Duration::from_millis(200);
    let e = ask(&FastCgi::new(opts)).await.unwrap_err();
    assert_eq!(e.status, StatusCode::GATEWAY_TIMEOUT);
    assert!(
        e.detail.contains("did not accept a connection"),
        "{}",
        e.detail
    );
}

#[tokio::test]
async fn refused_connections_are_502_without_the_address() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("nobody.sock");
    let fcgi = FastCgi::new(FastCgiOptions::new(
        Upstream::Unix(sock.clone()),
        dir.path().to_path_buf(),
    ));
    let e = ask(&fcgi).await.unwrap_err();
    assert_eq!(e.status, StatusCode::BAD_GATEWAY);
    assert!(!format!("{e:?}").contains("nobody.sock"));
}
