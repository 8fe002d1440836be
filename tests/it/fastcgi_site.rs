//! A PHP site on a FastCGI route, against a real php-fpm: the front controller and the
//! root's plain files, content of unknown length (chunked) reaching `$_POST`, the content
//! limit, and several addresses with a dead one skipped.

use crate::fastcgi::{page, site_with};
use crate::support::{check, exchange, head_value, readme_toml_blocks, start, unchunk, write};

/// A framework's front controller: it reports what php-fpm told it.
const FRONT: &str = r#"<?php echo "script=", $_SERVER["SCRIPT_NAME"], " info=", $_SERVER["PATH_INFO"] ?? "", " uri=", $_SERVER["REQUEST_URI"];"#;

/// A script that reports the request's credentials, host and scheme as PHP sees them.
const WHO: &str = r#"<?php echo "auth=", $_SERVER["HTTP_AUTHORIZATION"] ?? "-", " proxy=", $_SERVER["HTTP_PROXY_AUTHORIZATION"] ?? "-", " host=", $_SERVER["HTTP_HOST"] ?? "-", " scheme=", $_SERVER["REQUEST_SCHEME"] ?? "-";"#;

fn table(address: &str, extra: &str) -> String {
    format!(r#"address = "{address}", root = "public", header-timeout = "5s", {extra}"#)
}

#[test]
fn the_front_controller_answers_paths_that_name_nothing_and_files_stay_files() {
    let Some((dir, _fpm, usher)) =
        site_with(false, 2, |a| table(a, r#"front-controller = "/front.php""#))
    else {
        return;
    };
    write(dir.path(), "public/front.php", FRONT);
    write(dir.path(), "public/css/site.css", "body { color: red }");
    let addr = usher.addrs[0];

    let (head, body) = page(addr, "/users/5?tab=a%20b");
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}\n{body}");
    assert_eq!(
        body,
        "script=/front.php info=/users/5 uri=/users/5?tab=a%20b"
    );
    // A script that does not exist goes to the front controller too, as in Caddy.
    let (_, body) = page(addr, "/old/page.php");
    assert_eq!(
        body,
        "script=/front.php info=/old/page.php uri=/old/page.php"
    );

    // A plain file is a file: its type, its validator, and its bytes.
    let (head, body) = page(addr, "/css/site.css");
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert!(
        head_value(&head, "content-type").is_some_and(|t| t.starts_with("text/css")),
        "{head}"
    );
    assert!(head_value(&head, "etag").is_some(), "{head}");
    assert_eq!(body, "body { color: red }");

    // Scripts still run as themselves, and their source is never sent.
    let (_, body) = page(addr, "/hello.php?x=1");
    assert_eq!(body, "x=1 /hello.php");
    let (_, body) = page(addr, "/front.php");
    assert!(!body.contains("<?php"), "{body}");
    assert_eq!(body, "script=/front.php info= uri=/front.php");
    // Nor under another spelling of its extension: php-fpm runs it or refuses it.
    write(dir.path(), "public/Info.PHP", "<?php echo 'r', 'an';");
    let (head, body) = page(addr, "/Info.PHP");
    assert!(
        !body.contains("<?php") && !head.starts_with("HTTP/1.1 200 ") || body == "ran",
        "{head}\n{body}"
    );
}

#[test]
fn without_a_front_controller_a_path_naming_nothing_is_404_and_files_are_served() {
    let Some((dir, _fpm, usher)) = site_with(true, 2, |a| table(a, r#"index = "index.php""#))
    else {
        return;
    };
    write(dir.path(), "public/robots.txt", "User-agent: *\n");
    let addr = usher.addrs[0];
    let (head, body) = page(addr, "/robots.txt");
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert_eq!(body, "User-agent: *\n");
    let (head, _) = page(addr, "/users/5");
    assert!(head.starts_with("HTTP/1.1 404 "), "{head}");
    // A directory with an index script, named without its slash: 308 to the form with it
    // (its page's relative links resolve inside it; a posted form stays a POST), as Caddy.
    write(
        dir.path(),
        "public/sub dir/index.php",
        "<?php echo 'sub index';",
    );
    let (head, _) = page(addr, "/sub%20dir?x=1");
    assert!(head.starts_with("HTTP/1.1 308 "), "{head}");
    assert_eq!(head_value(&head, "location"), Some("/sub%20dir/?x=1"));
    let (head, body) = page(addr, "/sub%20dir/?x=1");
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert_eq!(body, "sub index");
}

/// Chunked content has no length; PHP reads only CONTENT_LENGTH bytes, so usher stores it
/// first. A small form stays in memory; a 300 KiB one goes through a temporary file.
#[test]
fn chunked_content_reaches_post_with_its_length() {
    let Some((dir, _fpm, usher)) = site_with(true, 2, |a| table(a, r#"index = "index.php""#))
    else {
        return;
    };
    write(
        dir.path(),
        "public/length.php",
        r#"<?php echo $_SERVER["CONTENT_LENGTH"] ?? "none", " ", strlen($_POST["big"] ?? ""), " ", $_POST["name"] ?? "";"#,
    );
    let addr = usher.addrs[0];
    let chunked = |chunks: &[&str]| {
        let mut body = String::new();
        for c in chunks {
            body.push_str(&format!("{:x}\r\n{c}\r\n", c.len()));
        }
        body.push_str("0\r\n\r\n");
        format!(
            "POST /length.php HTTP/1.1\r\nHost: php.test\r\nConnection: close\r\n\
             Content-Type: application/x-www-form-urlencoded\r\n\
             Transfer-Encoding: chunked\r\n\r\n{body}"
        )
    };
    let (head, body) = exchange(addr, &chunked(&["name=a", "nn&big=", "xyz"]));
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}\n{body}");
    assert_eq!(unchunk(&head, &body), "16 3 ann");

    let big = "q".repeat(100 * 1024);
    let (head, body) = exchange(addr, &chunked(&["name=b&big=", &big, &big, &big, "&x=1"]));
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    let length = 11 + 3 * big.len() + 4;
    assert_eq!(
        unchunk(&head, &body),
        format!("{length} {} b", 3 * big.len())
    );
}

#[test]
fn content_past_max_body_is_a_413_problem_declared_or_chunked() {
    let Some((_dir, _fpm, usher)) = site_with(true, 2, |a| table(a, r#"max-body = "1k""#)) else {
        return;
    };
    let addr = usher.addrs[0];
    let form = "a=".to_owned() + &"x".repeat(1100);
    let declared = format!(
        "POST /form.php HTTP/1.1\r\nHost: php.test\r\nConnection: close\r\n\
         Accept: application/problem+json\r\nContent-Length: {}\r\n\r\n{form}",
        form.len()
    );
    let chunked = format!(
        "POST /form.php HTTP/1.1\r\nHost: php.test\r\nConnection: close\r\n\
         Accept: application/problem+json\r\nTransfer-Encoding: chunked\r\n\r\n\
         {:x}\r\n{form}\r\n0\r\n\r\n",
        form.len()
    );
    for request in [declared, chunked] {
        let (head, body) = exchange(addr, &request);
        assert!(head.starts_with("HTTP/1.1 413 "), "{head}\n{body}");
        let problem: serde_json::Value = serde_json::from_str(&unchunk(&head, &body)).unwrap();
        assert_eq!(problem["status"], 413);
        assert!(
            problem["detail"].as_str().unwrap().contains("1024 bytes"),
            "{problem}"
        );
    }
    // At the limit it passes.
    let form = "name=".to_owned() + &"y".repeat(1019);
    let (head, body) = exchange(
        addr,
        &format!(
            "POST /form.php HTTP/1.1\r\nHost: php.test\r\nConnection: close\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
            form.len()
        ),
    );
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}\n{body}");
}

/// Two addresses, the first of which nothing listens on: every request is answered, by the
/// one that works.
#[test]
fn a_dead_address_among_several_is_skipped() {
    let Some((dir, _fpm, usher)) = site_with(false, 2, |a| {
        let dead = a.replace("fpm.sock", "dead.sock");
        format!(r#"address = ["{dead}", "{a}"], root = "public", header-timeout = "5s""#)
    }) else {
        return;
    };
    assert!(!dir.path().join("dead.sock").exists());
    for n in 0..6 {
        let (head, body) = page(usher.addrs[0], &format!("/hello.php?x={n}"));
        assert!(head.starts_with("HTTP/1.1 200 "), "{head}\n{body}");
        assert_eq!(body, format!("x={n} /hello.php"));
    }
}

/// The README's FastCGI examples are what `usher check` accepts.
/// What a PHP application sees of the request's credentials and host: `Authorization` by
/// default (as nginx and Caddy pass it), not when the route's own `auth` checked it or
/// `pass-authorization = false`; never `Proxy-Authorization`; `HTTP_HOST` from an
/// absolute-form target's authority (RFC 9112 §3.2.2).
#[test]
fn authorization_reaches_php_unless_usher_checked_it() {
    let Some((dir, _fpm, _usher)) = site_with(false, 2, |a| table(a, "")) else {
        return;
    };
    let sock = dir.path().join("fpm.sock");
    let fastcgi = |extra: &str| {
        format!(
            r#"fastcgi = {{ address = "unix:{}", root = "public", header-timeout = "5s"{extra} }}"#,
            sock.display()
        )
    };
    let hash = bcrypt::hash("pw", 4).unwrap();
    let config = format!(
        r#"
[server]
listen = ["127.0.0.1:0"]

[[site]]
root = "public"

[[site.route]]
path = "/staff/"
{staff}
auth = {{ realm = "staff", users = {{ alice = "{hash}" }} }}

[[site.route]]
path = "/closed/"
{closed}

[[site.route]]
path = "/"
{open}
"#,
        staff = fastcgi(""),
        closed = fastcgi(", pass-authorization = false"),
        open = fastcgi(""),
    );
    for script in [
        "public/who.php",
        "public/staff/who.php",
        "public/closed/who.php",
    ] {
        write(dir.path(), script, WHO);
    }
    write(dir.path(), "routes.toml", config);
    let usher = start(&["-c", dir.path().join("routes.toml").to_str().unwrap()]);
    let ask = |target: &str, credentials: &str| {
        let (head, body) = exchange(
            usher.addrs[0],
            &format!(
                "GET {target} HTTP/1.1\r\nHost: php.test\r\nAuthorization: {credentials}\r\n\
                 Proxy-Authorization: Basic cHJveHk6cHc=\r\nConnection: close\r\n\r\n"
            ),
        );
        assert!(
            head.starts_with("HTTP/1.1 200 "),
            "{target}: {head}\n{body}"
        );
        unchunk(&head, &body)
    };
    assert_eq!(
        ask("/who.php", "Bearer tok123"),
        "auth=Bearer tok123 proxy=- host=php.test scheme=http"
    );
    assert_eq!(
        ask("http://app.test:8080/who.php", "Bearer tok123"),
        "auth=Bearer tok123 proxy=- host=app.test:8080 scheme=http"
    );
    assert_eq!(
        ask("/closed/who.php", "Bearer tok123"),
        "auth=- proxy=- host=php.test scheme=http"
    );
    // alice:pw, checked by usher: the password stays with usher.
    assert_eq!(
        ask("/staff/who.php", "Basic YWxpY2U6cHc="),
        "auth=- proxy=- host=php.test scheme=http"
    );
}

#[test]
fn the_readme_fastcgi_examples_are_valid() {
    let blocks = readme_toml_blocks("PHP and other FastCGI applications");
    assert!(blocks.len() >= 2, "{} toml blocks", blocks.len());
    for block in blocks {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "public/index.php", "<?php");
        let config = format!("[[site]]\nroot = \"public\"\n\n{block}");
        write(dir.path(), "usher.toml", &config);
        let checked = check(&dir.path().join("usher.toml"));
        assert!(checked.is_ok(), "{config}\n{checked:?}");
    }
}
