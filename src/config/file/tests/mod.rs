//! Config file tests: a full example, then every error message, exactly. The route policy
//! keys have their own file, `policy`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http::Method;

mod policy;
mod proxy;

use super::{ConfigFileError, Diagnostics, FileConfig, line_col, parse};
use crate::http::target::normalise;
use crate::router::{Decision, Responder};

const FILE: &str = "conf/usher.toml";

fn ok(source: &str) -> FileConfig {
    parse(Path::new(FILE), source).unwrap_or_else(|e| panic!("{e}"))
}

fn diagnostics(source: &str) -> Diagnostics {
    match parse(Path::new(FILE), source) {
        Ok(_) => panic!("expected errors in:\n{source}"),
        Err(ConfigFileError::Invalid(d)) => *d,
        Err(e) => panic!("{e}"),
    }
}

/// Each error as `line:col: message`.
fn headlines(source: &str) -> Vec<String> {
    let d = diagnostics(source);
    d.list
        .iter()
        .map(|e| {
            let (line, col) = line_col(source, e.span.start);
            format!("{line}:{col}: {}", e.message)
        })
        .collect()
}

const SITE: &str = "[[site]]\nroot = \"public\"\n";

#[test]
fn full_example() {
    let config = ok(r#"
[server]
listen = ["127.0.0.1:8080", "[::1]:8080", "9000", "localhost:9001"]
grace-period = "2s"
workers = 4

[[site]]
hosts = ["example.test", "*.Example.test."]
root = "public"

[[site.route]]
path = "/old/"
redirect = { to = "/new{path}{?query}", status = 308 }

[[site.route]]
path = "/"
methods = ["GET", "OPTIONS"]
files = { root = "/srv/www", listing = false, hidden = true, symlinks = "follow", index = ["index.htm"] }
headers = { "Cache-Control" = "public, max-age=3600", X-Frame-Options = "DENY" }

[[site.route]]
path = "*.txt"
files = {}

[[site]]
root = "default"
"#);
    let listen: Vec<SocketAddr> = ["127.0.0.1:8080", "[::1]:8080", "127.0.0.1:9000"]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
    assert_eq!(config.listen[..3], listen);
    // A name is resolved at load: `localhost` is 127.0.0.1, ::1 or both, by the machine.
    assert!(config.listen.len() > 3);
    assert!(
        config.listen[3..]
            .iter()
            .all(|a| a.ip().is_loopback() && a.port() == 9001)
    );
    assert_eq!(config.grace_period, Some(Duration::from_secs(2)));
    assert_eq!(config.workers, Some(4));
    let sites: Vec<_> = config.router.sites().collect();
    assert_eq!(sites.len(), 2);
    assert_eq!(sites[0].label, "conf/usher.toml:7");
    assert_eq!(sites[0].routes[0].label, "conf/usher.toml:11");
    assert_eq!(
        sites[0]
            .hosts
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["example.test", "*.example.test"]
    );
    let Responder::Redirect(r) = &sites[0].routes[0].responder else {
        panic!("redirect expected");
    };
    assert_eq!(r.to_string(), "308 to /new{path}{?query}");
    let route = &sites[0].routes[1];
    assert_eq!(
        route.methods.as_deref(),
        Some(&[Method::GET, Method::OPTIONS][..])
    );
    let set: Vec<(&str, &str)> = route
        .policy
        .headers
        .set
        .iter()
        .map(|(n, v)| (n.as_str(), v.to_str().unwrap()))
        .collect();
    assert_eq!(
        set,
        [
            ("cache-control", "public, max-age=3600"),
            ("x-frame-options", "DENY")
        ]
    );
    let Responder::Files(files) = &route.responder else {
        panic!("files expected");
    };
    assert_eq!(files.root, PathBuf::from("/srv/www"));
    assert!(!files.listing && files.show_hidden && files.follow_symlinks);
    assert_eq!(files.index_files, ["index.htm"]);
    // Relative roots resolve against the file's directory, made absolute; `files = {}`
    // takes the site's.
    let cwd = std::env::current_dir().unwrap();
    let Responder::Files(txt) = &sites[0].routes[2].responder else {
        panic!("files expected");
    };
    assert_eq!(txt.root, cwd.join("conf/public"));
    assert!(txt.listing && !txt.show_hidden && !txt.follow_symlinks);
    // A site without routes serves its root at `/`.
    let Responder::Files(default) = &sites[1].routes[0].responder else {
        panic!("files expected");
    };
    assert_eq!(default.root, cwd.join("conf/default"));
    // The router is built: a request finds its route.
    let path = normalise("/old/a").unwrap();
    let Decision::Route(m) = config
        .router
        .decide(Some("www.example.test"), &Method::GET, &path)
    else {
        panic!("route expected");
    };
    assert_eq!(m.route.label, "conf/usher.toml:11");
    let other = config
        .router
        .decide(Some("other.test"), &Method::GET, &path);
    assert!(matches!(other, Decision::Route(m) if m.site.label == "conf/usher.toml:25"));
}

#[test]
fn minimal_file_and_defaults() {
    let config = ok(SITE);
    assert!(config.listen.is_empty() && config.grace_period.is_none() && config.workers.is_none());
    let config =
        ok("[[site]]\nroot = \"p\"\n[[site.route]]\npath = \"/r\"\nredirect = { to = \"/\" }\n");
    let site = config.router.sites().next().unwrap();
    let Responder::Redirect(r) = &site.routes[0].responder else {
        panic!("redirect expected");
    };
    assert_eq!(r.status().as_u16(), 307);
}

#[test]
fn rendering_points_at_the_text() {
    let d = diagnostics(
        "[server]\nworkers = 0\n\n[[site]]\nroot = \"p\"\nhosts = [\"a.test:80\", \"\tb\"]\n",
    );
    assert_eq!(
        d.to_string(),
        "conf/usher.toml:2:11: workers = 0 is out of range\n\
         \x20 |\n\
         2 | workers = 0\n\
         \x20 |           ^\n\
         \x20 = help: use 1 to 1024, or remove it for one per core\n\
         \n\
         conf/usher.toml:6:10: a host pattern has no port: the port is ignored when matching, so remove `:80`\n\
         \x20 |\n\
         6 | hosts = [\"a.test:80\", \"\tb\"]\n\
         \x20 |          ^^^^^^^^^^^\n\
         \n\
         conf/usher.toml:6:23: not a host name: use letters, digits, `-`, `_` and `.` (IDNA names in their xn-- form), an IPv4 address or [IPv6]\n\
         \x20 |\n\
         6 | hosts = [\"a.test:80\", \"\tb\"]\n\
         \x20 |                       ^^^^\n\
         conf/usher.toml: 3 errors"
    );
}

/// A line of megabytes (a value pasted whole) is shown as a window around the column, and
/// a message quoting the value is cut: the report stays a few lines, the caret still points.
#[test]
fn long_lines_and_messages_are_cut() {
    let long = "x".repeat(50_000);
    let source = format!(
        "[[site]]\nroot = \"p\"\nhosts = [\"{long}\", \"a b\"]\n[server]\nlisten = \"{long}\"\n"
    );
    let text = diagnostics(&source).to_string();
    assert!(text.len() < 4_000, "{} bytes", text.len());
    let lines: Vec<&str> = text.lines().collect();
    // The bad host is past the window's start: cut before and after, the caret under it.
    let shown = lines.iter().position(|l| l.starts_with("3 | ")).unwrap();
    let at = lines[shown]
        .find("\"a b\"")
        .expect("the bad value is shown");
    assert!(lines[shown].starts_with("3 | …"));
    // Columns are characters: `…` is one, as a terminal shows it.
    let column = |l: &str, byte: usize| l[..byte].chars().count();
    let caret = lines[shown + 1].find('^').unwrap();
    assert_eq!(column(lines[shown + 1], caret), column(lines[shown], at));
    // The message keeps its explanation after the value it quotes.
    let message = lines
        .iter()
        .find(|l| l.starts_with("conf/usher.toml:5:"))
        .unwrap();
    assert!(
        message.contains("x…x") && message.contains("x\" is not an address to listen on"),
        "{message}"
    );
    assert!(lines.iter().all(|l| l.chars().count() < 600), "{text}");
}

#[test]
fn line_and_column_count_characters() {
    let s = "a\né = 1\n\tx";
    assert_eq!(line_col(s, 0), (1, 1));
    assert_eq!(line_col(s, 2), (2, 1));
    assert_eq!(line_col(s, 4), (2, 2));
    assert_eq!(line_col(s, 3), (2, 1));
    assert_eq!(line_col(s, s.len() - 1), (3, 2));
    assert_eq!(line_col(s, 999), (3, 3));
}

/// Every message, with its position: (source, expected `line:col: message` list).
#[test]
fn every_error_message() {
    let route = |body: &str| format!("{SITE}[[site.route]]\n{body}\n");
    let cases: Vec<(String, Vec<&str>)> = vec![
        // TOML syntax, all errors at once.
        ("[[site]\nx = = 1\n".into(), vec![
            "1:8: unclosed array table, expected `]`",
            "2:5: extra `=`, expected nothing",
            "2:7: unexpected key or value, expected newline, `#`",
        ]),
        // Unknown keys, at every level.
        (format!("colour = 1\n{SITE}"), vec![
            "1:1: unknown field `colour`, expected `server` or `site`",
        ]),
        (format!("[server]\ngrace_period = \"1s\"\n{SITE}"), vec![
            "2:1: unknown field `grace_period`, expected one of `listen`, `grace-period`, `workers`, `access-log`",
        ]),
        (format!("{SITE}index = 1\n"), vec![
            "3:1: unknown field `index`, expected one of `hosts`, `root`, `route`",
        ]),
        (route("path = \"/\"\nupstream = { to = \"x\" }"), vec![
            "5:1: unknown field `upstream`, expected one of `path`, `methods`, `headers`, `files`, `redirect`, `cgi`, `fastcgi`, `proxy`, `rewrite`, `header-rules`, `cache-control`, `cors`, `security-headers`, `auth`, `errors`, `compress`",
        ]),
        (route("path = \"/\"\ncgi = { program = \"/x\", dir = \"d\" }"), vec![
            "5:31: `program` and `dir` cannot both be set",
        ]),
        (route("path = \"/\"\ncgi = { dir = \"d\", user = \"no-such-user-here\" }"), vec![
            "5:27: no user named \"no-such-user-here\" on this machine",
        ]),
        (route("path = \"/\"\ncgi = { dir = \"d\", group = \"root\" }"), vec![
            "5:28: `group` without `user`",
        ]),
        (route("path = \"/\"\nrewrite = { to = \"http://elsewhere/\" }"), vec![
            "5:18: a rewrite's `to` is a path on this site",
        ]),
        (route("path = \"/\"\ncgi = { dir = \"d\", max-running = 0 }"), vec![
            "5:34: max-running must be from 1 to 4096",
        ]),
        (route("path = \"/\"\ncgi = { dir = \"d\", header-timeout = \"soon\" }"), vec![
            "5:37: expected seconds, or a number with a unit (10s, 500ms, 2m, 1h), got \"soon\"",
        ]),
        (route("path = \"/\"\ncgi = { dir = \"d\", max-body = \"1T\" }"), vec![
            "5:31: unknown unit \"T\": use k, M or G",
        ]),
        (route("path = \"/\"\nmethods = [\"GET\", \"POST\"]\nfiles = {}"), vec![
            "5:11: a `files` route cannot answer POST",
        ]),
        (route("path = \"/\"\nmethods = [\"GET\"]\nfiles = {}\ncors = { origins = [\"https://a.example\"], methods = [\"PUT\"] }"), vec![
            "7:8: cors allows PUT, which this route does not take",
        ]),
        (route("path = \"/\"\ncgi = { dir = \"d\" }\nfiles = {}"), vec![
            "5:7: a route has one responder, this one has two",
        ]),
        (route("path = \"/\"\nfiles = { listings = true }"), vec![
            "5:11: unknown field `listings`, expected one of `root`, `listing`, `hidden`, `symlinks`, `index`, `clean-urls`, `spa`, `precompressed`",
        ]),
        (route("path = \"/\"\nredirect = { to = \"/\", code = 301 }"), vec![
            "5:24: unknown field `code`, expected `to` or `status`",
        ]),
        // Missing keys, wrong types, bad enum values.
        (route("files = {}"), vec!["3:1: missing field `path`"]),
        (route("path = \"/\"\nredirect = {}"), vec!["5:12: missing field `to`"]),
        ("[[site]]\nroot = 5\n".into(), vec!["2:8: invalid type: integer `5`, expected a string"]),
        (route("path = \"/\"\nfiles = { symlinks = \"never\" }"), vec![
            "5:22: unknown variant `never`, expected `within-root` or `follow`",
        ]),
        // compress.
        (route("path = \"/\"\nfiles = {}\ncompress = [\"gzip\", \"deflate\", \"lzma\"]"), vec![
            "6:21: usher cannot compress with \"deflate\"",
            "6:32: usher cannot compress with \"lzma\"",
        ]),
        (route("path = \"/\"\nfiles = {}\ncompress = []"), vec!["6:12: an empty list compresses nothing"]),
        (route("path = \"/\"\nfiles = {}\ncompress = \"gzip\""), vec![
            "6:12: invalid type: string \"gzip\", expected true, false, or a list of codings such as [\"zstd\", \"gzip\"]",
        ]),
        // The shape of `site`.
        ("[site]\nroot = \"p\"\n".into(), vec!["1:1: `site` must be an array of tables"]),
        ("site = [1]\n".into(), vec!["1:9: each `site` must be a table"]),
        (format!("{SITE}route = 1\n"), vec!["3:9: `site.route` must be an array of tables"]),
        ("[server]\nworkers = 2\n".into(), vec!["1:1: the file defines no site"]),
        // [server] values.
        (format!("[server]\nlisten = [\"127.0.0.1\", \"1.2.3.4:99999\"]\n{SITE}"), vec![
            "2:11: \"127.0.0.1\" is not an address to listen on: expected IP:PORT, [IPv6]:PORT, HOST:PORT or PORT (invalid socket address)",
            "2:24: \"1.2.3.4:99999\" is not an address to listen on: expected IP:PORT, [IPv6]:PORT, HOST:PORT or PORT (invalid port value)",
        ]),
        (format!("[server]\ngrace-period = \"5d\"\n{SITE}"), vec![
            "2:16: bad grace-period: unknown unit \"d\": use ms, s, m or h",
        ]),
        (format!("[server]\nworkers = 5000\n{SITE}"), vec!["2:11: workers = 5000 is out of range"]),
        (format!("[server]\naccess-log = \"logs/\"\n{SITE}"), vec!["2:14: `access-log` names no file"]),
        (format!("[server]\naccess-log = \"\"\n{SITE}"), vec!["2:14: `access-log` is empty"]),
        // Hosts.
        ("[[site]]\nroot = \"p\"\nhosts = [\"a.*.test\", \"x y\"]\n".into(), vec![
            "3:10: `*` may only be the whole first label, as in `*.example.test` (it matches one label)",
            "3:22: not a host name: use letters, digits, `-`, `_` and `.` (IDNA names in their xn-- form), an IPv4 address or [IPv6]",
        ]),
        // Paths.
        (route("path = \"old/\"\nfiles = {}"), vec![
            "4:8: a path starts with `/` (prefix), `= /` (exact) or is a glob such as `*.php`",
        ]),
        (route("path = \"/a/../b\"\nfiles = {}"), vec![
            "4:8: write the path in normal form, such as \"/b\": requests are normalised before matching",
        ]),
        (route("path = \"/a**\"\nfiles = {}"), vec![
            "4:8: `**` must be a whole segment (`/a/**/b`), and an exact path (`= /x`) has no `*`",
        ]),
        // Methods.
        (route("path = \"/\"\nmethods = []\nfiles = {}"), vec![
            "5:11: an empty `methods` list takes no request",
        ]),
        (route("path = \"/\"\nmethods = [\"get\", \"BAD METHOD\"]\nfiles = {}"), vec![
            "5:12: `get` is not `GET`",
            "5:19: \"BAD METHOD\" is not a method name",
        ]),
        // Headers.
        (route("path = \"/\"\nfiles = {}\nheaders = { \"Bad Name\" = \"x\", Content-Length = \"1\", X = \"a\\nb\" }"), vec![
            "6:13: \"Bad Name\" is not a header name",
            "6:31: `Content-Length` is set by the server",
            "6:57: not a header value",
        ]),
        // Responders.
        (route("path = \"/\""), vec!["3:1: this route has no responder"]),
        (route("path = \"/\"\nfiles = {}\nredirect = { to = \"/\" }"), vec![
            "6:12: a route has one responder, this one has two",
        ]),
        ("[[site]]\n[[site.route]]\npath = \"/\"\nfiles = {}\n".into(), vec![
            "4:9: these files have no root",
        ]),
        ("[[site]]\nhosts = [\"a.test\"]\n".into(), vec!["1:1: this site has nothing to serve"]),
        (route("path = \"/\"\nredirect = { to = \"/x\", status = 200 }"), vec![
            "5:34: a redirect status is 301, 302, 303, 307 or 308 (RFC 9110 §15.4); 307 is temporary and keeps the method, 308 is permanent",
        ]),
        (route("path = \"/\"\nredirect = { to = \"/x\", status = 70000 }"), vec![
            "5:34: a redirect status is 301, 302, 303, 307 or 308 (RFC 9110 §15.4); 307 is temporary and keeps the method, 308 is permanent",
        ]),
        (route("path = \"/\"\nredirect = { to = \"//evil.test\" }"), vec![
            "5:19: `to` starts with `/` (a path on this site) or `https://` / `http://` and a host; not `//`, which would leave the scheme to the client",
        ]),
        (route("path = \"/\"\nredirect = { to = \"{path}\" }"), vec![
            "5:19: the host of `to` is written out: placeholders may only follow it",
        ]),
        (route("path = \"/\"\nredirect = { to = \"/{rest}\" }"), vec![
            "5:19: unknown placeholder {rest}: use {path}, {query}, {?query} or {uri}",
        ]),
        (route("path = \"/\"\nredirect = { to = \"/{query}\" }"), vec![
            "5:19: {query} belongs after a `?`, as in `/new?{query}`; `{?query}` adds the `?` only when there is a query",
        ]),
        (route("path = \"/\"\nredirect = { to = \"/a b\" }"), vec![
            "5:19: `to` may contain only visible ASCII: percent-encode spaces, non-ASCII characters and `\\` (%20, %C3%A9, %5C)",
        ]),
        // Reachability: hosts and default sites ...
        ("[[site]]\nroot = \"a\"\nhosts = [\"a.test\"]\n[[site]]\nroot = \"b\"\nhosts = [\"b.test\", \"A.test\"]\n".into(), vec![
            "6:20: this host is already claimed on line 3",
        ]),
        ("[[site]]\nroot = \"a\"\n[[site]]\nroot = \"b\"\n".into(), vec![
            "3:1: a second default site: the site on line 1 has no `hosts` either",
        ]),
        // ... and routes.
        (format!("{SITE}[[site.route]]\npath = \"/a/\"\nfiles = {{}}\n[[site.route]]\npath = \"/a\"\nfiles = {{}}\n"), vec![
            "7:8: route \"/a\" matches the same paths as the route on line 4",
        ]),
        (format!("{SITE}[[site.route]]\npath = \"/a/\"\nmethods = [\"GET\"]\nfiles = {{}}\n[[site.route]]\npath = \"/a/**\"\nmethods = [\"HEAD\", \"POST\"]\nredirect = {{ to = \"/b\" }}\n"), vec![
            "8:8: route \"/a/**\" matches the same paths as the route on line 4, and both take HEAD",
        ]),
        (format!("{SITE}[[site.route]]\npath = \"*a*\"\nfiles = {{}}\n[[site.route]]\npath = \"*a\"\nfiles = {{}}\n"), vec![
            "7:8: route \"*a\" can never be chosen: every path it matches goes to \"*a*\" on line 4",
        ]),
    ];
    for (source, want) in cases {
        assert_eq!(headlines(&source), want, "in:\n{source}");
    }
}

/// `fastcgi = { ... }`: every message, with its position, and the help each kind gives.
#[test]
fn every_fastcgi_error_message() {
    let route = |table: &str| format!("{SITE}[[site.route]]\npath = \"/\"\nfastcgi = {table}\n");
    let tcp = "address = \"127.0.0.1:9000\"";
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            route("{ address = \"http://localhost:9000\" }"),
            vec!["5:23: `address` is a URL (\"http://localhost:9000\"), but FastCGI is not HTTP"],
        ),
        (
            route("{ address = \"127.0.0.1\" }"),
            vec!["5:23: `address` \"127.0.0.1\" has no port"],
        ),
        // `unix:` names no socket.
        (
            route("{ address = \"unix:\" }"),
            vec!["5:23: `address` names no socket after unix:"],
        ),
        (
            route("{ address = \"unix:/run/php.sock\", index = \"app/index.php\" }"),
            vec!["5:53: `index` must be part of one file name"],
        ),
        (
            route(&format!("{{ {tcp}, index = \".php\" }}")),
            vec!["5:49: `index` must be part of one file name"],
        ),
        (
            route(&format!("{{ {tcp}, split-path = \"\" }}")),
            vec!["5:54: `split-path` must be part of one file name"],
        ),
        (
            route(&format!(
                "{{ {tcp}, header-timeout = \"soon\", idle-timeout = \"5d\" }}"
            )),
            vec![
                "5:58: expected seconds, or a number with a unit (10s, 500ms, 2m, 1h), got \"soon\"",
                "5:81: unknown unit \"d\": use ms, s, m or h",
            ],
        ),
        (
            route(&format!("{{ {tcp}, split_path = \".php\" }}")),
            vec![
                "5:41: unknown field `split_path`, expected one of `address`, `root`, `index`, `split-path`, `front-controller`, `connect-timeout`, `header-timeout`, `idle-timeout`, `max-fails`, `fail-window`, `cool-down`, `max-body`, `max-connections`, `pass-authorization`",
            ],
        ),
        (
            route("{ root = \"www\" }"),
            vec!["5:11: missing field `address`"],
        ),
        // A list of addresses: each bad one at its place; an empty list.
        (
            route("{ address = [\"127.0.0.1:9000\", \"nowhere\", \"unix:\"] }"),
            vec![
                "5:42: `address` \"nowhere\" has no port",
                "5:53: `address` names no socket after unix:",
            ],
        ),
        (
            route("{ address = [] }"),
            vec!["5:23: `address` lists no address"],
        ),
        // The keys of the front controller, failure marking, content and connections.
        (
            route(
                "{ address = \"unix:a\", front-controller = \"index.php\", max-fails = 0, max-body = \"1T\", max-connections = -1 }",
            ),
            vec![
                "5:52: `front-controller` must be a script's path",
                "5:77: `max-fails` must be a whole number from 1",
                "5:91: unknown unit \"T\": use k, M or G",
                "5:115: `max-connections` must be a whole number from 1",
            ],
        ),
        (
            route("{ address = \"unix:a\", front-controller = \"/.hidden/index.php\" }"),
            vec!["5:52: `front-controller` must be a script's path"],
        ),
        // Every bad value at once, each at its place.
        (
            route(
                "{ address = \"nowhere\", index = \"\", split-path = \"a/b\", idle-timeout = \"-1s\" }",
            ),
            vec![
                "5:23: `address` \"nowhere\" has no port",
                "5:42: `index` must be part of one file name",
                "5:59: `split-path` must be part of one file name",
                "5:81: expected seconds, or a number with a unit (10s, 500ms, 2m, 1h), got \"-1s\"",
            ],
        ),
    ];
    for (source, want) in cases {
        assert_eq!(headlines(&source), want, "in:\n{source}");
    }
    let helps = diagnostics(&route(
        "{ address = \"nowhere\", index = \"a/b\", header-timeout = \"x\" }",
    ));
    let helps: Vec<_> = helps.list.iter().map(|d| d.help.as_deref()).collect();
    assert_eq!(
        helps,
        [
            Some("write \"127.0.0.1:9000\", \"localhost:9000\" or \"unix:/run/php/php-fpm.sock\""),
            Some("such as index = \"index.php\", split-path = \".php\""),
            Some("write a duration such as 30s"),
        ]
    );
}

