//! FastCGI routes against a real php-fpm, started by each test on its own free port or temp
//! Unix socket with its own pool configuration, and stopped by its handle.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{IO_TIMEOUT, Process, exchange, head_value, read_some, start, unchunk, write};

/// How long php-fpm may take to listen.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// php-fpm's binary (Debian names it by PHP version: `/usr/sbin/php-fpm8.2`), or `None`.
/// Under CI a missing php-fpm fails the test: scripts/test.sh installs it.
pub(crate) fn php_fpm() -> Option<PathBuf> {
    let found = std::fs::read_dir("/usr/sbin").ok().and_then(|dir| {
        dir.filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("php-fpm"))
            })
            .min()
    });
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "php-fpm must be installed under CI (scripts/test.sh installs it)"
        );
    }
    found
}

/// A php-fpm master and its workers, in their own process group.
pub(crate) struct PhpFpm {
    binary: PathBuf,
    config: PathBuf,
    listen: String,
    child: Option<Child>,
}

impl PhpFpm {
    /// Write a pool configuration of `workers` workers listening on `listen` (an address or a
    /// socket path) in `dir`, start php-fpm on it and wait until it accepts connections.
    fn start(binary: PathBuf, dir: &Path, listen: &str, workers: u32) -> PhpFpm {
        let config = dir.join("php-fpm.conf");
        let d = dir.display();
        std::fs::write(
            &config,
            format!(
                "[global]\npid = {d}/php-fpm.pid\nerror_log = {d}/php-fpm.log\ndaemonize = no\n\
                 [www]\nlisten = {listen}\npm = static\npm.max_children = {workers}\nclear_env = no\n\
                 catch_workers_output = yes\n\
                 php_admin_value[upload_max_filesize] = 32M\n\
                 php_admin_value[post_max_size] = 32M\n"
            ),
        )
        .unwrap();
        let mut fpm = PhpFpm {
            binary,
            config,
            listen: listen.to_owned(),
            child: None,
        };
        fpm.run();
        fpm
    }

