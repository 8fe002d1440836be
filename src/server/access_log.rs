//! The access log: one line per answered request, in the combined format nginx and Apache
//! write by default (so goaccess, fail2ban and awk scripts read it as they are), to stdout,
//! stderr or a file. Off unless configured.
//!
//! Lines are formatted on the runtime thread and written by a thread of their own, through a
//! bounded queue ([`super::log_queue`]): a slow disk never blocks answering. A full queue
//! drops lines (and the server's log says how many), as the log must not hold back the server.

use std::io::{self, BufWriter, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, OnceLock};

use http::header::{CONTENT_LENGTH, REFERER, USER_AGENT};
use http::request::Parts;
use http::{Method, Response, StatusCode, Version};

use super::log_queue::{Dropped, LogQueue};

/// Where the access log goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Standard output (`-` or `stdout`).
    Stdout,
    /// Standard error (`stderr`), where `python3 -m http.server` logs.
    Stderr,
    /// A file, appended to (created if missing). Appending keeps a rotation by
    /// `copytruncate` working.
    File(PathBuf),
}

impl Target {
    /// `-`/`stdout`, `stderr`, `off` (`None`) or a path.
    pub fn parse(text: &str) -> Option<Target> {
        match text {
            "" | "off" => None,
            "-" | "stdout" => Some(Target::Stdout),
            "stderr" => Some(Target::Stderr),
            path => Some(Target::File(PathBuf::from(path))),
        }
    }
}

struct Log {
    lines: LogQueue<String>,
    /// Whether it goes to a file (which SIGUSR1 opens again), not a stream.
    to_file: bool,
}

static LOG: OnceLock<Log> = OnceLock::new();

/// Open `target` and start its writer; the log is on from now until the process ends.
pub fn start(target: &Target) -> io::Result<()> {
    let out = open(target)?;
    let to_file = matches!(target, Target::File(_));
    let target = target.clone();
    let lines = LogQueue::start("usher-access-log", move |queued, dropped| {
        write_lines(&queued, &dropped, out, &target);
    })?;
    let _ = LOG.set(Log { lines, to_file });
    Ok(())
}

/// Where lines go: the stream, or the file opened for appending.
fn open(target: &Target) -> io::Result<Box<dyn Write + Send>> {
    Ok(match target {
        Target::Stdout => Box::new(io::stdout()),
        Target::Stderr => Box::new(io::stderr()),
        Target::File(path) => Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?,
        ),
    })
}

/// Set by SIGUSR1: the writer opens its file again before its next line.
static REOPEN: AtomicBool = AtomicBool::new(false);

/// Open the log's file again on every SIGUSR1, as nginx does, so logrotate's `create` mode
/// (rename, then signal) works: lines go to the new file from the next one on. Runs until
/// dropped.
pub async fn reopen_on_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut usr1) = signal(SignalKind::user_defined1()) else {
        return std::future::pending().await;
    };
    while usr1.recv().await.is_some() {
        match LOG.get() {
            Some(log) if log.to_file => {
                REOPEN.store(true, Ordering::Relaxed);
                tracing::info!("SIGUSR1: the access log is opened again before its next line");
            }
            _ => tracing::info!("SIGUSR1: no access log file to open again"),
        }
    }
    std::future::pending().await
}

/// Whether requests are logged (the express lane, whose answers skip the logger, is closed
/// then).
pub fn enabled() -> bool {
    LOG.get().is_some()
}

/// Log one answered request, if the log is on.
pub fn record<B: http_body::Body>(peer: SocketAddr, parts: &Parts, response: &Response<B>) {
    let Some(log) = LOG.get() else { return };
    log.lines.send(combined(peer, parts, response, &now()));
}