#[test]
fn errors_are_collected_across_tables() {
    let source = "[server]\nworkers = 0\n[[site]]\nroot = 1\n[[site]]\nroot = \"p\"\n\
                  [[site.route]]\npath = \"x\"\nfiles = {}\n[[site.route]]\nfile = {}\n";
    assert_eq!(
        headlines(source),
        [
            "2:11: workers = 0 is out of range",
            "4:8: invalid type: integer `1`, expected a string",
            "8:8: a path starts with `/` (prefix), `= /` (exact) or is a glob such as `*.php`",
            "11:1: unknown field `file`, expected one of `path`, `methods`, `headers`, `files`, `redirect`, `cgi`, `fastcgi`, `proxy`, `rewrite`, `header-rules`, `cache-control`, `cors`, `security-headers`, `auth`, `errors`, `compress`",
        ]
    );
    let d = diagnostics(source);
    assert_eq!(d.list[3].help.as_deref(), Some("did you mean `files`?"));
    let proxy = diagnostics(&format!(
        "{SITE}[[site.route]]\npath = \"/\"\nproxy = {{}}\n"
    ));
    assert_eq!(
        (
            proxy.list[0].message.as_str(),
            proxy.list[0].help.as_deref()
        ),
        ("missing field `upstreams`", Some("add it"))
    );
}

