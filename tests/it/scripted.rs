//! Scripted peers for the proxy's hostile tests: an upstream on 127.0.0.1:0 whose every
//! connection runs a script written with raw bytes, and a raw client that reads answers as
//! their heads frame them, telling a clean end from a cut one. Every read and write is
//! bounded by [`IO_TIMEOUT`].

use std::io::{BufRead as _, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::proxy::status;
use crate::support::{IO_TIMEOUT, head_value};

/// A scripted upstream on 127.0.0.1:0: each connection it accepts is handed, with its number
/// (from 0), to the script on a thread of its own. Stops accepting when dropped.
pub(crate) struct Scripted {
    pub(crate) addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Scripted {
    pub(crate) fn start(
        script: impl Fn(Conn<TcpStream>, usize) + Send + Sync + 'static,
    ) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (accepted, stop) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let (count, stopped, script) = (accepted.clone(), stop.clone(), Arc::new(script));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                conn.set_nodelay(true).unwrap();
                let n = count.fetch_add(1, Ordering::SeqCst);
                let script = script.clone();
                std::thread::spawn(move || script(Conn::tcp(conn), n));
            }
        });
        Scripted {
            addr,
            accepted,
            stop,
        }
    }

    pub(crate) fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, IO_TIMEOUT); // wakes the accept
    }
}

/// The upstream's side of one connection: requests read off it, answers written raw.
pub(crate) struct Conn<S: Read + Write> {
    pub(crate) r: BufReader<S>,
}

impl Conn<TcpStream> {
    pub(crate) fn tcp(s: TcpStream) -> Self {
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        Conn {
            r: BufReader::new(s),
        }
    }
}

impl<S: Read + Write> Conn<S> {
    /// The next request's head (request line first); its content, if it has a length, is
    /// read and dropped unless `with_body` is false. `None` once usher closes.
    pub(crate) fn request(&mut self, with_body: bool) -> Option<String> {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            match self.r.read_line(&mut line) {
                Ok(0) | Err(_) => return None,
                Ok(_) if line == "\r\n" => break,
                Ok(_) => head.push_str(&line),
            }
        }
        if with_body {
            let n: u64 = head_value(&format!("x\r\n{head}"), "content-length")
                .map_or(0, |n| n.parse().unwrap());
            std::io::copy(&mut (&mut self.r).take(n), &mut std::io::sink()).ok()?;
        }
        Some(head)
    }

    pub(crate) fn send(&mut self, bytes: impl AsRef<[u8]>) -> bool {
        let s = self.r.get_mut();
        s.write_all(bytes.as_ref()).is_ok() && s.flush().is_ok()
    }

    /// `200 OK` with `body` and a length.
    pub(crate) fn ok(&mut self, body: &str) -> bool {
        self.send(format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ))
    }

    /// Read and drop what usher sends until it closes the connection: `true` if it did
    /// within the I/O limit.
    pub(crate) fn closed_by_usher(&mut self) -> bool {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match self.r.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e) => return e.kind() == ErrorKind::ConnectionReset,
            }
        }
    }
}

/// The request-target of a request head.
pub(crate) fn target(head: &str) -> &str {
    head.split(' ').nth(1).unwrap_or("")
}

/// One answer read off a client connection, framed as its head says.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) head: String,
    pub(crate) body: Vec<u8>,
}

impl Answer {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub(crate) fn field(&self, name: &str) -> Option<&str> {
        head_value(&self.head, name)
    }

    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
            .collect()
    }
}

/// A client connection to usher, kept alive across requests.
pub(crate) struct Client {
    pub(crate) r: BufReader<TcpStream>,
}

