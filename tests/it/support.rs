//! Test support: a real server on 127.0.0.1:0 with its own temp root, raw-TCP and curl helpers.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use usher::config::Config;

/// How long any single client operation in a test may take before the test fails.
pub const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// A running usher serving a temp directory; stopped (gracefully) when dropped.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The served root (canonical).
    pub root: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: Option<tempfile::TempDir>,
    /// One pooled HTTP/1.1 client, so successive [`TestServer::get`] calls reuse a connection.
    http: reqwest::Client,
}

impl TestServer {
    /// Serve a fresh temp directory, filled by `fill`, with default options.
    pub async fn start(fill: impl FnOnce(&Path)) -> TestServer {
        Self::start_with(fill, |_| {}).await
    }

    /// Serve a fresh temp directory, filled by `fill`, with options adjusted by `tune`.
    pub async fn start_with(
        fill: impl FnOnce(&Path),
        tune: impl FnOnce(&mut Config),
    ) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        fill(dir.path());
        let mut server = Self::serve(dir.path(), tune).await;
        server._dir = Some(dir);
        server
    }

    /// Serve an existing directory.
    pub async fn serve(root: &Path, tune: impl FnOnce(&mut Config)) -> TestServer {
        let mut config = Config::for_root(root, vec!["127.0.0.1:0".parse().unwrap()]).unwrap();
        tune(&mut config);
        let listeners = usher::server::bind(&config.listen).expect("bind 127.0.0.1:0");
        let addr = listeners[0].local_addr().unwrap();
        let root = config.files.root.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(usher::server::run(
            Arc::new(config),
            listeners,
            async move {
                let _ = stopped.await;
            },
        ));
        TestServer {
            addr,
            root,
            stop: Some(stop),
            _dir: None,
            http: client(),
        }
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// GET `path` over HTTP/1.1 with `headers`, on this server's pooled keep-alive client.
    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut req = self.http.get(self.url(path));
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        req.send().await.expect("a response")
    }

    /// Send raw bytes, half-close, and read everything the server sends back until it closes.
    pub fn raw(&self, request: &[u8]) -> Vec<u8> {
        raw_exchange(self.addr, request)
    }

    /// Send raw bytes and return the response as lossy text.
    pub fn raw_text(&self, request: &str) -> String {
        String::from_utf8_lossy(&self.raw(request.as_bytes())).into_owned()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Write `request`, shut down the write half, read until EOF.
/// One `read` of `s` into `buf`, again when a signal interrupted it (EINTR: the tests' child
/// processes make the test process receive signals, and `read` does not retry on its own).
pub fn read_some(s: &mut impl Read, buf: &mut [u8]) -> usize {
    loop {
        match s.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            read => return read.unwrap(),
        }
    }
}

pub fn raw_exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.write_all(request).expect("write request");
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).expect("read response");
    out
}

/// A reqwest client over HTTP/1.1 with timeouts.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(IO_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Every field of `response` but `Date` (which moves with the clock), as (name, value),
/// sorted: two answers that should carry the same fields compare equal.
pub fn fields_but_date(response: &reqwest::Response) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter(|(name, _)| *name != "date")
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
        .collect();
    all.sort();
    all
}

/// A reqwest client speaking HTTP/2 with prior knowledge (h2c).
pub fn h2_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(IO_TIMEOUT)
        .http2_prior_knowledge()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Header `name` of a response as text (the test fails if it is absent or not visible ASCII).
pub fn header<'a>(r: &'a reqwest::Response, name: &str) -> &'a str {
    r.headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

/// Output of a curl run.
pub struct CurlOutput {
    /// Exit status success.
    pub ok: bool,
    /// Standard output (body, or headers with `-i`/`-D -`).
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: String,
}

/// Run curl with `args` (it must be installed: the test command installs it), bounded in time.
pub async fn curl(args: &[&str]) -> CurlOutput {
    let mut cmd = tokio::process::Command::new("curl");
    cmd.args(["--silent", "--show-error", "--max-time", "20"])
        .args(args);
    let out = cmd
        .output()
        .await
        .expect("curl must be installed (scripts/test.sh installs it)");
    CurlOutput {
        ok: out.status.success(),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Write `contents` at `root/rel`, creating parent directories.
pub fn write(root: &Path, rel: &str, contents: impl AsRef<[u8]>) {
    let path = root.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, contents).unwrap();
}

/// Split a raw HTTP/1.x response stream into (head, rest) at the first blank line.
pub fn split_head(raw: &[u8]) -> (String, &[u8]) {
    let at = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head");
    (
        String::from_utf8_lossy(&raw[..at]).into_owned(),
        &raw[at + 4..],
    )
}

/// The value of header `name` (case-insensitive) in a raw response head.
pub fn head_value<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Whether a program is on PATH.
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// A running `usher` process and the addresses its startup line named.
pub struct Process {
    child: Option<Child>,
    pub line: String,
    pub addrs: Vec<SocketAddr>,
    /// Every later line usher writes to stderr (its log), as it is written.
    pub log: std::sync::mpsc::Receiver<String>,
}

impl Process {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Send `signal` (e.g. `-TERM`) with kill(1).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Wait until a log line containing `text` is written; the line, or `None` after `limit`.
    pub fn wait_for_log(&self, text: &str, limit: std::time::Duration) -> Option<String> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let left = deadline.checked_duration_since(std::time::Instant::now())?;
            let line = self.log.recv_timeout(left).ok()?;
            if line.contains(text) {
                return Some(line);
            }
        }
    }

    /// Wait for the process to exit; `None` if it is still running after `limit` (then it is
    /// killed when the waiting thread's handle is dropped with the test).
    pub fn wait_within(mut self, limit: std::time::Duration) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take().expect("running");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        rx.recv_timeout(limit).ok().map(|r| r.expect("wait"))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn usher() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_usher"));
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// Start usher with `args` and wait for its startup line (the readiness signal).
pub fn start(args: &[&str]) -> Process {
    let mut cmd = usher();
    cmd.args(args);
    start_command(cmd)
}

