//! One program run: start it in its own process group, stream the request content to its
//! stdin, its stderr to the log, its stdout back as the answer; and end it, always.
//!
//! The program is untrusted, so every way it can misbehave has an answer: it cannot start,
//! writes a malformed head, or exits before writing one: 502; it writes no head within
//! `header_timeout`: 504; it goes silent for `idle_timeout` once its answer has started: the
//! answer is cut. When the program exits, when the client goes away, or when a limit is hit,
//! its whole process group is killed and the program reaped, so children it forked are not
//! left behind (no orphans) and nothing is left unreaped (no zombies). A program that moves
//! itself to another session escapes the group; that is the operating system's boundary.

use std::io;
use std::process::Stdio;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt as _;
use http::request::Parts;
use http::{Response, StatusCode};
use http_body::{Body, Frame};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::mpsc;

use super::env::{EnvContext, build, with_length};
use super::output::{self, CgiHead, Kind};
use super::{Cgi, Script};
use crate::body::ResponseBody;
use crate::handlers::spool;
use crate::handlers::stderr_log::StderrLog;
use crate::problem::Problem;

/// Bytes read from the program's stdout at a time.
const READ_CHUNK: usize = 64 * 1024;

/// How long a program whose output has ended is given to exit, so that its status can tell
/// whether that output is whole (1 s): a program's stdout closes when it exits, so this is
/// its last moments; one that closed stdout and went on is then ended, as before.
const EXIT_GRACE: Duration = Duration::from_secs(1);

/// What a program answered.
#[derive(Debug)]
pub enum Answer {
    /// A response to send.
    Response(Response<ResponseBody>),
    /// `Location: /path` alone: answer the request for this path instead (RFC 3875 §6.2.2).
    LocalRedirect(String),
}

/// Where the request came from, and who sent it, for the environment.
#[derive(Debug, Clone, Copy)]
pub struct Peer<'a> {
    /// The client.
    pub remote: std::net::SocketAddr,
    /// The address it connected to.
    pub local: std::net::SocketAddr,
    /// The user the route's basic auth accepted (`REMOTE_USER`, `AUTH_TYPE=Basic`).
    pub user: Option<&'a str>,
}