#[test]
fn unreadable_file() {
    let e = super::load(Path::new("/nonexistent/usher.toml")).unwrap_err();
    assert!(matches!(e, ConfigFileError::Read { .. }));
    assert!(
        e.to_string()
            .starts_with("cannot read /nonexistent/usher.toml: "),
        "{e}"
    );
}

/// A `cgi` table's limits and paths: `max-body` sets the content bound, and a route without
/// `root` takes the file's directory, absolute, as its document root.
#[test]
fn cgi_limits_and_document_root() {
    let config = ok(&format!(
        "{SITE}[[site.route]]\npath = \"/\"\ncgi = {{ dir = \"bin\", max-body = \"2k\" }}\n"
    ));
    let route = &config.router.sites().next().unwrap().routes[0];
    let Responder::Cgi(opts) = &route.responder else {
        panic!("a cgi route");
    };
    assert_eq!(opts.max_body, 2048);
    let cwd = std::env::current_dir().unwrap();
    assert_eq!(opts.document_root, cwd.join("conf/public"));
}

/// `listen` and `hosts` usually hold one value, so they take it without brackets; a bad
/// one is still reported at its place.
#[test]
fn listen_and_hosts_take_one_string() {
    let config =
        ok("[server]\nlisten = \"[::1]:8081\"\n[[site]]\nroot = \"p\"\nhosts = \"A.test\"\n");
    assert_eq!(config.listen, ["[::1]:8081".parse::<SocketAddr>().unwrap()]);
    let hosts: Vec<String> = config
        .router
        .sites()
        .next()
        .unwrap()
        .hosts
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(hosts, ["a.test"]);
    assert_eq!(
        headlines("[server]\nlisten = \"[::1]\"\n[[site]]\nroot = \"p\"\nhosts = \"x y\"\n")
            .iter()
            .map(|h| h.split(": ").next().unwrap())
            .collect::<Vec<_>>(),
        ["2:10", "5:9"]
    );
    // An empty list is a mistake, not the default; one address written twice is one.
    assert_eq!(
        headlines("[server]\nlisten = []\n[[site]]\nroot = \"p\"\nhosts = []\n"),
        [
            "2:10: `listen` lists no address",
            "5:9: `hosts` lists no name"
        ]
    );
    let config = ok("[server]\nlisten = [\"8080\", \"127.0.0.1:8080\"]\n[[site]]\nroot = \"p\"\n");
    assert_eq!(
        config.listen,
        ["127.0.0.1:8080".parse::<SocketAddr>().unwrap()]
    );
}

