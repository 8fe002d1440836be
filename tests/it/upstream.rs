//! Upstreams for the proxy's tests: a small hyper HTTP/1.1 application with echo, slow,
//! stream, download, upload, status, redirect and WebSocket endpoints, run on its own thread
//! and runtime on 127.0.0.1:0, recording every request it receives; and Python's
//! `http.server`. Each is stopped when its handle drops.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt as _, StreamExt as _};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use tokio_tungstenite::tungstenite::protocol::Role;

/// What the application saw of one request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub target: String,
    pub version: String,
    /// Field lines in order, names lower case.
    pub headers: Vec<(String, String)>,
    /// The content's length, as received (read whole only by `/echo`).
    pub body_len: u64,
}

impl Seen {
    /// Every value of field `name`, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The only value of field `name`, if there is one.
    pub fn one(&self, name: &str) -> Option<&str> {
        let all = self.all(name);
        assert!(all.len() <= 1, "{name} sent {} times: {all:?}", all.len());
        all.first().copied()
    }
}

type Body = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

struct Shared {
    name: String,
    seen: Mutex<Vec<Seen>>,
    open: AtomicUsize,
    /// The status `/health` answers with.
    health: std::sync::atomic::AtomicU16,
    /// `/health` requests received (not recorded in `seen`).
    checks: AtomicUsize,
}

/// The test application; stops when dropped.
pub struct App {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl App {
    /// Start an application named `name` (it says its name in `X-App` on every answer).
    pub fn start(name: &str) -> App {
        Self::start_on(name, TcpListener::bind("127.0.0.1:0").unwrap())
    }

