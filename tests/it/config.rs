//! Serving from a config file: sites by Host, routes, redirects, headers, `usher check`,
//! `usher explain`, flags over the file, and live reload (SIGHUP, `--watch`) under load.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support::{IO_TIMEOUT, exchange, explain, start, usher, write};

const SITES: &str = r#"
[server]
listen = ["127.0.0.1:0"]

[[site]]
hosts = ["example.test", "*.example.test"]
root = "public"

[[site.route]]
path = "/old/"
redirect = { to = "/new{path}{?query}", status = 308 }

[[site.route]]
path = "/downloads/"
methods = ["GET"]
files = {}

[[site.route]]
path = "/"
files = { listing = true }
headers = { "Cache-Control" = "public, max-age=3600", "X-Edition" = "one" }

[[site]]
root = "docs"
"#;

/// A directory with `usher.toml` (`config`), `public/` and `docs/`.
fn site_dir(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "public/index.html",
        "<!doctype html><title>public</title>",
    );
    write(dir.path(), "public/a.txt", "public a\n");
    write(dir.path(), "docs/a.txt", "docs a\n");
    write(dir.path(), "usher.toml", config);
    dir
}

/// One HTTP/1.1 exchange with `Connection: close`: the whole answer as text.
fn get(addr: SocketAddr, host: &str, target: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn config_arg(dir: &Path) -> String {
    dir.join("usher.toml").display().to_string()
}

#[test]
fn sites_are_chosen_by_host_and_routes_by_path() {
    let dir = site_dir(SITES);
    let p = start(&["run", "-c", &config_arg(dir.path())]);
    assert!(p.line.contains("usher.toml"), "{}", p.line);
    let addr = p.addrs[0];
    // Exact name, any case, with a port and a trailing dot: the first site.
    for host in ["example.test", "EXAMPLE.test:8080", "example.test."] {
        let out = get(addr, host, "/a.txt");
        assert!(out.ends_with("public a\n"), "{host}: {out}");
        assert!(
            out.contains("\r\ncache-control: public, max-age=3600\r\n"),
            "{out}"
        );
    }
    // A one-label wildcard, then the default site for anything else.
    assert!(get(addr, "www.example.test", "/a.txt").ends_with("public a\n"));
    assert!(get(addr, "a.b.example.test", "/a.txt").ends_with("docs a\n"));
    assert!(get(addr, "other.test", "/a.txt").ends_with("docs a\n"));
    // The redirect keeps the rest of the path and the query.
    let out = get(addr, "example.test", "/old/x/y?q=1");
    assert!(out.starts_with("HTTP/1.1 308 "), "{out}");
    assert!(out.contains("\r\nlocation: /new/x/y?q=1\r\n"), "{out}");
    // A route restricted to GET: another method gets 405 naming what is allowed, which
    // is what the route's files answer (RFC 9110 §10.2.1).
    let out = exchange(
        addr,
        "DELETE /downloads/x HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n",
    )
    .0;
    assert!(out.starts_with("HTTP/1.1 405 "), "{out}");
    assert!(out.contains("\r\nallow: GET, HEAD, OPTIONS\r\n"), "{out}");
}

#[test]
fn without_a_default_site_an_unknown_host_gets_421() {
    let only_named = SITES.split("[[site]]\nroot = \"docs\"").next().unwrap();
    let dir = site_dir(only_named);
    let p = start(&["-c", &config_arg(dir.path())]);
    let out = get(p.addrs[0], "elsewhere.test", "/");
    assert!(out.starts_with("HTTP/1.1 421 "), "{out}");
    assert!(out.contains("elsewhere.test"), "{out}");
}

#[test]
fn flags_override_the_file() {
    let dir = site_dir(SITES);
    let p = start(&[
        "serve",
        "-c",
        &config_arg(dir.path()),
        "-l",
        "[::1]:0",
        "--no-listing",
    ]);
    assert_eq!(p.addrs.len(), 1);
    assert!(p.addrs[0].is_ipv6(), "--listen replaces the file's listen");
    let out = get(p.addrs[0], "x.test", "/");
    assert!(
        out.starts_with("HTTP/1.1 403 "),
        "--no-listing applies: {out}"
    );
}

#[test]
fn check_says_ok_or_names_file_line_and_column() {
    let dir = site_dir(SITES);
    let out = usher()
        .args(["check", "-c", &config_arg(dir.path())])
        .stdout(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok (2 sites, 4 routes)"));

    let bad = SITES.replace("status = 308", "status = 200");
    write(dir.path(), "usher.toml", &bad);
    let out = usher()
        .args(["check", "-c", &config_arg(dir.path())])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let line = bad
        .lines()
        .position(|l| l.contains("status = 200"))
        .unwrap()
        + 1;
    assert!(err.contains(&format!("usher.toml:{line}:")), "{err}");

    // A root that does not exist is caught by check, not at the first request.
    write(
        dir.path(),
        "usher.toml",
        SITES.replace("root = \"docs\"", "root = \"nope\""),
    );
    let out = usher()
        .args(["check", "-c", &config_arg(dir.path())])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such directory"));
}

#[test]
fn explain_shows_the_route_and_the_answer() {
    let dir = site_dir(SITES);
    let explain = |args: &[&str]| explain(dir.path(), args);
    let out = explain(&["GET", "http://www.example.test/old/x?q=1"]);
    assert!(out.contains("by wildcard *.example.test"), "{out}");
    assert!(out.contains("route /old/"), "{out}");
    assert!(out.contains("answer: 308"), "{out}");
    assert!(out.contains("location: /new/x?q=1"), "{out}");

    let out = explain(&["-H", "Host: example.test", "GET", "/a.txt"]);
    assert!(out.contains("answer: 200 OK"), "{out}");
    assert!(out.contains("cache-control: public, max-age=3600"), "{out}");
    assert!(out.contains("body: 9 bytes"), "{out}");

    let out = explain(&["-H", "Host: example.test", "DELETE", "/downloads/x"]);
    assert!(out.contains("answer: 405"), "{out}");

    // Only HTTP URLs and paths are requests usher could get.
    let config = dir.path().join("usher.toml");
    let refused = usher()
        .args(["explain", "-c", config.to_str().unwrap(), "GET", "ftp://x/"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("give a URL such as http://"));
}

/// SIGHUP swaps the configuration under load with no failed request; a broken file is
/// refused and the running configuration keeps serving.
#[test]
fn reload_under_load_fails_no_request() {
    let dir = site_dir(SITES);
    let p = start(&["-c", &config_arg(dir.path())]);
    let addr = p.addrs[0];
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let load: Vec<_> = (0..4)
        .map(|_| {
            let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let out = get(addr, "example.test", "/a.txt");
                    if out.starts_with("HTTP/1.1 200 ") && out.ends_with("public a\n") {
                        ok.fetch_add(1, Ordering::Relaxed);
                    } else {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();

    write(
        dir.path(),
        "usher.toml",
        SITES.replace("\"one\"", "\"two\""),
    );
    p.signal("-HUP");
    p.wait_for_log("reloaded", IO_TIMEOUT)
        .expect("reload logged");
    assert!(get(addr, "example.test", "/a.txt").contains("\r\nx-edition: two\r\n"));

    write(dir.path(), "usher.toml", "this is not toml [");
    p.signal("-HUP");
    p.wait_for_log("refused", IO_TIMEOUT)
        .expect("refusal logged");
    assert!(get(addr, "example.test", "/a.txt").contains("\r\nx-edition: two\r\n"));

    stop.store(true, Ordering::Relaxed);
    for t in load {
        t.join().unwrap();
    }
    assert_eq!(failed.load(Ordering::Relaxed), 0);
    assert!(ok.load(Ordering::Relaxed) > 0);
}

/// With `--watch`, saving the file is enough.
#[test]
fn watch_reloads_a_changed_file() {
    let dir = site_dir(SITES);
    let p = start(&["-c", &config_arg(dir.path()), "--watch"]);
    // A different size, so the change shows even within one mtime tick.
    write(
        dir.path(),
        "usher.toml",
        SITES.replace("\"one\"", "\"three!\""),
    );
    p.wait_for_log("reloaded", IO_TIMEOUT)
        .expect("reload logged");
    let deadline = Instant::now() + Duration::from_secs(5);
    let out = get(p.addrs[0], "example.test", "/a.txt");
    assert!(Instant::now() < deadline);
    assert!(out.contains("\r\nx-edition: three!\r\n"), "{out}");
}

/// With `--watch`, a file written in two pieces with a pause between them (a save that is
/// not a rename, a slow copy) is read whole: the first piece alone is a valid configuration
/// that must never be served.
#[test]
fn watch_waits_for_a_file_written_in_pieces() {
    let dir = site_dir(SITES);
    let p = start(&["-c", &config_arg(dir.path()), "--watch"]);
    let full = SITES.replace("\"one\"", "\"full\"");
    let cut = full.find("[[site.route]]\npath = \"/\"").unwrap();
    let live = dir.path().join("usher.toml");
    let mut file = std::fs::File::create(&live).unwrap();
    file.write_all(&full.as_bytes()[..cut]).unwrap();
    std::thread::sleep(Duration::from_millis(800));
    file.write_all(&full.as_bytes()[cut..]).unwrap();
    drop(file);
    p.wait_for_log("reloaded", IO_TIMEOUT)
        .expect("reload logged");
    // The first reload is of the whole file.
    let out = get(p.addrs[0], "example.test", "/a.txt");
    assert!(out.contains("\r\nx-edition: full\r\n"), "{out}");
}

/// With `--watch`, a file replaced by another of the same size and modification time (a
/// deploy tool that keeps times, a renamed-over copy) is seen too: its inode changed.
#[test]
fn watch_sees_a_replaced_file_with_the_same_size_and_time() {
    let dir = site_dir(SITES);
    let p = start(&["-c", &config_arg(dir.path()), "--watch"]);
    let live = dir.path().join("usher.toml");
    let next = dir.path().join("usher.toml.next");
    let same_size = SITES.replace("\"one\"", "\"two\"");
    assert_eq!(same_size.len(), SITES.len());
    std::fs::write(&next, same_size).unwrap();
    let modified = std::fs::metadata(&live).unwrap().modified().unwrap();
    std::fs::File::options()
        .write(true)
        .open(&next)
        .unwrap()
        .set_modified(modified)
        .unwrap();
    std::fs::rename(&next, &live).unwrap();
    p.wait_for_log("reloaded", IO_TIMEOUT)
        .expect("reload logged");
    let out = get(p.addrs[0], "example.test", "/a.txt");
    assert!(out.contains("\r\nx-edition: two\r\n"), "{out}");
}

/// The README's example config is what `usher check` accepts, and serves as it says.
#[test]
fn the_readme_example_config_is_valid() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let example = readme
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a toml block in the README");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "public/index.html", "home");
    write(dir.path(), "docs/a.txt", "docs a\n");
    let example = example.replace("8080", "0");
    write(dir.path(), "usher.toml", &example);
    let out = usher()
        .args(["check", "-c", &config_arg(dir.path())])
        .stdout(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p = start(&["-c", &config_arg(dir.path())]);
    assert_eq!(p.addrs.len(), 2, "IPv4 and IPv6 from the file: {}", p.line);
    let out = get(p.addrs[0], "www.example.test", "/old/a?b=c");
    assert!(out.contains("\r\nlocation: /new/a?b=c\r\n"), "{out}");
}

/// `usher explain` on a CGI route names the program, SCRIPT_NAME and PATH_INFO, and does not
/// run the program.
#[test]
fn explain_shows_the_program_a_cgi_route_would_run() {
    let dir = site_dir(
        r#"
[[site]]
root = "public"
[[site.route]]
path = "/git/"
cgi = { program = "/usr/lib/git-core/git-http-backend" }
[[site.route]]
path = "/cgi-bin/"
cgi = { dir = "cgi-bin", interpreter = "/usr/bin/python3" }
"#,
    );
    let ran = dir.path().join("ran");
    write(
        dir.path(),
        "cgi-bin/touch.py",
        format!("open({:?}, 'w')\n", ran.display().to_string()),
    );
    let explain = |method: &str, url: &str| explain(dir.path(), &[method, url]);
    let out = explain(
        "GET",
        "http://h/git/project.git/info/refs?service=git-upload-pack",
    );
    assert!(
        out.contains("program: /usr/lib/git-core/git-http-backend"),
        "{out}"
    );
    assert!(out.contains("SCRIPT_NAME=/git\n"), "{out}");
    assert!(out.contains("PATH_INFO=/project.git/info/refs\n"), "{out}");
    let out = explain("POST", "http://h/cgi-bin/touch.py/a/b");
    assert!(out.contains("program: /usr/bin/python3 "), "{out}");
    assert!(out.contains("SCRIPT_NAME=/cgi-bin/touch.py\n"), "{out}");
    assert!(out.contains("PATH_INFO=/a/b\n"), "{out}");
    assert!(!ran.exists(), "explain must not run the program");
    let out = explain("GET", "http://h/cgi-bin/missing.py");
    assert!(out.contains("no program: 404"), "{out}");
}

/// A site with routes serves nothing outside them, even a file its root holds: the 404 says
/// no route covers the path, not that no file is there.
#[test]
fn a_path_no_route_covers_is_a_404_that_says_so() {
    let dir = site_dir(
        r#"
[[site]]
root = "public"
[[site.route]]
path = "/docs/"
files = {}
"#,
    );
    write(dir.path(), "public/about.html", "about\n");
    write(dir.path(), "public/docs/a.txt", "a\n");
    let p = start(&["-c", &config_arg(dir.path())]);
    assert!(get(p.addrs[0], "x", "/docs/a.txt").starts_with("HTTP/1.1 200 "));
    let out = get(p.addrs[0], "x", "/about.html");
    assert!(out.starts_with("HTTP/1.1 404 "), "{out}");
    assert!(out.contains("no route of this site covers it"), "{out}");
}

/// A rewrite answers as if the request had named another path, keeping the method; two
/// rewrites pointing at each other end in a 500, not a loop.
#[test]
fn rewrites_answer_another_path_and_cannot_loop() {
    let dir = site_dir(
        r#"
[[site]]
root = "public"
[[site.route]]
path = "/blog/"
rewrite = { to = "/posts{path}{?query}" }
[[site.route]]
path = "/ping/"
rewrite = { to = "/pong{path}" }
[[site.route]]
path = "/pong/"
rewrite = { to = "/ping{path}" }
[[site.route]]
path = "/"
files = {}
"#,
    );
    write(dir.path(), "public/posts/hello.txt", "a post\n");
    let p = start(&["-c", &config_arg(dir.path())]);
    let out = get(p.addrs[0], "x", "/blog/hello.txt");
    assert!(out.starts_with("HTTP/1.1 200 "), "{out}");
    assert!(out.ends_with("a post\n"), "{out}");
    assert!(
        !out.contains("\r\nlocation:"),
        "a rewrite is not a redirect: {out}"
    );
    let out = get(p.addrs[0], "x", "/ping/x");
    assert!(out.starts_with("HTTP/1.1 500 "), "{out}");
    // The id the 500 shows is logged with its cause.
    let id = out
        .split("Request id: ")
        .nth(1)
        .and_then(|rest| rest.lines().next())
        .expect("a request id");
    let cause = p
        .wait_for_log("too many rewrites", IO_TIMEOUT)
        .expect("the cause logged");
    assert!(cause.contains(id), "{cause}");
}

/// Paths a route names are checked when the file is loaded: `usher check` and startup fail
/// on a missing CGI program, interpreter or error page, naming it.
#[test]
fn missing_programs_and_error_pages_are_caught_at_load() {
    for (route, named) in [
        (
            "cgi = { program = \"/nonexistent/prog\" }",
            "/nonexistent/prog",
        ),
        (
            "files = {}\nerrors = { 404 = \"missing-404.html\" }",
            "missing-404.html",
        ),
        // An interpreter that is not there would fail every request with a 502.
        (
            "cgi = { dir = \"public\", interpreter = \"/usr/bin/nopython\" }",
            "cannot use the cgi interpreter /usr/bin/nopython: no such file",
        ),
    ] {
        let dir = site_dir(&format!(
            "[[site]]\nroot = \"public\"\n[[site.route]]\npath = \"/\"\n{route}\n"
        ));
        let out = usher()
            .args(["check", "-c", &config_arg(dir.path())])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{route}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(named), "{err}");
        assert!(err.contains("usher.toml:3: "), "the route's place: {err}");
    }
    // Every such path is reported at once, each at its route.
    let dir = site_dir(
        "[[site]]\nroot = \"public\"\n[[site.route]]\npath = \"/a/\"\nfiles = { root = \"gone-a\" }\n\
         errors = { 404 = \"missing.html\" }\n[[site.route]]\npath = \"/b/\"\ncgi = { dir = \"gone-b\" }\n",
    );
    let out = usher()
        .args(["check", "-c", &config_arg(dir.path())])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    for (line, named) in [(3, "gone-a"), (3, "missing.html"), (7, "gone-b")] {
        assert!(
            err.lines()
                .any(|l| l.contains(&format!("usher.toml:{line}: ")) && l.contains(named)),
            "{named} at line {line}: {err}"
        );
    }
}

/// `usher explain` on a FastCGI route names the application and the script variables, and
/// sends nothing to the application (here, nothing even listens).
#[test]
fn explain_shows_what_a_fastcgi_route_would_ask() {
    let dir = site_dir(
        r#"
[[site]]
root = "public"
[[site.route]]
path = "/app/"
fastcgi = { address = "127.0.0.1:9", split-path = ".php" }
"#,
    );
    write(dir.path(), "public/app/index.php", "<?php echo 1;");
    let out = explain(dir.path(), &["GET", "http://h/app/index.php/users/7"]);
    assert!(out.contains("application: FastCGI at 127.0.0.1:9"), "{out}");
    assert!(out.contains("SCRIPT_NAME=/app/index.php\n"), "{out}");
    assert!(out.contains("PATH_INFO=/users/7\n"), "{out}");
    assert!(out.contains("/public/app/index.php\n"), "{out}");
    assert!(
        !out.contains("502"),
        "nothing was sent to the application: {out}"
    );
}
