//! The access log: a line per request in the combined format, to stderr, stdout or a file,
//! from the command line or the config file; repeated answers (the express lane) are logged
//! too, and what a client sends cannot forge a line.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};

use crate::support::{IO_TIMEOUT, start, usher, within, write};

/// Send `request` (which says `Connection: close`) and read the whole answer.
fn ask(addr: SocketAddr, request: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn every_request_is_logged_in_the_combined_format() {
    let root = tempfile::tempdir().unwrap();
    write(root.path(), "a.txt", "alpha\n");
    let p = start(&[
        "serve",
        root.path().to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--access-log",
        "stderr",
    ]);
    let addr = p.addrs[0];
    let get = "GET /a.txt HTTP/1.1\r\nHost: x\r\nReferer: http://ref.test/\r\nUser-Agent: tester/1\r\n\r\n";
    // The same request three times on one connection: a repeat may be answered by the
    // express lane, which must not skip the log.
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    for _ in 0..3 {
        s.write_all(get.as_bytes()).unwrap();
        let mut answer = Vec::new();
        while !answer.ends_with(b"\r\n\r\nalpha\n") {
            let mut buf = [0u8; 1024];
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "closed");
            answer.extend_from_slice(&buf[..n]);
        }
        assert!(answer.starts_with(b"HTTP/1.1 200 "));
    }
    let logged = "\"GET /a.txt HTTP/1.1\" 200 6 \"http://ref.test/\" \"tester/1\"";
    for n in 0..3 {
        let line = p
            .wait_for_log(logged, IO_TIMEOUT)
            .unwrap_or_else(|| panic!("request {n} not logged"));
        assert!(line.starts_with("127.0.0.1 - - ["), "{line}");
        assert!(line.contains(" +0000] "), "{line}");
    }
    ask(
        addr,
        "HEAD /missing HTTP/1.0\r\nUser-Agent: evil\" 200 1 \"-\" \"x\r\n\r\n",
    );
    let line = p
        .wait_for_log("\"HEAD /missing HTTP/1.0\" 404 0", IO_TIMEOUT)
        .expect("the 404 logged");
    assert!(
        line.ends_with("\"-\" \"evil\\x22 200 1 \\x22-\\x22 \\x22x\""),
        "escaped: {line}"
    );
    // Refused before it was a request: logged by its first line, as nginx does.
    let out = ask(addr, "GARBAGE\x01 here\r\n\r\n");
    assert!(out.starts_with("HTTP/1.1 400 "), "{out}");
    p.wait_for_log("\"GARBAGE\\x01 here\" 400 ", IO_TIMEOUT)
        .expect("the refused head logged");
}

/// `access-log` in the config file names a file relative to the file's directory, appended
/// to; the command line's `off` overrides it.
#[test]
fn the_config_files_access_log_is_a_file_next_to_it() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "public/a.txt", "alpha\n");
    write(dir.path(), "logs/access.log", "an older line\n");
    write(
        dir.path(),
        "usher.toml",
        "[server]\nlisten = [\"127.0.0.1:0\"]\naccess-log = \"logs/access.log\"\n\n[[site]]\nroot = \"public\"\n",
    );
    let config = dir.path().join("usher.toml").display().to_string();
    let p = start(&["-c", &config]);
    ask(
        p.addrs[0],
        "GET /a.txt?q=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    p.signal("-TERM");
    assert!(p.wait_within(IO_TIMEOUT).expect("exits").success());
    let log = std::fs::read_to_string(dir.path().join("logs/access.log")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 2, "{log}");
    assert_eq!(lines[0], "an older line");
    assert!(
        lines[1].ends_with("\"GET /a.txt?q=1 HTTP/1.1\" 200 6 \"-\" \"-\""),
        "{log}"
    );
    // Turned off from the command line: nothing more is written.
    let p = start(&["-c", &config, "--access-log", "off"]);
    ask(
        p.addrs[0],
        "GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    p.signal("-TERM");
    assert!(p.wait_within(IO_TIMEOUT).expect("exits").success());
    let after = std::fs::read_to_string(dir.path().join("logs/access.log")).unwrap();
    assert_eq!(after, log);
}

/// A log whose directory is missing is caught by `usher check`, and usher does not start.
#[test]
fn a_log_in_a_missing_directory_is_an_error_before_serving() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "public/a.txt", "alpha\n");
    write(
        dir.path(),
        "usher.toml",
        "[server]\nlisten = [\"127.0.0.1:0\"]\naccess-log = \"nowhere/access.log\"\n\n[[site]]\nroot = \"public\"\n",
    );
    let config = dir.path().join("usher.toml").display().to_string();
    for command in [&["check", "-c", &config][..], &["-c", &config][..]] {
        let out = usher().args(command).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{command:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("access log") && err.contains("nowhere/access.log"),
            "{err}"
        );
    }
}

/// logrotate's `create` mode renames the log and sends SIGUSR1, as to nginx: the lines
/// before stay in the renamed file, and usher opens the file again for the next ones.
#[test]
fn sigusr1_opens_the_log_file_again() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "public/a.txt", "alpha\n");
    let log = dir.path().join("access.log");
    let p = start(&[
        "serve",
        dir.path().join("public").to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--access-log",
        log.to_str().unwrap(),
    ]);
    let get = |n: u32| {
        let request = format!("GET /a.txt?n={n} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assert!(ask(p.addrs[0], &request).starts_with("HTTP/1.1 200 "));
    };
    let written = |path: &std::path::Path, text: &str| {
        within(IO_TIMEOUT, || {
            std::fs::read_to_string(path).is_ok_and(|log| log.contains(text))
        })
    };
    get(1);
    assert!(written(&log, "?n=1 "), "the first line is written");
    let rotated = dir.path().join("access.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    p.signal("-USR1");
    p.wait_for_log("opened again", IO_TIMEOUT)
        .expect("the signal is taken");
    get(2);
    assert!(written(&log, "?n=2 "), "the next line goes to a new file");
    let old = std::fs::read_to_string(&rotated).unwrap();
    assert!(old.contains("?n=1 ") && !old.contains("?n=2 "), "{old}");
    p.signal("-TERM");
    assert!(p.wait_within(IO_TIMEOUT).expect("exits").success());
}