/// Log a request refused before it could be read as one (a malformed or oversized head, a
/// timeout): its first line as received stands for the request, as nginx writes it.
pub fn record_refused<B: http_body::Body>(peer: SocketAddr, head: &[u8], response: &Response<B>) {
    let Some(log) = LOG.get() else { return };
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let line = &line[..line.len().min(MAX_REFUSED_LINE)];
    let mut out = String::with_capacity(128 + line.len());
    start_line(&mut out, peer, &now());
    escape(&mut out, line);
    end_line(&mut out, response.status(), length(response), None, None);
    log.lines.send(out);
}

/// The time now as `Date` gives it, formatted once a second per thread (shared with the
/// HTTP/1.1 writer's `Date`).
fn now() -> String {
    String::from_utf8_lossy(&super::h1::http_date()).into_owned()
}

/// The longest part of a refused head's first line written (a 16 KiB target is refused too).
const MAX_REFUSED_LINE: usize = 2048;

/// Write lines as they come, flushing whenever the queue is empty: a quiet server's lines
/// appear at once, a busy one's in large writes. Failures and dropped lines are told on
/// stderr (the server's log), never in the access log, whose lines stay all of one format.
fn write_lines(
    queued: &Receiver<String>,
    dropped: &Arc<Dropped>,
    out: Box<dyn Write + Send>,
    target: &Target,
) {
    let mut out = BufWriter::with_capacity(64 * 1024, out);
    let mut failing = false;
    while let Ok(line) = queued.recv() {
        if REOPEN.swap(false, Ordering::Relaxed) && matches!(target, Target::File(_)) {
            let _ = out.flush();
            match open(target) {
                Ok(file) => out = BufWriter::with_capacity(64 * 1024, file),
                // The old file stays: lines still go somewhere.
                Err(e) => tracing::error!("cannot open the access log again: {e}"),
            }
        }
        let mut written = out.write_all(line.as_bytes());
        while let Ok(line) = queued.try_recv() {
            written = written.and_then(|()| out.write_all(line.as_bytes()));
        }
        let written = written.and_then(|()| out.flush());
        match written {
            // Told once for each run of failures, not for every line.
            Err(e) if !failing => {
                failing = true;
                tracing::error!("cannot write the access log: {e}");
            }
            Err(_) => {}
            Ok(()) => failing = false,
        }
        let dropped = dropped.take();
        if dropped > 0 {
            tracing::warn!(
                dropped,
                "access log lines dropped: the log could not keep up"
            );
        }
    }
}

/// The combined log format, with its line end:
/// `ip - user [28/Nov/2026:00:11:22 +0000] "GET /x HTTP/1.1" 200 1234 "referer" "agent"`.
/// `date` is an IMF-fixdate (`Sat, 28 Nov 2026 00:11:22 GMT`), as `Date` carries it. The
/// bytes are the answer's content length (0 for HEAD and bodiless statuses, `-` for a
/// streamed answer of unknown length). Quotes, backslashes and control bytes in what the
/// client sent are escaped as `\xHH`, so no request can forge a line. The target is the
/// request's as sent: absolute form stays absolute; an HTTP/2 request (whose target hyper
/// gives absolute) shows its path, and an extended CONNECT its path too.
fn combined<B: http_body::Body>(
    peer: SocketAddr,
    parts: &Parts,
    response: &Response<B>,
    date: &str,
) -> String {
    let mut line = String::with_capacity(160);
    start_line(&mut line, peer, date);
    escape(&mut line, parts.method.as_str().as_bytes());
    line.push(' ');
    let tunnel =
        parts.method == Method::CONNECT && parts.extensions.get::<hyper::ext::Protocol>().is_none();
    let absolute;
    let target = match parts.uri.path_and_query() {
        _ if tunnel => parts.uri.authority().map_or("*", |a| a.as_str()),
        _ if parts.version != Version::HTTP_2 && parts.uri.scheme().is_some() => {
            absolute = parts.uri.to_string();
            &absolute
        }
        Some(pq) => pq.as_str(),
        None => "*",
    };
    escape(&mut line, target.as_bytes());
    line.push_str(match parts.version {
        Version::HTTP_10 => " HTTP/1.0",
        Version::HTTP_2 => " HTTP/2.0",
        _ => " HTTP/1.1",
    });
    let referer = parts.headers.get(REFERER).map(|v| v.as_bytes());
    let agent = parts.headers.get(USER_AGENT).map(|v| v.as_bytes());
    end_line(
        &mut line,
        response.status(),
        sent_bytes(parts, response),
        referer,
        agent,
    );
    line
}