/// Run `script` for the request `parts` with content `body`. `request_id` tags its log lines
/// and any 5xx answer.
pub async fn run<B>(
    cgi: &Cgi,
    script: &Script,
    parts: &Parts,
    body: B,
    peer: Peer<'_>,
    request_id: &str,
) -> Result<Answer, Problem>
where
    B: Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: std::fmt::Display + Send,
{
    let opts = &cgi.opts;
    let Ok(permit) = cgi.running.clone().try_acquire_owned() else {
        return Err(Problem::unavailable(
            "Too many requests are running this program at once.",
            1,
        ));
    };
    let (stored_length, body) = spool::content(parts, body, opts.max_body)
        .await
        .map_err(|p| p.with_request_id(request_id))?;
    let cx = EnvContext {
        peer: peer.remote,
        local: peer.local,
        document_root: &opts.document_root,
        pass_authorization: opts.pass_authorization,
        extra: &opts.env,
        inherit: &opts.inherit_env,
        user: peer.user,
    };
    let mut command = match &opts.interpreter {
        Some(interpreter) => {
            let mut c = Command::new(interpreter);
            c.arg(&script.file);
            c
        }
        None => Command::new(&script.file),
    };
    command
        .env_clear()
        .envs(with_length(build(parts, script, &cx), stored_length))
        .current_dir(script.file.parent().unwrap_or(&opts.document_root))
        .stdin(if body.is_end_stream() {
            Stdio::null()
        } else {
            Stdio::piped()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so that it and every child it forks can be killed at once.
        .process_group(0);
    if let Some((uid, gid)) = opts.run_as {
        // std drops root's supplementary groups before switching (setgroups(0)).
        command.uid(uid).gid(gid);
    }
    let child = command.spawn().map_err(|e| {
        // What could not be started: the interpreter, when the route names one.
        let started = opts.interpreter.as_deref().unwrap_or(&script.file);
        tracing::warn!(request_id, program = %script.file.display(), started = %started.display(), error = %e, "program could not be started");
        // A file the path names that may not be executed (a README in a cgi-bin, a script
        // without its x bit) is the site's choice not to run it, as Apache's 403, not a
        // failing program.
        if let Some(problem) = Problem::out_of_descriptors(&e) {
            return problem.with_request_id(request_id);
        }
        if opts.interpreter.is_none() && e.kind() == io::ErrorKind::PermissionDenied {
            let policy = "the file it names is not executable, so it is not run as a program";
            return Problem::forbidden(&script.name, policy).with_request_id(request_id);
        }
        failed("could not be started", request_id)
    })?;
    let group = child.id().map(|id| Pid::from_raw(id as i32));
    let mut guard = Group::new(child, group);
    let child = guard.child.as_mut().expect("just spawned");
    let mut broken = None;
    if let Some(stdin) = child.stdin.take() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(feed(body, stdin, tx));
        broken = Some(rx);
    }
    if let Some(stderr) = child.stderr.take() {
        tokio::spawn(log_stderr(
            stderr,
            script.file.display().to_string(),
            request_id.to_owned(),
        ));
    }
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let head = tokio::time::timeout(opts.header_timeout, async {
        tokio::select! {
            biased;
            (reason, _stdin) = broken_off(&mut broken) => Err(reason),
            head = read_head(&mut stdout, script.is_nph()) => Ok(head),
        }
    })
    .await;
    let head = match head {
        Ok(Err(reason)) => {
            // The program must not answer a request whose content it got only part of.
            guard.end().await;
            tracing::info!(request_id, program = %script.file.display(), "the request content broke off: {reason}");
            return Err(Problem::unreadable_content(&reason).with_request_id(request_id));
        }
        Ok(Ok(head)) => Ok(head),
        Err(elapsed) => Err(elapsed),
    };
    let (head, rest) = match head {
        Err(_) => {
            tracing::warn!(request_id, program = %script.file.display(), timeout = ?opts.header_timeout, "program wrote no header in time");
            guard.end().await;
            let mut problem = Problem::new(
                StatusCode::GATEWAY_TIMEOUT,
                "program-timeout",
                "Gateway Timeout",
            )
            .with_detail("The program that answers this address did not start its answer in time.");
            problem.request_id = Some(request_id.to_owned());
            return Err(problem);
        }
        Ok(Err(why)) => {
            let status = guard.end().await;
            let exit = status.map_or_else(|| "unknown".to_owned(), |s| s.to_string());
            tracing::warn!(request_id, program = %script.file.display(), exit, "program failed: {why}");
            return Err(failed(&why, request_id));
        }
        Ok(Ok(head)) => head,
    };
    let CgiHead {
        status,
        headers,
        kind,
        length,
    } = head;
    if let Kind::LocalRedirect(path) = kind {
        guard.end().await;
        return Ok(Answer::LocalRedirect(path));
    }
    let (tx, rx) = mpsc::channel(2);
    tokio::spawn(pump(
        guard,
        Output {
            program: script.file.display().to_string(),
            request_id: request_id.to_owned(),
            stdout,
            first: rest,
            length,
        },
        broken,
        tx,
        opts.idle_timeout,
        permit,
    ));
    let mut response = Response::new(ResponseBody::stream(ProgramBody { rx, left: length }));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Ok(Answer::Response(response))
}

/// A 502 that says the program failed, without naming it or its path.
fn failed(why: &str, request_id: &str) -> Problem {
    let _ = why; // the cause is in the log, with the request id
    let mut problem = Problem::new(StatusCode::BAD_GATEWAY, "program-failed", "Bad Gateway")
        .with_detail("The program that answers this address failed before giving a valid answer.");
    problem.request_id = Some(request_id.to_owned());
    problem
}

/// Read until the head is complete; the head and the body bytes read after it.
async fn read_head(stdout: &mut ChildStdout, nph: bool) -> Result<(CgiHead, Bytes), String> {
    let parse = if nph {
        output::parse_nph
    } else {
        output::parse
    };
    let mut buf = BytesMut::with_capacity(8 * 1024);
    loop {
        if let Some((head, consumed)) = parse(&buf).map_err(|e| e.to_string())? {
            let _ = buf.split_to(consumed);
            return Ok((head, buf.freeze()));
        }
        if stdout.read_buf(&mut buf).await.map_err(|e| e.to_string())? == 0 {
            return Err(if buf.is_empty() {
                "it exited without writing anything".to_owned()
            } else {
                "its output ended inside its header".to_owned()
            });
        }
    }
}

/// The request content broke off (the client stopped sending, or its chunked framing
/// failed): why, and the program's stdin, held open so that the program never reads the cut
/// as the content's end and answers a request it got only part of.
type BrokenOff = tokio::sync::oneshot::Receiver<(String, ChildStdin)>;

/// When the content breaks off; never, once it was all given (or there was none).
async fn broken_off(broken: &mut Option<BrokenOff>) -> (String, ChildStdin) {
    if let Some(rx) = broken {
        if let Ok(why) = rx.await {
            return why;
        }
        *broken = None;
    }
    std::future::pending().await
}

/// Copy the request content to the program's stdin, then close it (end of input). If the
/// content breaks off, stdin goes to `broken`, unclosed, with the reason.
async fn feed<B>(
    body: B,
    mut stdin: ChildStdin,
    broken: tokio::sync::oneshot::Sender<(String, ChildStdin)>,
) where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let mut frames = http_body_util::BodyStream::new(body);
    while let Some(frame) = frames.next().await {
        let data = match frame {
            Ok(frame) => frame.into_data(),
            Err(e) => {
                let _ = broken.send((e.to_string(), stdin));
                return;
            }
        };
        if let Ok(data) = data {
            if stdin.write_all(&data).await.is_err() {
                return; // the program stopped reading
            }
        }
    }
    let _ = stdin.shutdown().await;
}