    /// Start on `listener` (to restart on the same port).
    pub fn start_on(name: &str, listener: TcpListener) -> App {
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            name: name.to_owned(),
            seen: Mutex::new(Vec::new()),
            open: AtomicUsize::new(0),
            health: std::sync::atomic::AtomicU16::new(200),
            checks: AtomicUsize::new(0),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = shared.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let accepting = async {
                    let mut conns = tokio::task::JoinSet::new();
                    loop {
                        let Ok((stream, _)) = listener.accept().await else {
                            continue;
                        };
                        let shared = serving.clone();
                        conns.spawn(serve_conn(stream, shared));
                    }
                };
                tokio::select! {
                    () = accepting => {}
                    _ = stopped => {}
                }
            });
        });
        App {
            addr,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `IP:port`, as a proxy route's upstream.
    pub fn upstream(&self) -> String {
        self.addr.to_string()
    }

    /// Every request received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// How many requests were received.
    pub fn hits(&self) -> usize {
        self.shared.seen.lock().unwrap().len()
    }

    /// Make `/health` answer `status` from now on.
    pub fn set_health(&self, status: u16) {
        self.shared.health.store(status, Ordering::SeqCst);
    }

    /// `/health` requests received so far.
    pub fn checks(&self) -> usize {
        self.shared.checks.load(Ordering::SeqCst)
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        self.shared.open.load(Ordering::SeqCst)
    }

    /// Stop serving now (connections close, the port is released).
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn serve_conn(stream: tokio::net::TcpStream, shared: Arc<Shared>) {
    shared.open.fetch_add(1, Ordering::SeqCst);
    let counter = shared.clone();
    let io = hyper_util::rt::TokioIo::new(stream);
    let service = hyper::service::service_fn(move |req| answer(req, shared.clone()));
    let conn = hyper::server::conn::http1::Builder::new()
        .serve_connection(io, service)
        .with_upgrades();
    let _ = conn.await;
    counter.open.fetch_sub(1, Ordering::SeqCst);
}

async fn answer(req: Request<Incoming>, shared: Arc<Shared>) -> Result<Response<Body>, Infallible> {
    let query: BTreeMap<String, String> = req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let number = |key: &str, default: u64| {
        query
            .get(key)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let mut seen = Seen {
        method: req.method().to_string(),
        target: req.uri().to_string(),
        version: format!("{:?}", req.version()),
        headers: req
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body_len: 0,
    };
    let path = req.uri().path().to_owned();
    let name = shared.name.clone();
    let response = match path.as_str() {
        "/ws" => return Ok(websocket(req, seen, &shared)),
        "/tunnel" => return Ok(raw_tunnel(req, seen, &shared)),
        "/health" => {
            shared.checks.fetch_add(1, Ordering::SeqCst);
            let code = shared.health.load(Ordering::SeqCst);
            return Ok(text(StatusCode::from_u16(code).unwrap(), "health"));
        }
        "/slow" => {
            tokio::time::sleep(Duration::from_millis(number("ms", 1000))).await;
            text(StatusCode::OK, "slow")
        }
        "/stream" => {
            let (chunks, size, delay) = (
                number("chunks", 10),
                number("size", 10),
                number("delay_ms", 0),
            );
            let stream = futures_util::stream::unfold(0, move |i| async move {
                if i == chunks {
                    return None;
                }
                if delay > 0 {
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                }
                let chunk = Bytes::from(vec![b'a' + (i % 26) as u8; size as usize]);
                Some((Ok(Frame::data(chunk)), i + 1))
            });
            Response::new(BodyExt::boxed(StreamBody::new(stream)))
        }
        "/bytes" => {
            // `n` bytes of a repeating pattern, streamed with a length.
            let total = number("n", 1024);
            const BLOCK: u64 = 256 * 1024;
            let block = Bytes::from((0..BLOCK).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
            let stream = futures_util::stream::unfold(0u64, move |sent| {
                let block = block.clone();
                async move {
                    if sent >= total {
                        return None;
                    }
                    let n = BLOCK.min(total - sent);
                    Some((Ok(Frame::data(block.slice(..n as usize))), sent + n))
                }
            });
            let mut response = Response::new(BodyExt::boxed(StreamBody::new(stream)));
            response
                .headers_mut()
                .insert("content-length", total.into());
            response
        }
        "/upload" => {
            // Counts the content as it streams in, and sums it, without keeping it.
            let mut body = req.into_body();
            let (mut n, mut sum) = (0u64, 0u64);
            while let Some(frame) = body.frame().await {
                let Ok(frame) = frame else {
                    return Ok(text(StatusCode::BAD_REQUEST, "cut"));
                };
                if let Ok(data) = frame.into_data() {
                    n += data.len() as u64;
                    sum = data.iter().fold(sum, |s, &b| s.wrapping_add(u64::from(b)));
                }
            }
            seen.body_len = n;
            shared.seen.lock().unwrap().push(seen);
            let mut response = text(StatusCode::OK, &format!("{n} {sum}"));
            response
                .headers_mut()
                .insert("x-app", name.parse().unwrap());
            return Ok(response);
        }
        "/redirect" => {
            let mut response = text(StatusCode::FOUND, "");
            let to = query
                .get("to")
                .cloned()
                .unwrap_or_else(|| "/login".to_owned());
            response
                .headers_mut()
                .insert("location", to.parse().unwrap());
            response
        }
        p if p.starts_with("/status/") => {
            let code: u16 = p["/status/".len()..].parse().unwrap_or(500);
            text(
                StatusCode::from_u16(code).unwrap(),
                &format!("status {code}"),
            )
        }
        _ => {
            // Echo: what was received, as text; the content whole.
            let (parts, body) = req.into_parts();
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            seen.body_len = body.len() as u64;
            let mut out = format!("{} {} {:?}\n", parts.method, parts.uri, parts.version);
            for (n, v) in &parts.headers {
                out.push_str(&format!("{n}: {}\n", String::from_utf8_lossy(v.as_bytes())));
            }
            out.push('\n');
            let mut bytes = out.into_bytes();
            bytes.extend_from_slice(&body);
            let mut response = Response::new(
                Full::new(Bytes::from(bytes))
                    .map_err(|e| match e {})
                    .boxed(),
            );
            response
                .headers_mut()
                .insert("content-type", "text/plain".parse().unwrap());
            response
        }
    };
    shared.seen.lock().unwrap().push(seen);
    let mut response = response;
    response
        .headers_mut()
        .insert("x-app", name.parse().unwrap());
    Ok(response)
}

fn text(status: StatusCode, body: &str) -> Response<Body> {
    let mut response = Response::new(
        Full::new(Bytes::from(body.to_owned()))
            .map_err(|e| match e {})
            .boxed(),
    );
    *response.status_mut() = status;
    response
}

/// `/ws`: a WebSocket echo (RFC 6455), answered with 101 and served on the upgraded
/// connection.
fn websocket(mut req: Request<Incoming>, seen: Seen, shared: &Shared) -> Response<Body> {
    shared.seen.lock().unwrap().push(seen);
    let key = req
        .headers()
        .get("sec-websocket-key")
        .map(|k| k.as_bytes().to_vec())
        .unwrap_or_default();
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(&key);
    let upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else {
            return;
        };
        let io = hyper_util::rt::TokioIo::new(upgraded);
        let mut ws =
            tokio_tungstenite::WebSocketStream::from_raw_socket(io, Role::Server, None).await;
        while let Some(Ok(message)) = ws.next().await {
            if message.is_close() {
                break;
            }
            if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
                break;
            }
        }
    });
    let mut response = text(StatusCode::SWITCHING_PROTOCOLS, "");
    let headers = response.headers_mut();
    headers.insert("upgrade", "websocket".parse().unwrap());
    headers.insert("connection", "upgrade".parse().unwrap());
    headers.insert("sec-websocket-accept", accept.parse().unwrap());
    response
}

/// `/tunnel`: any upgrade, answered with 101 naming the offered protocol, then an echo of
/// raw bytes.
fn raw_tunnel(mut req: Request<Incoming>, seen: Seen, shared: &Shared) -> Response<Body> {
    shared.seen.lock().unwrap().push(seen);
    let protocol = req.headers().get("upgrade").cloned();
    let upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else {
            return;
        };
        let (mut rd, mut wr) = tokio::io::split(hyper_util::rt::TokioIo::new(upgraded));
        let _ = tokio::io::copy(&mut rd, &mut wr).await;
    });
    let mut response = text(StatusCode::SWITCHING_PROTOCOLS, "");
    if let Some(protocol) = protocol {
        response.headers_mut().insert("upgrade", protocol);
    }
    response
        .headers_mut()
        .insert("connection", "upgrade".parse().unwrap());
    response
}

/// Python's `http.server` serving `dir` on a free port of 127.0.0.1.
pub struct PythonServer {
    pub addr: SocketAddr,
    child: Child,
}

impl PythonServer {
    /// Start it and wait until it accepts connections. Under CI a missing python3 fails.
    pub fn start(dir: &std::path::Path) -> Option<PythonServer> {
        if !crate::support::have("python3") {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "python3 must be installed under CI"
            );
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &port.to_string(),
            ])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start python3");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(
                Instant::now() < deadline,
                "http.server did not listen on {addr}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(PythonServer { addr, child })
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