impl Client {
    /// Send the head of a POST to `target` with `size` bytes of content, then the content
    /// from another thread (which stops when the connection fails), so the answer can be
    /// read while it is still being sent.
    pub(crate) fn upload(&mut self, target: &str, size: usize) -> std::thread::JoinHandle<()> {
        self.send(format!(
            "POST {target} HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n"
        ));
        let mut out = self.r.get_ref().try_clone().unwrap();
        std::thread::spawn(move || {
            let block = vec![b'u'; 64 * 1024];
            for _ in 0..size / block.len() {
                if out.write_all(&block).is_err() {
                    return;
                }
            }
        })
    }

    pub(crate) fn connect(addr: SocketAddr) -> Client {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        Client {
            r: BufReader::new(s),
        }
    }

    pub(crate) fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.r.get_mut().write_all(bytes.as_ref()).unwrap();
    }

    /// `METHOD target` on this connection, and its answer.
    pub(crate) fn ask(&mut self, method: &str, target: &str) -> Result<Answer, String> {
        self.send(format!(
            "{method} {target} HTTP/1.1\r\nHost: site.test\r\n\r\n"
        ));
        self.answer(method == "HEAD")
    }

    fn line(&mut self) -> Result<Vec<u8>, String> {
        let mut line = Vec::new();
        match self.r.read_until(b'\n', &mut line) {
            Ok(0) => Err("closed".to_owned()),
            Ok(_) => Ok(line),
            Err(e) => Err(format!("read failed: {e}")),
        }
    }

    /// Read one answer; `Err` says how it was cut ("closed ...") or that it did not come.
    pub(crate) fn answer(&mut self, head_request: bool) -> Result<Answer, String> {
        let mut head = String::new();
        loop {
            let line = self
                .line()
                .map_err(|e| format!("{e} in the head {head:?}"))?;
            if line == b"\r\n" {
                break;
            }
            head.push_str(&String::from_utf8_lossy(&line));
        }
        let status = status(&head);
        let mut body = Vec::new();
        if head_request || status == 204 || status == 304 || status < 200 {
            return Ok(Answer { status, head, body });
        }
        if head_value(&head, "transfer-encoding") == Some("chunked") {
            loop {
                let line = self
                    .line()
                    .map_err(|e| format!("{e} after {} body bytes", body.len()))?;
                let size = String::from_utf8_lossy(&line);
                let size = usize::from_str_radix(size.trim(), 16)
                    .map_err(|_| format!("bad chunk size {size:?}"))?;
                if size == 0 {
                    while self.line().map_err(|e| format!("{e} in trailers"))? != b"\r\n" {}
                    break;
                }
                let mut data = vec![0; size + 2];
                self.r
                    .read_exact(&mut data)
                    .map_err(|e| format!("closed after {} body bytes: {e}", body.len()))?;
                body.extend_from_slice(&data[..size]);
            }
        } else if let Some(n) = head_value(&head, "content-length") {
            let n: usize = n.parse().unwrap();
            body.resize(n, 0);
            let mut got = 0;
            while got < n {
                match self.r.read(&mut body[got..]) {
                    Ok(0) => return Err(format!("closed after {got} of {n} body bytes")),
                    Ok(k) => got += k,
                    Err(e) => return Err(format!("read failed after {got} of {n}: {e}")),
                }
            }
        } else {
            self.r
                .read_to_end(&mut body)
                .map_err(|e| format!("read failed: {e}"))?;
        }
        Ok(Answer { status, head, body })
    }

    /// Whether usher closes this connection (within the I/O limit), reading what is left.
    pub(crate) fn closed(&mut self) -> bool {
        let mut rest = Vec::new();
        match self.r.read_to_end(&mut rest) {
            Ok(_) => true,
            Err(e) => e.kind() == ErrorKind::ConnectionReset,
        }
    }
}

/// An upstream that answers each request on a connection with `answer(target)`, written in
/// one piece, until usher closes it.
pub(crate) fn answering(answer: impl Fn(&str) -> String + Send + Sync + 'static) -> Scripted {
    Scripted::start(move |mut conn, _| {
        while let Some(head) = conn.request(true) {
            if !conn.send(answer(target(&head))) {
                return;
            }
        }
    })
}