    fn run(&mut self) {
        let mut cmd = Command::new(&self.binary);
        cmd.args(["-n", "-F", "-y"]).arg(&self.config);
        if nix::unistd::geteuid().is_root() {
            cmd.arg("-R"); // php-fpm refuses root workers without it
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start php-fpm");
        self.child = Some(child);
        // Ready when it accepts a connection: bounded retries of a short blocking connect.
        let deadline = Instant::now() + READY_WITHIN;
        while !self.accepts() {
            assert!(
                Instant::now() < deadline,
                "php-fpm did not listen on {}",
                self.listen
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn accepts(&self) -> bool {
        match self.listen.parse::<SocketAddr>() {
            Ok(addr) => TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok(),
            Err(_) => UnixStream::connect(&self.listen).is_ok(),
        }
    }

    /// Stop php-fpm and its workers (SIGTERM to its group: immediate termination) and reap it.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let group = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGTERM);
            let _ = child.wait();
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        }
    }
}

impl Drop for PhpFpm {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A free TCP port on 127.0.0.1 (bound, then released for php-fpm).
fn free_addr() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

const PAGES: &[(&str, &str)] = &[
    (
        "public/hello.php",
        r#"<?php echo "x=", $_GET["x"] ?? "", " ", $_SERVER["SCRIPT_NAME"];"#,
    ),
    (
        "public/form.php",
        r#"<?php echo "name=", $_POST["name"] ?? "", " n=", $_POST["n"] ?? "", " m=", $_SERVER["REQUEST_METHOD"];"#,
    ),
    (
        "public/app/info.php",
        r#"<?php echo "script=", $_SERVER["SCRIPT_NAME"], " info=", $_SERVER["PATH_INFO"] ?? "", " file=", basename($_SERVER["SCRIPT_FILENAME"]);"#,
    ),
    (
        "public/upload.php",
        r#"<?php $f = $_FILES["file"] ?? null; echo $f ? ($f["error"] . " " . $f["size"] . " " . md5_file($f["tmp_name"])) : "none";"#,
    ),
    (
        "public/big.php",
        r#"<?php $block = str_repeat("z", 1048576); for ($i = 0; $i < 64; $i++) { echo $block; flush(); }"#,
    ),
    (
        "public/slow.php",
        r#"<?php echo "first\n"; flush(); $m = $_GET["marker"]; for ($i = 0; $i < 2000 && !file_exists($m); $i++) { usleep(10000); } echo "second\n";"#,
    ),
    (
        "public/made.php",
        r#"<?php http_response_code(201); header("X-From: php"); echo "made";"#,
    ),
    (
        "public/endless.php",
        r#"<?php $m = $_GET["marker"]; register_shutdown_function(function () use ($m) { file_put_contents($m, connection_aborted() ? "aborted" : "finished"); }); for ($i = 0; $i < 2000; $i++) { echo str_repeat("a", 4096), "\n"; flush(); usleep(10000); }"#,
    ),
    ("public/index.php", r#"<?php echo "the index";"#),
];

/// A site whose `/` is a fastcgi route to php-fpm with two workers, listening on TCP if `tcp`,
/// else on a Unix socket in the temp dir: the temp dir, php-fpm and usher.
fn site(tcp: bool) -> Option<(tempfile::TempDir, PhpFpm, Process)> {
    site_with(tcp, 2, plain)
}

/// The fastcgi table of [`site`] for php-fpm at `address`.
fn plain(address: &str) -> String {
    format!(
        r#"address = "{address}", root = "public", index = "index.php", split-path = ".php", header-timeout = "5s""#
    )
}

/// [`site`] with php-fpm running `workers` workers, and the route's `fastcgi = { ... }` table
/// written by `table` from php-fpm's address.
pub(crate) fn site_with(
    tcp: bool,
    workers: u32,
    table: impl Fn(&str) -> String,
) -> Option<(tempfile::TempDir, PhpFpm, Process)> {
    let binary = php_fpm()?;
    let dir = tempfile::tempdir().unwrap();
    for (path, source) in PAGES {
        write(dir.path(), path, source);
    }
    let listen = if tcp {
        free_addr()
    } else {
        dir.path().join("fpm.sock").display().to_string()
    };
    let fpm = PhpFpm::start(binary, dir.path(), &listen, workers);
    let address = if tcp {
        listen.clone()
    } else {
        format!("unix:{listen}")
    };
    let table = table(&address);
    let config = format!(
        r#"
[server]
listen = ["127.0.0.1:0"]

[[site]]
root = "public"

[[site.route]]
path = "/"
fastcgi = {{ {table} }}
"#
    );
    write(dir.path(), "usher.toml", config);
    let usher = start(&["-c", dir.path().join("usher.toml").to_str().unwrap()]);
    Some((dir, fpm, usher))
}

fn get(addr: SocketAddr, target: &str) -> (String, String) {
    exchange(
        addr,
        &format!("GET {target} HTTP/1.1\r\nHost: php.test\r\nConnection: close\r\n\r\n"),
    )
}

pub(crate) fn page(addr: SocketAddr, target: &str) -> (String, String) {
    let (head, body) = get(addr, target);
    let body = unchunk(&head, &body);
    (head, body)
}

#[test]
fn php_fpm_answers_a_page_over_tcp_and_a_unix_socket() {
    for tcp in [true, false] {
        let Some((_dir, _fpm, usher)) = site(tcp) else {
            return;
        };
        let addr = usher.addrs[0];
        for _ in 0..3 {
            // Several requests: the kept-alive connection is reused.
            let (head, body) = page(addr, "/hello.php?x=a%20b");
            assert!(head.starts_with("HTTP/1.1 200 "), "{head}\n{body}");
            assert!(
                head_value(&head, "content-type").is_some_and(|t| t.starts_with("text/html")),
                "{head}"
            );
            assert_eq!(body, "x=a b /hello.php");
        }
        let (head, body) = page(addr, "/");
        assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
        assert_eq!(body, "the index");
        let (head, _) = page(addr, "/missing.php");
        assert!(head.starts_with("HTTP/1.1 404 "), "{head}");
    }
}

#[test]
fn a_posted_form_reaches_post() {
    let Some((_dir, _fpm, usher)) = site(true) else {
        return;
    };
    let form = "name=us%20her&n=2";
    let (head, body) = exchange(
        usher.addrs[0],
        &format!(
            "POST /form.php HTTP/1.1\r\nHost: php.test\r\nConnection: close\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
            form.len()
        ),
    );
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}\n{body}");
    assert_eq!(unchunk(&head, &body), "name=us her n=2 m=POST");
}

#[test]
fn split_path_gives_path_info() {
    let Some((_dir, _fpm, usher)) = site(true) else {
        return;
    };
    let (head, body) = page(usher.addrs[0], "/app/info.php/a/b%20c");
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}\n{body}");
    assert_eq!(body, "script=/app/info.php info=/a/b c file=info.php");
}

#[test]
fn php_sets_the_status_and_fields() {
    let Some((_dir, _fpm, usher)) = site(true) else {
        return;
    };
    let (head, body) = page(usher.addrs[0], "/made.php");
    assert!(head.starts_with("HTTP/1.1 201 "), "{head}");
    assert_eq!(head_value(&head, "x-from"), Some("php"), "{head}");
    assert_eq!(body, "made");
}

/// A HEAD answer's fields are the GET's (RFC 9110 §9.3.2), and its Content-Length, if any,
/// is the GET's (§8.6): PHP sends no content for HEAD, which must not become `0`. Over
/// HTTP/2 too.
#[tokio::test]
async fn head_gets_the_fields_of_get_without_a_length_of_zero() {
    let Some((_dir, _fpm, usher)) = site(true) else {
        return;
    };
    let addr = usher.addrs[0];
    let (head, _) = exchange(
        addr,
        "HEAD /made.php HTTP/1.1\r\nHost: php.test\r\nConnection: close\r\n\r\n",
    );
    assert!(head.starts_with("HTTP/1.1 201 "), "{head}");
    assert_eq!(head_value(&head, "x-from"), Some("php"), "{head}");
    assert_eq!(head_value(&head, "content-length"), None, "{head}");
    let url = format!("http://{addr}/made.php");
    let h2 = crate::support::h2_client().head(&url).send().await.unwrap();
    assert_eq!(h2.status(), 201);
    assert_eq!(h2.headers().get("content-length"), None);
}

#[test]
fn php_fpm_stopped_is_a_502_problem_and_restarted_works_again() {
    let Some((_dir, mut fpm, usher)) = site(true) else {
        return;
    };
    let addr = usher.addrs[0];
    assert_eq!(page(addr, "/hello.php?x=1").1, "x=1 /hello.php");
    fpm.stop();
    let (head, body) = exchange(
        addr,
        "GET /hello.php HTTP/1.1\r\nHost: php.test\r\nAccept: application/problem+json\r\n\
         Connection: close\r\n\r\n",
    );
    assert!(head.starts_with("HTTP/1.1 502 "), "{head}\n{body}");
    assert!(body.contains("PHP application server"), "{body}");
    assert!(
        !body.contains(&fpm.listen),
        "the address is not shown: {body}"
    );
    fpm.run();
    let (head, body) = page(addr, "/hello.php?x=2");
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}\n{body}");
    assert_eq!(body, "x=2 /hello.php");
}

/// A multi-MiB multipart upload (curl -F) reaches `$_FILES` whole.
#[tokio::test]
async fn a_multi_mib_upload_reaches_files() {
    let Some((dir, _fpm, usher)) = site(true) else {
        return;
    };
    let data: Vec<u8> = (0..5 * 1024 * 1024u32).map(|i| (i % 241) as u8).collect();
    let upload = dir.path().join("upload.bin");
    std::fs::write(&upload, &data).unwrap();
    let out = crate::support::curl(&[
        "-F",
        &format!("file=@{}", upload.display()),
        &format!("http://{}/upload.php", usher.addrs[0]),
    ])
    .await;
    assert!(out.ok, "{}", out.stderr);
    let md5 = std::process::Command::new("md5sum")
        .arg(&upload)
        .output()
        .unwrap();
    let md5 = String::from_utf8(md5.stdout).unwrap();
    let md5 = md5.split_whitespace().next().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("0 {} {md5}", data.len())
    );
}