/// Log what the program writes to stderr, a line at a time, tagged with the request, within
/// [`StderrLog`]'s bounds; all of it is read, so the program never blocks on a full pipe.
async fn log_stderr(mut stderr: tokio::process::ChildStderr, program: String, request_id: String) {
    let mut log = StderrLog::default();
    let mut emit = |line: &str| tracing::warn!(request_id, program, "program stderr: {line}");
    let mut buf = vec![0; 8192];
    while let Ok(n @ 1..) = stderr.read(&mut buf).await {
        log.feed(&buf[..n], &mut emit);
    }
    log.finish(&mut emit);
}

/// The program's answer after its head: the rest of stdout, what was read of it with the
/// head, and the length the head declared; and the program and request, for the log.
struct Output {
    program: String,
    request_id: String,
    stdout: ChildStdout,
    first: Bytes,
    length: Option<u64>,
}

/// Move the answer's body from the program to the client until either ends, then end the
/// program; cut the answer if the request content breaks off meanwhile. Holds the route's
/// running permit until then.
async fn pump(
    mut guard: Group,
    output: Output,
    mut broken: Option<BrokenOff>,
    tx: mpsc::Sender<io::Result<Bytes>>,
    idle: Duration,
    _permit: tokio::sync::OwnedSemaphorePermit,
) {
    let Output {
        program,
        request_id,
        mut stdout,
        first,
        length,
    } = output;
    let mut left = Remaining(length);
    let mut exited = false;
    if !first.is_empty() && tx.send(Ok(left.cut(first))).await.is_err() {
        guard.end().await;
        return;
    }
    loop {
        if left.is_done() {
            break;
        }
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        let read = tokio::time::timeout(idle, stdout.read_buf(&mut buf));
        let read = match guard.child.as_mut().filter(|_| !exited) {
            // Once the program itself exits, kill what it left behind: children holding its
            // stdout open would otherwise keep the answer from ending. What they wrote
            // before is still read.
            Some(child) => tokio::select! {
                read = read => read,
                _ = child.wait() => {
                    exited = true;
                    guard.kill();
                    continue;
                }
                // The client went away while the program was silent (a long poll): end it
                // now, not when it next writes or at the idle timeout.
                () = tx.closed() => break,
                (reason, _stdin) = broken_off(&mut broken) => {
                    // An answer to part of a request must not look whole: cut it.
                    let _ = tx.send(Err(io::Error::other(reason))).await;
                    guard.end().await;
                    return;
                }
            },
            None => tokio::select! {
                read = read => read,
                () = tx.closed() => break,
            },
        };
        match read {
            Ok(Ok(0)) => {
                // An answer whose length only its end tells (chunked, or a close) must not
                // look whole when the program died writing it (RFC 9112 §7.1 and §6.3: a
                // recipient, a cache above all, takes a last chunk for a whole answer).
                if let Some(why) = guard.failure(EXIT_GRACE).await {
                    let e = io::Error::other(format!("the program {why} after its head"));
                    tracing::warn!(request_id, program, "{e}: the answer is cut");
                    let _ = tx.send(Err(e)).await;
                }
                break;
            }
            Ok(Ok(_)) => {
                if tx.send(Ok(left.cut(buf.freeze()))).await.is_err() {
                    break; // the client went away
                }
            }
            Ok(Err(e)) => {
                let _ = tx.send(Err(e)).await;
                break;
            }
            Err(_) => {
                let e = io::Error::new(io::ErrorKind::TimedOut, "the program went silent");
                let _ = tx.send(Err(e)).await;
                break;
            }
        }
    }
    if left.is_short() {
        let e = io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the program's output ended before its Content-Length",
        );
        let _ = tx.send(Err(e)).await;
    }
    guard.end().await;
}