/// Start `cmd` (usher, or a program that executes it, keeping its process id) and wait for
/// usher's startup line.
pub fn start_command(mut cmd: Command) -> Process {
    let mut child = cmd.spawn().expect("spawn usher");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).expect("startup line");
    // Keep draining stderr so the server never blocks on a full pipe; tests may read it.
    let (tx, log) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let addrs = line
        .split("http://")
        .skip(1)
        .map(|s| {
            s.trim()
                .trim_end_matches(',')
                .parse()
                .expect("address in startup line")
        })
        .collect();
    Process {
        child: Some(child),
        line,
        addrs,
        log,
    }
}

/// `usher explain -c FILE ARGS...`: its standard output (it must succeed).
pub fn explain(dir: &Path, args: &[&str]) -> String {
    let config = dir.join("usher.toml").display().to_string();
    let mut all = vec!["explain", "-c", &config];
    all.extend_from_slice(args);
    let out = usher()
        .args(&all)
        .stdout(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The `toml` blocks of the README section headed `## {heading}`.
pub fn readme_toml_blocks(heading: &str) -> Vec<String> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split(&format!("\n## {heading}\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("a \"## {heading}\" section in the README"));
    let section = section.split("\n## ").next().unwrap();
    section
        .split("```toml\n")
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap().to_owned())
        .collect()
}

/// Whether `usher check` accepts the config file `path`; its error output if not.
pub fn check(path: &Path) -> Result<(), String> {
    let out = usher()
        .args(["check", "-c", &path.display().to_string()])
        .output()
        .unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Send `request` raw (it should say Connection: close); the head and the body as text.
pub fn exchange(addr: SocketAddr, request: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let (head, body) = split_head(&out);
    (head, String::from_utf8_lossy(body).into_owned())
}

/// The body without chunked framing, for short answers.
pub fn unchunk(head: &str, body: &str) -> String {
    if head_value(head, "transfer-encoding") != Some("chunked") {
        return body.to_owned();
    }
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap();
        if n == 0 {
            break;
        }
        out.push_str(&after[..n]);
        rest = &after[n + 2..];
    }
    out
}

/// Whether `done` became true within `limit`, polled without sleeping: for a condition the
/// server gives no signal of (a file written, a process gone).
pub fn within(limit: std::time::Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    while !done() {
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::yield_now();
    }
    true
}

/// Peak resident memory of process `pid` (`VmHWM`), in KiB.
pub fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status")
}

/// Read `s` until `first` has arrived, check `second` has not, create `marker` (the program
/// waits for it before writing `second`), then read to the end and check `second` came: the
/// first part reached the client while the program was still running.
pub fn assert_streamed(s: &mut TcpStream, marker: &Path) {
    let mut got = Vec::new();
    let mut buf = [0; 4096];
    while !String::from_utf8_lossy(&got).contains("first") {
        let n = read_some(s, &mut buf);
        assert!(n > 0, "closed before the first part");
        got.extend_from_slice(&buf[..n]);
    }
    assert!(!String::from_utf8_lossy(&got).contains("second"));
    std::fs::write(marker, "").unwrap();
    s.read_to_end(&mut got).unwrap();
    assert!(String::from_utf8_lossy(&got).contains("second"));
}

/// Send `head` and then `size` bytes of content whole, as a client that reads its answer only
/// once its upload is out, then read the answer to the end. `Err` if a write failed: usher
/// closed while the client still sent, and the kernel's reset may destroy the answer.
pub fn upload_then_read(addr: SocketAddr, head: &str, size: usize) -> Result<String, String> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    let block = vec![b'u'; 64 * 1024];
    for sent in (0..size).step_by(block.len()) {
        let n = block.len().min(size - sent);
        s.write_all(&block[..n])
            .map_err(|e| format!("write failed after {sent} bytes: {e}"))?;
    }
    let mut answer = Vec::new();
    s.read_to_end(&mut answer)
        .map_err(|e| format!("read failed: {e}"))?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}
