//! CGI routes with real programs: Python scripts that dump their environment, echo, stream,
//! misbehave, fork, hang and write 1 GiB; git-http-backend for `git clone` and `git push`;
//! php-cgi for a PHP page.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::Duration;

use crate::support::{
    IO_TIMEOUT, Process, have, head_value, peak_rss_kib, read_some, split_head, start, within,
    write,
};

const CONFIG: &str = r#"
[server]
listen = ["127.0.0.1:0"]

[[site]]
root = "public"

[[site.route]]
path = "/cgi-bin/"
cgi = { dir = "cgi-bin", header-timeout = "2s", env = { EXTRA = "from-config" } }

[[site.route]]
path = "/py/"
cgi = { dir = "py", interpreter = "PYTHON" }

[[site.route]]
path = "/one-at-a-time/"
cgi = { dir = "cgi-bin", max-running = 1 }

[[site.route]]
path = "/idle/"
cgi = { dir = "cgi-bin", idle-timeout = "1s" }

[[site.route]]
path = "*.php"
cgi = { interpreter = "PHP_CGI" }

[[site.route]]
path = "/git/"
cgi = { program = "/usr/lib/git-core/git-http-backend", env = { GIT_PROJECT_ROOT = "REPOS", GIT_HTTP_EXPORT_ALL = "" } }

[[site.route]]
path = "/app/"
rewrite = { to = "/cgi-bin/env.py{?query}" }

[[site.route]]
path = "/"
files = {}
"#;