/// A 64 MiB answer streams through with usher's memory bounded.
#[test]
fn a_large_answer_streams_in_bounded_memory() {
    let Some((_dir, _fpm, usher)) = site(true) else {
        return;
    };
    let mut s = TcpStream::connect(usher.addrs[0]).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.write_all(b"GET /big.php HTTP/1.1\r\nHost: php.test\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut total = 0usize;
    let mut buf = vec![0u8; 256 * 1024];
    while let Ok(n @ 1..) = s.read(&mut buf) {
        total += buf[..n].iter().filter(|&&b| b == b'z').count();
    }
    assert_eq!(total, 64 * 1024 * 1024);
    let hwm_kib = crate::support::peak_rss_kib(usher.pid());
    assert!(hwm_kib < 64 * 1024, "peak RSS {hwm_kib} KiB");
}

/// What PHP flushes reaches the client before the script ends: the script waits for a file
/// the test creates only once the first part has arrived.
#[test]
fn flushed_output_reaches_the_client_as_it_is_written() {
    let Some((dir, _fpm, usher)) = site(true) else {
        return;
    };
    let marker = dir.path().join("go");
    let mut s = TcpStream::connect(usher.addrs[0]).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    write!(
        s,
        "GET /slow.php?marker={} HTTP/1.1\r\nHost: php.test\r\nConnection: close\r\n\r\n",
        marker.display()
    )
    .unwrap();
    crate::support::assert_streamed(&mut s, &marker);
}

/// A client gone mid-answer stops the script (#6): usher aborts the request and closes the
/// connection, so PHP's next write fails and its shutdown functions see the connection
/// aborted; then php-fpm's only worker is free for the next request.
#[test]
fn a_client_gone_mid_answer_aborts_the_script_and_frees_the_worker() {
    let Some((dir, _fpm, usher)) = site_with(true, 1, plain) else {
        return;
    };
    let marker = dir.path().join("ended");
    let mut s = TcpStream::connect(usher.addrs[0]).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    write!(
        s,
        "GET /endless.php?marker={} HTTP/1.1\r\nHost: php.test\r\n\r\n",
        marker.display()
    )
    .unwrap();
    let mut got = Vec::new();
    let mut buf = [0; 4096];
    while !String::from_utf8_lossy(&got).contains("aaaa") {
        let n = read_some(&mut s, &mut buf);
        assert!(n > 0, "closed before the first part");
        got.extend_from_slice(&buf[..n]);
    }
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200 "));
    // Gone, with the rest of the answer unread.
    drop(s);
    // The script runs for 20 s unless it sees the client gone.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let said = std::fs::read_to_string(&marker).unwrap_or_default();
        if !said.is_empty() {
            assert_eq!(said, "aborted");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the script did not end within 10 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let (head, body) = page(usher.addrs[0], "/hello.php?x=1");
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}\n{body}");
    assert_eq!(body, "x=1 /hello.php");
}