/// Every mistake of one table at once, not one per fix-and-check round: each faulty key is
/// taken out and the table read again. Types are named as TOML names them; a misspelled key
/// does not also report the key it meant as missing.
#[test]
fn every_mistake_in_a_table_is_reported_at_once() {
    let source = "[server]\nlisten = 8080\nworkers = \"two\"\ngrace-period = 10\n\
                  [[site]]\nroot = 5\nhosts = true\n[[site.route]]\npath = \"/\"\n\
                  files = { listing = \"yes\" }\ncors = { origin = [\"https://a.test\"] }\n";
    assert_eq!(
        headlines(source),
        [
            "2:10: invalid type: integer `8080`, expected a string or a list of strings",
            "3:11: invalid type: string \"two\", expected a whole number",
            "4:16: invalid type: integer `10`, expected a string",
            "6:8: invalid type: integer `5`, expected a string",
            "7:9: invalid type: boolean `true`, expected a string or a list of strings",
            "10:21: invalid type: string \"yes\", expected a boolean",
            "11:10: unknown field `origin`, expected one of `origins`, `methods`, `headers`, `expose`, `credentials`, `max-age`",
        ]
    );
}

/// A misspelled key gets the listed key it most likely meant; one far from every key gets
/// the general advice.
#[test]
fn a_misspelled_key_is_told_the_key_it_meant() {
    let source = "[server]\nlistne = [\"127.0.0.1:0\"]\nacess_log = \"x\"\n[[site]]\nroot = \"x\"\n\
                  hsots = [\"a\"]\nzzzzzz = 1\n[sever]\n";
    let helps: Vec<String> = diagnostics(source)
        .list
        .iter()
        .filter_map(|d| d.help.clone())
        .collect();
    assert_eq!(
        helps,
        [
            "did you mean `listen`?",
            "did you mean `access-log`?",
            "did you mean `hosts`?",
            "remove it, or use one of the keys listed (keys are kebab-case)",
            "did you mean `server`?",
        ]
    );
}