/// A site with the scripts in `scripts` (name, Python source) as executables in `cgi-bin/`.
pub(super) fn site(scripts: &[(&str, &str)]) -> (tempfile::TempDir, Process) {
    let dir = tempfile::tempdir().unwrap();
    let python = which("python3");
    write(dir.path(), "public/a.txt", "alpha\n");
    for (name, source) in scripts {
        let path = dir.path().join("cgi-bin").join(name);
        write(
            dir.path(),
            &format!("cgi-bin/{name}"),
            format!("#!{python}\n{source}"),
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        write(dir.path(), &format!("py/{name}"), source);
    }
    // Every directory the configuration names must exist when it loads.
    for named in ["repos", "cgi-bin", "py"] {
        std::fs::create_dir_all(dir.path().join(named)).unwrap();
    }
    let repos = dir.path().join("repos").display().to_string();
    let config = CONFIG
        .replace("PYTHON", &python)
        .replace("REPOS", &repos)
        .replace("PHP_CGI", PHP_CGI);
    write(dir.path(), "usher.toml", config);
    let p = start(&["-c", dir.path().join("usher.toml").to_str().unwrap()]);
    (dir, p)
}

fn which(program: &str) -> String {
    let out = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Send `request` raw and read the whole answer (the request should say Connection: close).
fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

pub(super) fn get(addr: SocketAddr, target: &str) -> String {
    exchange(
        addr,
        format!("GET {target} HTTP/1.1\r\nHost: cgi.test\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

const ENV_DUMP: &str = r#"import json, os
print("Content-Type: application/json")
print()
print(json.dumps(dict(os.environ)))
"#;

pub(super) fn body_json(answer: &str) -> serde_json::Value {
    let (_, body) = answer.split_once("\r\n\r\n").expect("a head");
    // The body may be chunked: take the JSON object between the first { and the last }.
    let start = body.find('{').expect("json");
    let end = body.rfind('}').expect("json");
    serde_json::from_str(&body[start..=end]).unwrap()
}

#[test]
fn the_environment_follows_rfc_3875() {
    let (_dir, p) = site(&[("env.py", ENV_DUMP)]);
    let addr = p.addrs[0];
    let answer = exchange(
        addr,
        b"POST /cgi-bin/env.py/extra/path?a=1 HTTP/1.1\r\nHost: cgi.test:81\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nX-Custom: v\r\nProxy: http://evil\r\nAuthorization: Basic YTpi\r\nConnection: close\r\n\r\nabc",
    );
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    let env = body_json(&answer);
    let expect = [
        ("GATEWAY_INTERFACE", "CGI/1.1"),
        ("REQUEST_METHOD", "POST"),
        ("SCRIPT_NAME", "/cgi-bin/env.py"),
        ("PATH_INFO", "/extra/path"),
        ("QUERY_STRING", "a=1"),
        ("CONTENT_LENGTH", "3"),
        ("CONTENT_TYPE", "text/plain"),
        ("SERVER_NAME", "cgi.test"),
        ("SERVER_PROTOCOL", "HTTP/1.1"),
        ("REMOTE_ADDR", "127.0.0.1"),
        ("HTTP_X_CUSTOM", "v"),
        ("REQUEST_URI", "/cgi-bin/env.py/extra/path?a=1"),
        ("REDIRECT_STATUS", "200"),
        ("EXTRA", "from-config"),
        ("SERVER_PORT", &addr.port().to_string()),
    ];
    for (name, value) in expect {
        assert_eq!(env[name], value, "{name}");
    }
    for absent in [
        "HTTP_PROXY",
        "HTTP_AUTHORIZATION",
        "HOME",
        "CARGO_MANIFEST_DIR",
    ] {
        assert!(env.get(absent).is_none(), "{absent} must not be set");
    }
    assert!(
        env["SCRIPT_FILENAME"]
            .as_str()
            .unwrap()
            .ends_with("/cgi-bin/env.py")
    );
}

/// TRACE never reaches a program of a route that does not name it (RFC 9110 §9.3.8:
/// cross-site tracing): 405 with `Allow`, as on a proxy route; other methods do.
#[test]
fn trace_is_not_handed_to_a_program() {
    let (_dir, p) = site(&[("env.py", ENV_DUMP)]);
    let ask = |method: &str| {
        exchange(
            p.addrs[0],
            format!("{method} /cgi-bin/env.py HTTP/1.1\r\nHost: h\r\nCookie: s=1\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
    };
    let answer = ask("TRACE");
    let (head, _) = split_head(answer.as_bytes());
    assert!(head.starts_with("HTTP/1.1 405 "), "{answer}");
    assert!(
        !answer.contains("GATEWAY_INTERFACE"),
        "the program ran: {answer}"
    );
    let allow = head_value(&head, "allow").unwrap_or_default();
    assert!(
        allow.contains("POST") && !allow.contains("TRACE"),
        "{allow}"
    );
    assert_eq!(body_json(&ask("DELETE"))["REQUEST_METHOD"], "DELETE");
    // Nor in another case, which a framework upper-casing methods would take as TRACE.
    let answer = ask("trace");
    assert!(
        answer.starts_with("HTTP/1.1 405 ") && !answer.contains("GATEWAY_INTERFACE"),
        "{answer}"
    );
}

/// Paths in a config file named by a relative path (`usher -c usher.toml`, the README's
/// way) still name the same files once a program runs in its own directory: the program
/// starts, and DOCUMENT_ROOT and PATH_TRANSLATED are absolute (RFC 3875 §4.1.6: "the
/// absolute path of the document root"; a relative one means nothing in the script's
/// directory).
#[test]
fn a_config_named_relative_to_the_working_directory_runs_its_programs() {
    let dir = tempfile::tempdir().unwrap();
    let python = which("python3");
    write(dir.path(), "site/public/a.txt", "alpha\n");
    let script = dir.path().join("site/cgi-bin/env.py");
    write(
        dir.path(),
        "site/cgi-bin/env.py",
        format!("#!{python}\n{ENV_DUMP}"),
    );
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    // The file sits in a directory of its own and reaches the site through `..`.
    write(
        dir.path(),
        "conf/usher.toml",
        "[server]\nlisten = [\"127.0.0.1:0\"]\n[[site]]\nroot = \"../site/public\"\n\
         [[site.route]]\npath = \"/cgi-bin/\"\ncgi = { dir = \"../site/cgi-bin\" }\n",
    );
    let mut cmd = crate::support::usher();
    cmd.current_dir(dir.path()).args(["-c", "conf/usher.toml"]);
    let p = crate::support::start_command(cmd);
    let answer = get(p.addrs[0], "/cgi-bin/env.py/x");
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    let env = body_json(&answer);
    let site = dir.path().canonicalize().unwrap().join("site");
    let public = site.join("public").display().to_string();
    assert_eq!(env["DOCUMENT_ROOT"], public.as_str());
    assert_eq!(env["PATH_TRANSLATED"], format!("{public}/x").as_str());
    let filename = site.join("cgi-bin/env.py").display().to_string();
    assert_eq!(env["SCRIPT_FILENAME"], filename.as_str());
}

const ECHO: &str = r#"import sys
data = sys.stdin.buffer.read()
sys.stdout.write("Content-Type: application/octet-stream\r\nStatus: 201 Created\r\n\r\n")
sys.stdout.flush()
sys.stdout.buffer.write(data)
"#;

#[test]
fn request_content_streams_in_and_the_answer_out_with_the_programs_status() {
    let (_dir, p) = site(&[("echo.py", ECHO)]);
    let addr = p.addrs[0];
    let answer = exchange(
        addr,
        b"POST /cgi-bin/echo.py HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 201 Created\r\n"), "{answer}");
    assert!(answer.contains("hello world"), "{answer}");
    // Several MiB through an interpreter route, with a declared length.
    let big = vec![b'x'; 3 * 1024 * 1024];
    let mut request = format!(
        "POST /py/echo.py HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        big.len()
    )
    .into_bytes();
    request.extend_from_slice(&big);
    let answer = exchange(addr, &request);
    assert!(
        answer.starts_with("HTTP/1.1 201 "),
        "{}",
        &answer[..200.min(answer.len())]
    );
    assert_eq!(answer.matches('x').count(), big.len());
}

/// Chunked content that breaks its framing gets a 400 naming what was wrong, and the program
/// never runs on a part of it.
#[test]
fn malformed_chunked_content_is_a_400_that_says_why() {
    let (_dir, p) = site(&[("echo.py", ECHO)]);
    let answer = exchange(
        p.addrs[0],
        b"POST /cgi-bin/echo.py HTTP/1.1\r\nHost: h\r\nAccept: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\nzz\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(
        answer.contains("could not be read to its end: ") && answer.contains("chunk size"),
        "{answer}"
    );
    assert!(!answer.contains("hello"), "{answer}");
}

/// A front controller reached through a rewrite gets the target the client sent as
/// `REQUEST_URI` (as nginx's `$request_uri`), and its own name as `SCRIPT_NAME`: the
/// application routes on the address asked for, not on its own.
#[test]
fn a_rewritten_request_keeps_its_request_uri() {
    let (_dir, p) = site(&[("env.py", ENV_DUMP)]);
    let env = body_json(&get(p.addrs[0], "/app/users/7?tab=posts"));
    assert_eq!(env["REQUEST_URI"], "/app/users/7?tab=posts");
    assert_eq!(env["SCRIPT_NAME"], "/cgi-bin/env.py");
    assert_eq!(env["QUERY_STRING"], "tab=posts");
    // Without a rewrite, the target itself.
    let env = body_json(&get(p.addrs[0], "/cgi-bin/env.py?tab=posts"));
    assert_eq!(env["REQUEST_URI"], "/cgi-bin/env.py?tab=posts");
}

/// Content with a declared length that breaks off (the client sends 2 of 10 bytes, then
/// nothing) gets a 400 once the read timeout passes (30 s): the program is ended, never left
/// to read the cut as the content's end and answer a request it got only part of (RFC 9112
/// §8: such a message is incomplete). The one slow test here: the timeout is fixed.
#[test]
fn content_that_stalls_is_a_400_and_the_program_never_answers_it() {
    let (_dir, p) = site(&[("echo.py", ECHO)]);
    let mut s = TcpStream::connect(p.addrs[0]).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.write_all(
        b"POST /py/echo.py HTTP/1.1\r\nHost: h\r\nAccept: text/plain\r\nContent-Length: 10\r\n\r\nab",
    )
    .unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(answer.contains("stopped sending"), "{answer}");
    assert!(!answer.contains("ab"), "{answer}");
}

/// Content without a declared length (chunked) is stored first, so that CONTENT_LENGTH
/// gives its length, as RFC 3875 §4.1.2 requires ("MUST set ... if and only if the request
/// is accompanied by a message-body"); php-cgi reads only that much.
#[test]
fn chunked_content_reaches_the_program_with_its_length() {
    const LENGTH_AND_INPUT: &str = r#"import os, sys
data = sys.stdin.buffer.read()
sys.stdout.write("Content-Type: text/plain\r\n\r\n")
sys.stdout.write("length=%s read=%d\n" % (os.environ.get("CONTENT_LENGTH", "-"), len(data)))
"#;
    let (dir, p) = site(&[("len.py", LENGTH_AND_INPUT)]);
    let addr = p.addrs[0];
    let answer = exchange(
        addr,
        b"POST /cgi-bin/len.py HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert!(answer.contains("length=11 read=11"), "{answer}");
    // More than is kept in memory: stored in a temporary file, read back whole.
    let big = 200 * 1024;
    let mut request =
        b"POST /cgi-bin/len.py HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
    for _ in 0..big / 1024 {
        request.extend_from_slice(b"400\r\n");
        request.extend_from_slice(&[b'x'; 1024]);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let answer = exchange(addr, &request);
    assert!(
        answer.contains(&format!("length={big} read={big}")),
        "{answer}"
    );
    // php-cgi sees the form that came chunked.
    if have(PHP_CGI) || std::env::var_os("CI").is_some() {
        write(
            dir.path(),
            "public/post.php",
            "<?php echo 'a=', $_POST['a'] ?? '-';",
        );
        let answer = exchange(
            addr,
            b"POST /post.php HTTP/1.1\r\nHost: h\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\na=1\r\n0\r\n\r\n",
        );
        assert!(answer.contains("a=1"), "{answer}");
    }
}

#[test]
fn slow_output_reaches_the_client_as_it_is_written() {
    // The program writes one line, then waits for a file the test creates only after that
    // line has arrived: if usher held the output back, the test would time out.
    let dir_marker = tempfile::tempdir().unwrap();
    let marker = dir_marker.path().join("go");
    let source = format!(
        r#"import os, sys, time
sys.stdout.write("Content-Type: text/plain\n\nfirst\n")
sys.stdout.flush()
for _ in range(2000):
    if os.path.exists({marker:?}):
        break
    time.sleep(0.01)
sys.stdout.write("second\n")
"#,
        marker = marker.display().to_string()
    );
    let (_dir, p) = site(&[("slow.py", &source)]);
    let mut s = TcpStream::connect(p.addrs[0]).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.write_all(b"GET /cgi-bin/slow.py HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        .unwrap();
    crate::support::assert_streamed(&mut s, &marker);
}

#[test]
fn misbehaving_programs_get_502_or_504_problems() {
    let (dir, p) = site(&[
        ("bad.py", "print('this is not a header')\nprint()\n"),
        ("silent.py", "import sys\nsys.exit(3)\n"),
        ("hang.py", "import time\ntime.sleep(600)\n"),
    ]);
    let addr = p.addrs[0];
    for (script, status) in [("bad.py", "502"), ("silent.py", "502"), ("hang.py", "504")] {
        let answer = exchange(
            addr,
            format!("GET /cgi-bin/{script} HTTP/1.1\r\nHost: h\r\nAccept: application/problem+json\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status} ")),
            "{script}: {answer}"
        );
        assert!(answer.contains("request_id"), "{answer}");
        assert!(!answer.contains("cgi-bin/"), "no internal path: {answer}");
    }
    assert!(get(addr, "/cgi-bin/missing.py").starts_with("HTTP/1.1 404 "));
    // A file that may not be executed is not a failing program: 403, saying why; and a head
    // of other fields alone is a document, without a type.
    std::fs::set_permissions(
        dir.path().join("cgi-bin/bad.py"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let answer = get(addr, "/cgi-bin/bad.py");
    assert!(
        answer.starts_with("HTTP/1.1 403 ") && answer.contains("not executable"),
        "{answer}"
    );
    write(
        dir.path(),
        "cgi-bin/plain.py",
        format!("#!{}\nprint('X-Only: 1\\n\\nhi')\n", which("python3")),
    );
    std::fs::set_permissions(
        dir.path().join("cgi-bin/plain.py"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let answer = get(addr, "/cgi-bin/plain.py");
    let (head, body) = split_head(answer.as_bytes());
    assert!(
        head.starts_with("HTTP/1.1 200 ") && head_value(&head, "content-type").is_none(),
        "{answer}"
    );
    assert!(String::from_utf8_lossy(body).contains("hi"), "{answer}");
}

/// Children a program forks die with it: nothing outlives the request.
#[test]
fn a_forked_child_does_not_outlive_the_request() {
    let dir_pid = tempfile::tempdir().unwrap();
    let pid_file = dir_pid.path().join("child.pid");
    let source = format!(
        r#"import os, sys, time
pid = os.fork()
if pid == 0:
    time.sleep(600)
    os._exit(0)
open({pid_file:?}, "w").write(str(pid))
print("Content-Type: text/plain")
print()
print("parent done")
"#,
        pid_file = pid_file.display().to_string()
    );
    let (_dir, p) = site(&[("fork.py", &source)]);
    let answer = get(p.addrs[0], "/cgi-bin/fork.py");
    assert!(answer.contains("parent done"), "{answer}");
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let alive = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|stat| stat.split(' ').nth(2).is_none_or(|state| state != "Z"))
    };
    assert!(
        within(Duration::from_secs(5), || !alive()),
        "the forked child {pid} is still running"
    );
}

/// A second Ctrl-C ends usher at once, and every program still running with it: none is
/// left behind, as none is when the grace period ends.
#[test]
fn a_second_signal_leaves_no_program_behind() {
    let dir_pid = tempfile::tempdir().unwrap();
    let pid_file = dir_pid.path().join("slow.pid");
    let source = format!(
        "import os, time\nopen({:?}, 'w').write(str(os.getpid()))\ntime.sleep(600)\n",
        pid_file.display().to_string()
    );
    let (_dir, p) = site(&[("slow.py", &source)]);
    let mut s = TcpStream::connect(p.addrs[0]).unwrap();
    s.write_all(b"GET /cgi-bin/slow.py HTTP/1.1\r\nHost: h\r\n\r\n")
        .unwrap();
    assert!(
        within(IO_TIMEOUT, || std::fs::read_to_string(&pid_file)
            .is_ok_and(|p| !p.is_empty())),
        "the program started"
    );
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    p.signal("-INT");
    p.wait_for_log("Ctrl-C again", IO_TIMEOUT)
        .expect("the first signal is taken");
    p.signal("-INT");
    let status = p.wait_within(IO_TIMEOUT).expect("exits at once");
    assert_eq!(status.code(), Some(130));
    let alive = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|stat| stat.split(' ').nth(2).is_none_or(|state| state != "Z"))
    };
    assert!(
        within(Duration::from_secs(5), || !alive()),
        "program {pid} outlived usher"
    );
}

#[test]
fn a_local_redirect_is_answered_by_the_server() {
    let (_dir, p) = site(&[("moved.py", "print('Location: /a.txt')\nprint()\n")]);
    let answer = get(p.addrs[0], "/cgi-bin/moved.py");
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert!(answer.ends_with("alpha\n"), "{answer}");
}

/// `git clone` and `git push` of several MiB over HTTP through git-http-backend.
#[test]
fn git_clone_and_push_through_git_http_backend() {
    if !Path::new("/usr/lib/git-core/git-http-backend").exists() && !have("git") {
        assert!(
            std::env::var_os("CI").is_none(),
            "git must be installed under CI"
        );
        return;
    }
    let (dir, p) = site(&[]);
    let git = |args: &[&str], cwd: &Path| {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(cwd)
            .env("GIT_TERMINAL_PROMPT", "0")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let repos = dir.path().join("repos");
    git(&["init", "--bare", "-q", "project.git"], &repos);
    git(
        &["config", "http.receivepack", "true"],
        &repos.join("project.git"),
    );
    let work = tempfile::tempdir().unwrap();
    let url = format!("http://{}/git/project.git", p.addrs[0]);
    git(&["clone", "-q", &url, "clone"], work.path());
    let clone = work.path().join("clone");
    let blob: Vec<u8> = (0..6 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(clone.join("blob.bin"), &blob).unwrap();
    git(
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "add",
            "blob.bin",
        ],
        &clone,
    );
    git(
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-q",
            "-m",
            "blob",
        ],
        &clone,
    );
    git(
        &[
            "-c",
            "http.postBuffer=65536",
            "push",
            "-q",
            "origin",
            "HEAD:main",
        ],
        &clone,
    );
    git(&["clone", "-q", "-b", "main", &url, "again"], work.path());
    assert!(std::fs::read(work.path().join("again/blob.bin")).unwrap() == blob);
}

/// Debian's php-cgi (package `php-cgi`; scripts/test.sh installs it).
const PHP_CGI: &str = "/usr/bin/php-cgi";

/// How long a test waits for a program to start or to be gone.
const PROCESS_LIMIT: Duration = Duration::from_secs(10);

/// Whether process `pid` is gone: killed and reaped, not even a zombie.
fn gone(pid: &str) -> bool {
    !Path::new(&format!("/proc/{pid}")).exists()
}

/// The pid a program wrote to `file` before its answer.
fn pid_in(file: &Path) -> String {
    let pid = std::fs::read_to_string(file).unwrap();
    assert!(pid.parse::<u32>().is_ok(), "{pid:?}");
    pid
}

/// Send a GET for `target` on a new connection, without reading the answer.
pub(super) fn send_get(addr: SocketAddr, target: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.write_all(
        format!("GET {target} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .unwrap();
    s
}

/// Read from `s` until `got` contains `text`.
fn read_until(s: &mut TcpStream, got: &mut Vec<u8>, text: &str) {
    let mut buf = [0; 64 * 1024];
    while !String::from_utf8_lossy(got).contains(text) {
        let n = read_some(s, &mut buf);
        assert!(
            n > 0,
            "closed before {text:?}: {}",
            String::from_utf8_lossy(got)
        );
        got.extend_from_slice(&buf[..n]);
    }
}

/// What the 1 GiB program writes, and the most usher's peak RSS may reach meanwhile.
const GIB: u64 = 1024 * 1024 * 1024;
const CGI_RSS_LIMIT_KIB: u64 = 100 * 1024;

const GIGABYTE: &str = r#"import sys
out = sys.stdout.buffer
out.write(b"Content-Type: application/octet-stream\r\nContent-Length: 1073741824\r\n\r\n")
block = b"x" * (1024 * 1024)
for _ in range(1024):
    out.write(block)
"#;

#[test]
fn a_program_writing_1_gib_streams_in_bounded_memory() {
    let (_dir, p) = site(&[("gigabyte.py", GIGABYTE)]);
    let mut s = send_get(p.addrs[0], "/cgi-bin/gigabyte.py");
    let mut buf = vec![0u8; 1 << 20];
    let mut got = Vec::new();
    let (head, mut total) = loop {
        let n = read_some(&mut s, &mut buf);
        assert!(n > 0, "closed inside the head");
        got.extend_from_slice(&buf[..n]);
        if got.windows(4).any(|w| w == b"\r\n\r\n") {
            let (head, body) = split_head(&got);
            break (head, body.len() as u64);
        }
    };
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert_eq!(head_value(&head, "content-length"), Some("1073741824"));
    let mut last = 0;
    loop {
        let n = read_some(&mut s, &mut buf);
        if n == 0 {
            break;
        }
        total += n as u64;
        last = buf[n - 1];
    }
    assert_eq!(total, GIB);
    assert_eq!(last, b'x');
    let peak = peak_rss_kib(p.pid());
    assert!(
        peak < CGI_RSS_LIMIT_KIB,
        "usher's peak RSS was {peak} KiB streaming 1 GiB from a program"
    );
}

const OK: &str = "print('Content-Type: text/plain')\nprint()\nprint('ok')\n";

#[test]
fn past_max_running_a_request_gets_503_with_retry_after() {
    // The first run writes `started`, then waits for `go`: while it waits, the route's one
    // slot is taken.
    let marks = tempfile::tempdir().unwrap();
    let started = marks.path().join("started");
    let go = marks.path().join("go");
    let source = format!(
        r#"import os, time
open({started:?}, "w").write(str(os.getpid()))
for _ in range(2000):
    if os.path.exists({go:?}):
        break
    time.sleep(0.01)
print("Content-Type: text/plain")
print()
print("through the gate")
"#,
        started = started.display().to_string(),
        go = go.display().to_string()
    );
    let (_dir, p) = site(&[("gate.py", &source), ("ok.py", OK)]);
    let addr = p.addrs[0];
    let mut first = send_get(addr, "/one-at-a-time/gate.py");
    assert!(
        within(PROCESS_LIMIT, || started.exists()),
        "the first run did not start"
    );
    std::fs::remove_file(&started).unwrap();
    let second = get(addr, "/one-at-a-time/gate.py");
    assert!(second.starts_with("HTTP/1.1 503 "), "{second}");
    let (head, _) = split_head(second.as_bytes());
    let retry = head_value(&head, "retry-after").expect("Retry-After");
    assert!(retry.parse::<u64>().is_ok_and(|s| s > 0), "{retry}");
    // The advice once, with its time.
    assert_eq!(second.matches("Try again").count(), 1, "{second}");
    assert!(!started.exists(), "the refused request ran the program");
    // The limit is the route's: another program on it waits too, one on another route runs.
    assert!(get(addr, "/one-at-a-time/ok.py").starts_with("HTTP/1.1 503 "));
    assert!(get(addr, "/cgi-bin/ok.py").starts_with("HTTP/1.1 200 "));
    std::fs::write(&go, "").unwrap();
    let mut answer = Vec::new();
    first.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert!(answer.contains("through the gate"), "{answer}");
    // The slot is free again once the first answer has ended.
    let third = get(addr, "/one-at-a-time/gate.py");
    assert!(third.starts_with("HTTP/1.1 200 "), "{third}");
}

#[test]
fn a_program_silent_past_idle_timeout_is_cut_and_killed() {
    let marks = tempfile::tempdir().unwrap();
    let pid_file = marks.path().join("pid");
    let source = format!(
        r#"import os, sys, time
open({pid_file:?}, "w").write(str(os.getpid()))
sys.stdout.write("Content-Type: text/plain\n\nfirst line\n")
sys.stdout.flush()
time.sleep(600)
"#,
        pid_file = pid_file.display().to_string()
    );
    let (_dir, p) = site(&[("idle.py", &source)]);
    let sent = std::time::Instant::now();
    let mut s = send_get(p.addrs[0], "/idle/idle.py");
    let mut got = Vec::new();
    read_until(&mut s, &mut got, "first line\n");
    // The rest: EOF or a reset, but before the read timeout, and never the last chunk.
    let mut rest = Vec::new();
    match s.read_to_end(&mut rest) {
        Ok(_) => {}
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }
    assert!(
        sent.elapsed() >= Duration::from_secs(1),
        "cut before idle-timeout"
    );
    got.extend_from_slice(&rest);
    let (head, body) = split_head(&got);
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert_eq!(head_value(&head, "transfer-encoding"), Some("chunked"));
    let body = String::from_utf8_lossy(body);
    assert!(
        !body.ends_with("0\r\n\r\n"),
        "a cut answer must not look complete: {body:?}"
    );
    let pid = pid_in(&pid_file);
    assert!(
        within(PROCESS_LIMIT, || gone(&pid)),
        "the silent program {pid} is still there"
    );
}

#[test]
fn a_client_that_goes_away_mid_answer_ends_the_program() {
    // The program ignores its broken stdout and sleeps: only usher can end it.
    let marks = tempfile::tempdir().unwrap();
    let pid_file = marks.path().join("pid");
    let source = format!(
        r#"import os, sys, time
open({pid_file:?}, "w").write(str(os.getpid()))
out = sys.stdout.buffer
out.write(b"Content-Type: application/octet-stream\r\n\r\n")
block = b"y" * 65536
try:
    while True:
        out.write(block)
        out.flush()
except BrokenPipeError:
    pass
time.sleep(600)
"#,
        pid_file = pid_file.display().to_string()
    );
    let (_dir, p) = site(&[("forever.py", &source)]);
    let mut s = send_get(p.addrs[0], "/cgi-bin/forever.py");
    let mut got = Vec::new();
    read_until(&mut s, &mut got, "yyyyyyyy");
    let pid = pid_in(&pid_file);
    assert!(!gone(&pid), "the program ended on its own");
    drop(s);
    assert!(
        within(PROCESS_LIMIT, || gone(&pid)),
        "the program {pid} outlived its client"
    );
}

#[test]
fn php_cgi_runs_a_php_page() {
    if !Path::new(PHP_CGI).exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "php-cgi must be installed under CI (scripts/test.sh installs it)"
        );
        return;
    }
    let (dir, p) = site(&[]);
    write(
        dir.path(),
        "public/hello.php",
        "<?php\necho 'x=', $_GET['x'], \"\\n\";\necho 'script=', $_SERVER['SCRIPT_NAME'], \"\\n\";\n",
    );
    let answer = get(p.addrs[0], "/hello.php?x=a%20b");
    let (head, body) = split_head(answer.as_bytes());
    assert!(head.starts_with("HTTP/1.1 200 "), "{answer}");
    assert!(
        head_value(&head, "content-type").is_some_and(|t| t.starts_with("text/html")),
        "{head}"
    );
    let body = String::from_utf8_lossy(body);
    assert!(body.contains("x=a b\n"), "{body}");
    assert!(body.contains("script=/hello.php\n"), "{body}");
    assert!(get(p.addrs[0], "/missing.php").starts_with("HTTP/1.1 404 "));
    // The extension in capitals is the glob's too: run, not sent as source by the files
    // route behind it.
    write(dir.path(), "public/Upper.PHP", "<?php echo 'r', 'an';");
    let answer = get(p.addrs[0], "/Upper.PHP");
    assert!(
        answer.starts_with("HTTP/1.1 200 ")
            && answer.contains("\r\nran\r\n")
            && !answer.contains("<?php"),
        "{answer}"
    );
    // An upload whose name does not match the route's glob is not a program, though a
    // `.php` segment follows it.
    write(dir.path(), "public/uploads/evil.jpg", "<?php echo 'ran';");
    for target in ["/uploads/evil.jpg/x.php", "/uploads/evil.jpg%2fx.php"] {
        let answer = get(p.addrs[0], target);
        assert!(
            answer.starts_with("HTTP/1.1 404 ") && !answer.contains("ran"),
            "{answer}"
        );
    }
}

/// A program that goes silent is ended as soon as its client leaves, whether before its head
/// or after part of its answer, not at `header-timeout` (60 s) or `idle-timeout` (300 s) (a
/// program's answer can be silent for minutes: a long poll, a slow report).
#[test]
fn a_client_that_goes_away_before_the_head_ends_the_program() {
    client_leaves_a_silent_program("");
}

#[test]
fn a_client_that_goes_away_while_the_answer_is_silent_ends_the_program() {
    client_leaves_a_silent_program(
        r#"sys.stdout.write("Content-Type: text/plain\r\n\r\nstarted\n")
sys.stdout.flush()
"#,
    );
}

/// A program that writes `prelude` and then sleeps: once it has started (and its prelude
/// has arrived), the client leaves, and the program must end.
fn client_leaves_a_silent_program(prelude: &str) {
    let marks = tempfile::tempdir().unwrap();
    let pid_file = marks.path().join("pid");
    let source = format!(
        r#"import os, sys, time
open({pid_file:?} + ".tmp", "w").write(str(os.getpid()))
os.rename({pid_file:?} + ".tmp", {pid_file:?})
{prelude}time.sleep(600)
"#,
        pid_file = pid_file.display().to_string()
    );
    let (_dir, p) = site(&[("mute.py", &source)]);
    // This route keeps the default timeouts: 60 s for the head, 300 s of silence.
    let mut s = send_get(p.addrs[0], "/one-at-a-time/mute.py");
    assert!(
        within(PROCESS_LIMIT, || pid_file.exists()),
        "the program did not start"
    );
    let pid = pid_in(&pid_file);
    if !prelude.is_empty() {
        let mut got = Vec::new();
        read_until(&mut s, &mut got, "started");
    }
    drop(s);
    let ended = within(PROCESS_LIMIT, || gone(&pid));
    if !ended {
        // Do not leave it behind when usher is killed at the end of the test.
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .status();
    }
    assert!(ended, "the program {pid} outlived its client");
}

/// A non-parsed-header program (`nph-*`) writes its own status line; usher sends its status
/// and fields (and still frames the answer itself).
#[test]
fn an_nph_program_sends_its_own_status_line() {
    let (_dir, p) = site(&[(
        "nph-raw.py",
        "import sys\nsys.stdout.write('HTTP/1.1 299 Custom\\r\\nContent-Type: text/plain\\r\\nX-Nph: yes\\r\\n\\r\\nraw body\\n')\n",
    )]);
    let answer = get(p.addrs[0], "/cgi-bin/nph-raw.py");
    assert!(answer.starts_with("HTTP/1.1 299 "), "{answer}");
    assert!(answer.contains("\r\nx-nph: yes\r\n"), "{answer}");
    assert!(answer.contains("raw body"), "{answer}");
}

/// With `user = "nobody"` (usher running as root), programs run as that user, without
/// root's groups.
#[test]
fn programs_run_as_the_configured_user() {
    if !nix_is_root() {
        return; // switching users needs root (CI runs as root); nothing to install for it
    }
    let dir = tempfile::tempdir().unwrap();
    // A shell script: an interpreter under /root (pyenv) would not be readable by nobody.
    write(
        dir.path(),
        "bin/who.py",
        "#!/bin/sh\necho 'Content-Type: text/plain'\necho\necho \"$(id -u) $(id -g) [$(id -G)]\"\n",
    );
    write(dir.path(), "public/a.txt", "a");
    for path in [
        dir.path().to_path_buf(),
        dir.path().join("bin"),
        dir.path().join("bin/who.py"),
    ] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    write(
        dir.path(),
        "usher.toml",
        "[server]\nlisten = [\"127.0.0.1:0\"]\n[[site]]\nroot = \"public\"\n[[site.route]]\npath = \"/bin/\"\ncgi = { dir = \"bin\", user = \"nobody\" }\n",
    );
    let p = start(&["-c", dir.path().join("usher.toml").to_str().unwrap()]);
    let answer = get(p.addrs[0], "/bin/who.py");
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    let (_, body) = answer.split_once("\r\n\r\n").unwrap();
    let nobody = std::process::Command::new("id")
        .args(["-u", "nobody"])
        .output()
        .unwrap();
    let uid = String::from_utf8(nobody.stdout).unwrap().trim().to_owned();
    assert!(
        body.contains(&format!("{uid} ")),
        "runs as nobody ({uid}): {body}"
    );
    assert!(
        !body.contains("[0") && !body.contains(" 0 "),
        "no root group: {body}"
    );
}

fn nix_is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// A program's stderr is logged in bounded pieces, within a budget per request: 64 MiB
/// written as one line neither grows usher by as much nor reaches the log whole.
#[test]
fn stderr_is_logged_in_bounded_pieces() {
    let (_dir, p) = site(&[(
        "noisy.py",
        "import sys\nchunk = 'e' * (1 << 20)\nfor _ in range(64):\n    sys.stderr.write(chunk)\n\
         sys.stderr.flush()\nprint('Content-Type: text/plain\\n\\ndone')\n",
    )]);
    let before = peak_rss_kib(p.pid());
    let answer = get(p.addrs[0], "/cgi-bin/noisy.py");
    assert!(
        answer.starts_with("HTTP/1.1 200 ") && answer.contains("done\n"),
        "{answer}"
    );
    let dropped = p
        .wait_for_log("more error output dropped", IO_TIMEOUT)
        .expect("the budget's end is logged");
    assert!(dropped.len() < 1024, "{dropped}");
    let grown = peak_rss_kib(p.pid()).saturating_sub(before);
    assert!(
        grown < 32 * 1024,
        "usher grew by {grown} KiB for 64 MiB of stderr"
    );
}
