//! CGI routes with real programs: Python scripts that dump their environment, echo, stream,
//! misbehave and fork; git-http-backend for `git clone` and `git push`.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::Duration;

use crate::support::{IO_TIMEOUT, Process, have, start, write};

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
path = "/git/"
cgi = { program = "/usr/lib/git-core/git-http-backend", env = { GIT_PROJECT_ROOT = "REPOS", GIT_HTTP_EXPORT_ALL = "" } }

[[site.route]]
path = "/"
files = {}
"#;

/// A site with the scripts in `scripts` (name, Python source) as executables in `cgi-bin/`.
fn site(scripts: &[(&str, &str)]) -> (tempfile::TempDir, Process) {
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
    std::fs::create_dir_all(dir.path().join("repos")).unwrap();
    let repos = dir.path().join("repos").display().to_string();
    let config = CONFIG.replace("PYTHON", &python).replace("REPOS", &repos);
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

fn get(addr: SocketAddr, target: &str) -> String {
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

fn body_json(answer: &str) -> serde_json::Value {
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
    let mut got = Vec::new();
    let mut buf = [0; 4096];
    while !String::from_utf8_lossy(&got).contains("first") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed before the first line");
        got.extend_from_slice(&buf[..n]);
    }
    assert!(!String::from_utf8_lossy(&got).contains("second"));
    std::fs::write(&marker, "").unwrap();
    s.read_to_end(&mut got).unwrap();
    assert!(String::from_utf8_lossy(&got).contains("second"));
}

#[test]
fn misbehaving_programs_get_502_or_504_problems() {
    let (_dir, p) = site(&[
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
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while alive() && std::time::Instant::now() < deadline {
        std::thread::yield_now();
    }
    assert!(!alive(), "the forked child {pid} is still running");
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