/// `ip - - [date] "`: the line up to the request.
fn start_line(line: &mut String, peer: SocketAddr, date: &str) {
    line.push_str(&peer.ip().to_string());
    line.push_str(" - - [");
    push_clf_date(line, date);
    line.push_str("] \"");
}

/// `" status bytes "referer" "agent"` and the line end: the line after the request.
fn end_line(
    line: &mut String,
    status: StatusCode,
    bytes: Option<u64>,
    referer: Option<&[u8]>,
    agent: Option<&[u8]>,
) {
    line.push_str("\" ");
    line.push_str(status.as_str());
    line.push(' ');
    match bytes {
        Some(n) => line.push_str(itoa::Buffer::new().format(n)),
        None => line.push('-'),
    }
    for field in [referer, agent] {
        line.push_str(" \"");
        match field {
            Some(value) => escape(line, value),
            None => line.push('-'),
        }
        line.push('"');
    }
    line.push('\n');
}

/// The content bytes the answer carries: its declared length, or `None` when it streams
/// without one.
fn sent_bytes<B: http_body::Body>(parts: &Parts, response: &Response<B>) -> Option<u64> {
    let status = response.status();
    if parts.method == Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Some(0);
    }
    length(response)
}

/// The answer's declared content length, or its body's exact size.
fn length<B: http_body::Body>(response: &Response<B>) -> Option<u64> {
    let declared = response.headers().get(CONTENT_LENGTH);
    declared
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .or_else(|| response.body().size_hint().exact())
}

/// `Sat, 28 Nov 2026 00:11:22 GMT` as `28/Nov/2026:00:11:22 +0000`.
fn push_clf_date(line: &mut String, date: &str) {
    // IMF-fixdate is fixed-width: day 5..7, month 8..11, year 12..16, time 17..25.
    match (
        date.get(5..7),
        date.get(8..11),
        date.get(12..16),
        date.get(17..25),
    ) {
        (Some(day), Some(month), Some(year), Some(time)) => {
            line.push_str(day);
            line.push('/');
            line.push_str(month);
            line.push('/');
            line.push_str(year);
            line.push(':');
            line.push_str(time);
            line.push_str(" +0000");
        }
        _ => line.push_str(date),
    }
}