/// What is left of an answer's declared Content-Length (`None`: none was declared). An
/// answer never goes past it: extra output is dropped.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Remaining(pub(crate) Option<u64>);

impl Remaining {
    /// `data`, cut to what the declared length still allows.
    pub(crate) fn cut(&mut self, data: Bytes) -> Bytes {
        match &mut self.0 {
            Some(left) => {
                let n = (*left).min(data.len() as u64) as usize;
                *left -= n as u64;
                data.slice(..n)
            }
            None => data,
        }
    }

    /// Whether the declared length has been reached.
    pub(crate) fn is_done(&self) -> bool {
        self.0 == Some(0)
    }

    /// Whether a declared length was not reached (the answer ended short).
    pub(crate) fn is_short(&self) -> bool {
        self.0.is_some_and(|left| left > 0)
    }
}

/// The program's process group; ended (killed and reaped) exactly once.
struct Group {
    child: Option<Child>,
    group: Option<Pid>,
}

/// Every program's group not yet ended, for [`kill_all`].
static RUNNING_GROUPS: std::sync::Mutex<Vec<Pid>> = std::sync::Mutex::new(Vec::new());

/// Kill every program still running: the process is about to exit at once (a second
/// Ctrl-C), which ends no request's future, so no [`Group`] would.
pub fn kill_all() {
    let groups = RUNNING_GROUPS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for group in groups.iter() {
        let _ = killpg(*group, Signal::SIGKILL);
    }
}

impl Group {
    fn new(child: Child, group: Option<Pid>) -> Self {
        if let Some(group) = group {
            RUNNING_GROUPS
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(group);
        }
        Group {
            child: Some(child),
            group,
        }
    }

    /// How the program failed, if it has exited within `grace` (its stdout is closed, so it
    /// is about to) and not with success: killed by a signal, or a failure status.
    async fn failure(&mut self, grace: Duration) -> Option<String> {
        let child = self.child.as_mut()?;
        let status = tokio::time::timeout(grace, child.wait()).await.ok()?.ok()?;
        if status.success() {
            return None;
        }
        Some(
            match std::os::unix::process::ExitStatusExt::signal(&status) {
                Some(signal) => {
                    let name = Signal::try_from(signal).map_or("a signal", Signal::as_str);
                    format!("was killed by {name}")
                }
                None => format!("exited with status {}", status.code().unwrap_or(-1)),
            },
        )
    }

    /// Kill whatever is left of the group and reap the program; its exit status.
    async fn end(&mut self) -> Option<std::process::ExitStatus> {
        self.kill();
        let mut child = self.child.take()?;
        child.wait().await.ok()
    }

    fn kill(&self) {
        if let Some(group) = self.group {
            // ESRCH (already gone) is the common, harmless case.
            let _ = killpg(group, Signal::SIGKILL);
            let mut running = RUNNING_GROUPS
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(at) = running.iter().position(|g| *g == group) {
                running.swap_remove(at);
            }
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        // Dropped without `end` (the request was cancelled): kill now, reap in the background.
        if let Some(mut child) = self.child.take() {
            self.kill();
            tokio::spawn(async move {
                let _ = child.wait().await;
            });
        }
    }
}

/// The answer's body: what the pump sends, with the program's Content-Length if it gave one.
pub(crate) struct ProgramBody {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    left: Option<u64>,
}

impl ProgramBody {
    /// The body fed by `rx`, declaring `length` bytes if known (FastCGI reuses it).
    pub(crate) fn new(rx: mpsc::Receiver<io::Result<Bytes>>, length: Option<u64>) -> Self {
        ProgramBody { rx, left: length }
    }
}

impl Body for ProgramBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.rx.poll_recv(cx).map(|item| {
            item.map(|r| {
                r.map(|data| {
                    if let Some(left) = &mut self.left {
                        *left = left.saturating_sub(data.len() as u64);
                    }
                    Frame::data(data)
                })
            })
        })
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match self.left {
            Some(n) => http_body::SizeHint::with_exact(n),
            None => http_body::SizeHint::default(),
        }
    }
}