/// `bytes` with `"`, `\`, control bytes and non-ASCII bytes as `\xHH` (as nginx escapes
/// variables in its log).
fn escape(line: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        if b == b'"' || b == b'\\' || !(0x20..0x7f).contains(&b) {
            line.push_str("\\x");
            line.push(char::from(HEX[usize::from(b >> 4)]));
            line.push(char::from(HEX[usize::from(b & 15)]));
        } else {
            line.push(char::from(b));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Request;
    use http_body_util::Full;

    fn parts(method: &str, uri: &str, version: Version, fields: &[(&str, &[u8])]) -> Parts {
        let mut b = Request::builder().method(method).uri(uri).version(version);
        for (name, value) in fields {
            b = b.header(*name, http::HeaderValue::from_bytes(value).unwrap());
        }
        b.body(()).unwrap().into_parts().0
    }

    fn answer(status: u16, body: &'static str) -> Response<Full<bytes::Bytes>> {
        let mut r = Response::new(Full::new(bytes::Bytes::from_static(body.as_bytes())));
        *r.status_mut() = StatusCode::from_u16(status).unwrap();
        r
    }

    const DATE: &str = "Sat, 28 Nov 2026 00:11:22 GMT";

    #[test]
    fn a_line_in_the_combined_format() {
        let peer = "203.0.113.9:50000".parse().unwrap();
        let p = parts(
            "GET",
            "/docs/a.html?x=1",
            Version::HTTP_11,
            &[("referer", b"http://site/"), ("user-agent", b"curl/8.0")],
        );
        assert_eq!(
            combined(peer, &p, &answer(200, "hello"), DATE),
            "203.0.113.9 - - [28/Nov/2026:00:11:22 +0000] \"GET /docs/a.html?x=1 HTTP/1.1\" 200 5 \"http://site/\" \"curl/8.0\"\n"
        );
        let peer = "[2001:db8::1]:443".parse().unwrap();
        let p = parts("HEAD", "http://site/x", Version::HTTP_2, &[]);
        assert_eq!(
            combined(peer, &p, &answer(404, "gone"), DATE),
            "2001:db8::1 - - [28/Nov/2026:00:11:22 +0000] \"HEAD /x HTTP/2.0\" 404 0 \"-\" \"-\"\n"
        );
    }

    #[test]
    fn targets_are_logged_as_sent() {
        let peer = "127.0.0.1:1".parse().unwrap();
        let logged = |p: Parts| combined(peer, &p, &answer(200, ""), DATE);
        let absolute = parts("GET", "http://site.test/a?b", Version::HTTP_11, &[]);
        assert!(logged(absolute).contains("\"GET http://site.test/a?b HTTP/1.1\""));
        let tunnel = parts("CONNECT", "site.test:443", Version::HTTP_11, &[]);
        assert!(logged(tunnel).contains("\"CONNECT site.test:443 HTTP/1.1\""));
        let mut websocket = parts("CONNECT", "http://site.test/ws/", Version::HTTP_2, &[]);
        websocket
            .extensions
            .insert(hyper::ext::Protocol::from_static("websocket"));
        assert!(logged(websocket).contains("\"CONNECT /ws/ HTTP/2.0\""));
    }

    #[test]
    fn refused_heads_are_logged_by_their_first_line() {
        let peer = "127.0.0.1:1".parse().unwrap();
        let mut out = String::new();
        start_line(&mut out, peer, DATE);
        escape(&mut out, b"\x16\x03\x01 \"x");
        end_line(&mut out, StatusCode::BAD_REQUEST, Some(10), None, None);
        assert_eq!(
            out,
            "127.0.0.1 - - [28/Nov/2026:00:11:22 +0000] \"\\x16\\x03\\x01 \\x22x\" 400 10 \"-\" \"-\"\n"
        );
    }

    #[test]
    fn hostile_fields_cannot_forge_a_line() {
        let peer = "127.0.0.1:1".parse().unwrap();
        let p = parts(
            "GET",
            "/a",
            Version::HTTP_10,
            &[
                ("user-agent", b"x\" 200 1 \"-\" \"y\\"),
                ("referer", b"caf\xc3\xa9\tz"),
            ],
        );
        let line = combined(peer, &p, &answer(304, ""), DATE);
        assert_eq!(
            line,
            "127.0.0.1 - - [28/Nov/2026:00:11:22 +0000] \"GET /a HTTP/1.0\" 304 0 \"caf\\xC3\\xA9\\x09z\" \"x\\x22 200 1 \\x22-\\x22 \\x22y\\x5C\"\n"
        );
        assert_eq!(line.matches('\n').count(), 1);
        assert_eq!(line.matches('"').count(), 6);
    }

    #[test]
    fn targets_and_dates() {
        assert_eq!(Target::parse("off"), None);
        assert_eq!(Target::parse("-"), Some(Target::Stdout));
        assert_eq!(Target::parse("stderr"), Some(Target::Stderr));
        assert_eq!(
            Target::parse("/var/log/usher.log"),
            Some(Target::File("/var/log/usher.log".into()))
        );
        let mut out = String::new();
        push_clf_date(&mut out, "garbage");
        assert_eq!(out, "garbage");
    }
}
