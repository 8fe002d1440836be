//! Request heads, well-formed and hostile: framing, limits, target forms, versions.

use bytes::BytesMut;
use http::{Method, StatusCode, Version};

use super::*;

fn parse_str(raw: &str) -> Result<Option<Head>, Box<Problem>> {
    parse(&mut BytesMut::from(raw)).map_err(|refusal| refusal.problem)
}

fn head(raw: &str) -> Head {
    parse_str(raw).expect("valid").expect("complete")
}

fn refused(raw: &str) -> StatusCode {
    match parse_str(raw) {
        Err(problem) => problem.status,
        Ok(h) => panic!("accepted {:?}: {h:?}", &raw[..raw.len().min(80)]),
    }
}

#[test]
fn a_simple_get_parses_and_leaves_the_next_request_in_the_buffer() {
    let mut buf = BytesMut::from("GET /a?b=c HTTP/1.1\r\nHost: t\r\nX-A: 1\r\n\r\nGET /next");
    let h = parse(&mut buf).unwrap().unwrap();
    assert_eq!(h.parts.method, Method::GET);
    assert_eq!(h.parts.uri, "/a?b=c");
    assert_eq!(h.parts.version, Version::HTTP_11);
    assert_eq!(h.parts.headers["host"], "t");
    assert_eq!(h.parts.headers["x-a"], "1");
    assert_eq!(h.framing, Framing::None);
    assert!(h.keep_alive);
    assert!(!h.expect_continue);
    assert_eq!(&buf[..], b"GET /next");
}

#[test]
fn an_incomplete_head_waits_for_more_bytes() {
    for partial in [
        "",
        "GET",
        "GET / HTTP/1.1\r\n",
        "GET / HTTP/1.1\r\nHost: t\r\n",
    ] {
        assert!(parse_str(partial).unwrap().is_none(), "{partial:?}");
    }
}

#[test]
fn persistence_follows_version_and_connection_options() {
    assert!(head("GET / HTTP/1.1\r\n\r\n").keep_alive);
    assert!(!head("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").keep_alive);
    assert!(!head("GET / HTTP/1.1\r\nConnection: foo, CLOSE\r\n\r\n").keep_alive);
    assert!(!head("GET / HTTP/1.0\r\n\r\n").keep_alive);
    assert!(head("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
}

#[test]
fn content_length_and_chunked_set_the_framing() {
    let h = head("POST / HTTP/1.1\r\nContent-Length: 42\r\n\r\n");
    assert_eq!(h.framing, Framing::Length(42));
    assert_eq!(
        head("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n").framing,
        Framing::None
    );
    let h = head("POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n");
    assert_eq!(h.framing, Framing::Chunked);
    let h = head("POST / HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n");
    assert_eq!(h.framing, Framing::Length(u64::MAX));
}

/// Every ambiguity a front-end and a back-end could resolve differently (RFC 9112 §6.3,
/// §11.2) is refused outright.
#[test]
fn smuggling_shapes_are_refused() {
    for raw in [
        "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: \r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: \r\n\r\n",
        "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",
        "POST / HTTP/1.1\r\n Transfer-Encoding: chunked\r\n\r\n",
    ] {
        assert_eq!(refused(raw), StatusCode::BAD_REQUEST, "{raw:?}");
    }
}

/// A coding usher cannot decode before a final chunked gets 501 (RFC 9112 §6.1); chunked
/// not last, or no chunked at all, leaves the content's end unknown: 400 (§6.3 item 4).
#[test]
fn a_transfer_coding_other_than_chunked_is_501_and_chunked_not_last_400() {
    for raw in [
        "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
    ] {
        assert_eq!(refused(raw), StatusCode::NOT_IMPLEMENTED, "{raw:?}");
    }
    for raw in [
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n",
    ] {
        assert_eq!(refused(raw), StatusCode::BAD_REQUEST, "{raw:?}");
    }
    // Chunked with a parameter (RFC 9112 §7.1: none are defined; SHOULD be an error).
    for raw in [
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked;foo=bar\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked ; q=1\r\n\r\n",
    ] {
        let problem = parse_str(raw).unwrap_err();
        assert_eq!(problem.status, StatusCode::BAD_REQUEST, "{raw:?}");
        assert!(
            problem.detail.contains("takes no parameters"),
            "{problem:?}"
        );
    }
}

#[test]
fn expect_100_continue_is_noted_and_other_expectations_get_417() {
    let h = head("PUT / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n");
    assert!(h.expect_continue);
    assert_eq!(
        refused("PUT / HTTP/1.1\r\nExpect: 200-ok\r\n\r\n"),
        StatusCode::EXPECTATION_FAILED
    );
}

#[test]
fn target_forms_are_checked_against_the_method() {
    assert_eq!(head("OPTIONS * HTTP/1.1\r\n\r\n").parts.uri, "*");
    assert_eq!(
        head("GET http://t.example/x HTTP/1.1\r\n\r\n")
            .parts
            .uri
            .path(),
        "/x"
    );
    assert_eq!(
        head("GET HTTPS://t.example/x?y HTTP/1.1\r\n\r\n")
            .parts
            .uri
            .query(),
        Some("y")
    );
    let h = head("CONNECT t.example:443 HTTP/1.1\r\n\r\n");
    assert_eq!(h.parts.uri.authority().unwrap(), "t.example:443");
    for raw in [
        "GET * HTTP/1.1\r\n\r\n",
        "GET t.example:443 HTTP/1.1\r\n\r\n",
        "CONNECT / HTTP/1.1\r\n\r\n",
        "GET a/b HTTP/1.1\r\n\r\n",
        "GET /a b HTTP/1.1\r\n\r\n",
        "GET /a\x7f HTTP/1.1\r\n\r\n",
        "GET /a#b HTTP/1.1\r\n\r\n",
        "GET /a?q#b HTTP/1.1\r\n\r\n",
        "GET http://t.example/a#b HTTP/1.1\r\n\r\n",
        "GET http://u:p@t.example/a HTTP/1.1\r\n\r\n",
        "GET https://u@t.example/a HTTP/1.1\r\n\r\n",
        "GET ftp://t.example/a HTTP/1.1\r\n\r\n",
        "CONNECT u@t.example:443 HTTP/1.1\r\n\r\n",
    ] {
        assert_eq!(refused(raw), StatusCode::BAD_REQUEST, "{raw:?}");
    }
}

#[test]
fn unsupported_versions_get_505_and_garbage_400() {
    assert_eq!(
        refused("GET / HTTP/9.9\r\n\r\n"),
        StatusCode::HTTP_VERSION_NOT_SUPPORTED
    );
    assert_eq!(
        refused("GET / HTTP/2.0\r\n\r\n"),
        StatusCode::HTTP_VERSION_NOT_SUPPORTED
    );
    for raw in [
        "GARBAGE\r\n\r\n",
        "\0\0\0\0\r\n\r\n",
        "GET /\r\n\r\n",
        "G(T / HTTP/1.1\r\n\r\n",
    ] {
        assert_eq!(refused(raw), StatusCode::BAD_REQUEST, "{raw:?}");
    }
}

#[test]
fn control_characters_in_fields_are_refused() {
    for raw in [
        "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n",
        "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n",
        "GET / HTTP/1.1\r\nX\0: a\r\n\r\n",
        "GET / HTTP/1.1\r\n: empty name\r\n\r\n",
    ] {
        assert_eq!(refused(raw), StatusCode::BAD_REQUEST, "{raw:?}");
    }
}

/// The head limit is exact: a head of MAX_HEAD_BYTES passes, one byte more is 431, whether
/// it arrived whole or is still incomplete.
#[test]
fn the_head_limit_is_exact() {
    let sized = |total: usize| {
        let start = "GET / HTTP/1.1\r\nX: ";
        let filler = total - start.len() - 4;
        format!("{start}{}\r\n\r\n", "a".repeat(filler))
    };
    let at_limit = sized(MAX_HEAD_BYTES);
    assert_eq!(at_limit.len(), MAX_HEAD_BYTES);
    assert!(parse_str(&at_limit).unwrap().is_some());
    let over = sized(MAX_HEAD_BYTES + 1);
    assert_eq!(refused(&over), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    let unfinished = &over[..over.len() - 4];
    assert!(
        parse_str(unfinished).unwrap().is_none(),
        "within the limit: wait"
    );
    let unfinished_over = format!("{unfinished}aaaa");
    assert_eq!(unfinished_over.len(), MAX_HEAD_BYTES + 1);
    assert_eq!(
        refused(&unfinished_over),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
}

#[test]
fn too_many_fields_is_431_and_a_long_target_414() {
    let fields: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: v\r\n")).collect();
    assert_eq!(
        refused(&format!("GET / HTTP/1.1\r\n{fields}\r\n")),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
    let fields: String = (0..MAX_HEADERS).map(|i| format!("X-{i}: v\r\n")).collect();
    assert!(
        parse_str(&format!("GET / HTTP/1.1\r\n{fields}\r\n"))
            .unwrap()
            .is_some()
    );
    let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_TARGET_BYTES));
    assert_eq!(refused(&long), StatusCode::URI_TOO_LONG);
    let fits = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_TARGET_BYTES - 1));
    assert!(parse_str(&fits).unwrap().is_some());
}

/// Leading empty lines before a request line are skipped (RFC 9112 §2.2).
#[test]
fn a_refusal_after_the_fields_carries_the_accept_field() {
    let raw = "POST / HTTP/1.1\r\nAccept: application/json\r\nContent-Length: x\r\n\r\n";
    let refusal = parse(&mut BytesMut::from(raw)).unwrap_err();
    assert_eq!(refusal.accept.unwrap(), "application/json");
    assert_eq!(refusal.problem.status, StatusCode::BAD_REQUEST);
}

#[test]
fn leading_empty_lines_are_ignored() {
    assert_eq!(head("\r\n\r\nGET /x HTTP/1.1\r\n\r\n").parts.uri, "/x");
}

/// Field values are slices of the received head, byte for byte (obs-text included).
#[test]
fn field_values_keep_their_bytes() {
    let mut buf = BytesMut::from(&b"GET / HTTP/1.1\r\nX: caf\xc3\xa9 \t x\r\n\r\n"[..]);
    let h = parse(&mut buf).unwrap().unwrap();
    assert_eq!(h.parts.headers["x"].as_bytes(), b"caf\xc3\xa9 \t x");
}

/// 505 or 400 is decided on the whole request line, not on where a read stopped.
#[test]
fn a_version_is_judged_on_the_whole_request_line() {
    assert!(parse_str("GET / HTTP/2").unwrap().is_none());
    assert_eq!(
        refused("GET / HTTP/2.0\r\n"),
        StatusCode::HTTP_VERSION_NOT_SUPPORTED
    );
    assert_eq!(refused("GET / HTTP/2.0x\r\n"), StatusCode::BAD_REQUEST);
}

/// Obsolete line folding is refused with a detail that says so (RFC 9112 §5.2: 400,
/// "preferably with a representation explaining that obsolete line folding is
/// unacceptable"); other bad names keep their own detail.
#[test]
fn obs_fold_is_explained() {
    let folded = parse_str("GET / HTTP/1.1\r\nHost: t\r\nX-A: a\r\n\tb\r\n\r\n").unwrap_err();
    assert_eq!(folded.status, StatusCode::BAD_REQUEST);
    assert!(folded.detail.contains("folding"), "{folded:?}");
    let spaced = parse_str("GET / HTTP/1.1\r\nHost : t\r\n\r\n").unwrap_err();
    assert!(!spaced.detail.contains("folding"), "{spaced:?}");
}

/// A request line that alone passes the head's limit gets 414, as a long target does, not
/// 431: it is the target that is long.
#[test]
fn a_request_line_longer_than_a_head_is_414() {
    let mut buf = BytesMut::from(format!("GET /{}", "a".repeat(MAX_HEAD_BYTES + 10)).as_str());
    let refusal = parse(&mut buf).unwrap_err();
    assert_eq!(refusal.problem.status, StatusCode::URI_TOO_LONG);
    // Its end arrived in the same read, fields after it: still the target that is long.
    let ended = format!(
        "GET /{} HTTP/1.1\r\nHost: t\r\n\r\n",
        "a".repeat(MAX_HEAD_BYTES + 10)
    );
    let refusal = parse(&mut BytesMut::from(ended.as_str())).unwrap_err();
    assert_eq!(refusal.problem.status, StatusCode::URI_TOO_LONG);
    let exact = format!("is at least {} bytes", MAX_HEAD_BYTES + 11);
    assert!(refusal.problem.detail.contains(&exact), "{refusal:?}");
    let fields = format!("GET / HTTP/1.1\r\nX: {}", "a".repeat(MAX_HEAD_BYTES + 10));
    let refusal = parse(&mut BytesMut::from(fields.as_str())).unwrap_err();
    assert_eq!(
        refusal.problem.status,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
}

/// A higher minor version of HTTP/1 is read as HTTP/1.1 (RFC 9110 §2.5, SHOULD); another
/// major version is still 505, and a malformed one 400.
#[test]
fn http_1_2_is_read_as_1_1() {
    for raw in [
        "GET /a HTTP/1.2\r\nHost: t\r\n\r\n",
        "\r\nGET /a HTTP/1.9\r\nHost: t\r\n\r\n",
    ] {
        let h = head(raw);
        assert_eq!(h.parts.version, Version::HTTP_11, "{raw:?}");
        assert_eq!(h.parts.uri, "/a");
        assert!(h.keep_alive);
    }
    assert_eq!(
        refused("GET / HTTP/2.0\r\n\r\n"),
        StatusCode::HTTP_VERSION_NOT_SUPPORTED
    );
    assert_eq!(refused("GET / HTTP/1.x\r\n\r\n"), StatusCode::BAD_REQUEST);
    assert_eq!(refused("GET / HTTP/1.10\r\n\r\n"), StatusCode::BAD_REQUEST);
}

#[test]
fn the_first_accept_field_is_taken_with_the_head() {
    let h = head("GET / HTTP/1.1\r\nHost: t\r\nAccept: text/html\r\nAccept: */*\r\n\r\n");
    assert_eq!(
        h.accept.as_ref().map(|v| v.as_bytes()),
        Some(&b"text/html"[..])
    );
    assert_eq!(head("GET / HTTP/1.1\r\nHost: t\r\n\r\n").accept, None);
    // A refused head still carries it, so its problem is negotiated.
    let refusal = parse(&mut BytesMut::from(
        "GET * HTTP/1.1\r\nHost: t\r\nAccept: application/problem+json\r\n\r\n",
    ))
    .unwrap_err();
    assert_eq!(
        refusal.accept.as_ref().map(|v| v.as_bytes()),
        Some(&b"application/problem+json"[..])
    );
}

#[test]
fn only_a_head_with_upgrade_and_connection_may_upgrade() {
    let with =
        |fields: &str| head(&format!("GET / HTTP/1.1\r\nHost: t\r\n{fields}\r\n")).may_upgrade;
    assert!(with("Upgrade: websocket\r\nConnection: upgrade\r\n"));
    assert!(with("connection: keep-alive, Upgrade\r\nupgrade: h2c\r\n"));
    assert!(!with("Upgrade: websocket\r\n"));
    assert!(!with("Connection: upgrade\r\n"));
    assert!(!with(""));
}

/// The Accept a refused head is answered by: the first whole `Accept` field line, even when
/// the fields could not be parsed (431, obs-fold, a bad name), so the problem comes in the
/// format the client asked for.
#[test]
fn heads_refused_before_their_fields_are_parsed_still_negotiate() {
    let accept_of = |raw: &[u8]| match parse(&mut BytesMut::from(raw)) {
        Err(refusal) => refusal.accept.map(|v| v.to_str().unwrap().to_owned()),
        Ok(head) => panic!("accepted {:?}: {head:?}", String::from_utf8_lossy(raw)),
    };
    let json = Some("application/json".to_owned());
    let big = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nAccept:  application/json \r\nX: {}\r\n\r\n",
        "a".repeat(MAX_HEAD_BYTES)
    );
    assert_eq!(accept_of(big.as_bytes()), json, "431");
    assert_eq!(
        accept_of(b"GET / HTTP/1.1\r\nACCEPT:application/json\r\nX: a\r\n b\r\n\r\n"),
        json,
        "obs-fold"
    );
    assert_eq!(
        accept_of(b"GET / HTTP/1.1\nAccept: application/json\nBad Name: x\n\n"),
        json,
        "bare LF lines, a bad name"
    );
    assert_eq!(
        accept_of(b"GET / HTTP/9.9\r\nAccept: application/json\r\n\r\n"),
        json,
        "505"
    );
    // Not an Accept field: another name, whitespace before the colon, a value a field may
    // not hold, a line after the head's end, the request line, a line cut off.
    for raw in [
        &b"GET / HTTP/1.1\r\nX-Accept: application/json\r\nX: a\r\n b\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nAccept : application/json\r\n\r\n",
        b"GET / HTTP/1.1\r\nAccept: a\x01b\r\nX: a\r\n b\r\n\r\n",
        b"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\nAccept: application/json\r\n",
        b"GET /Accept:json HTTP/1.1\r\nX: a\r\n b\r\n\r\n",
    ] {
        assert_eq!(accept_of(raw), None, "{:?}", String::from_utf8_lossy(raw));
    }
    let cut = format!(
        "GET / HTTP/1.1\r\nX: {}\r\nAccept: application/json",
        "a".repeat(MAX_HEAD_BYTES)
    );
    assert_eq!(accept_of(cut.as_bytes()), None, "past the limit");
}

/// A malformed request line is explained by what is wrong with it, not by the byte the
/// parser stopped at (RFC 9112 §3): each refused with 400, with a detail that names the fault.
#[test]
fn a_malformed_request_line_is_explained_by_its_fault() {
    let cases: [(&[u8], &str); 14] = [
        (
            b"GET  / HTTP/1.1\r\nHost: t\r\n\r\n",
            "more than one space separates the method",
        ),
        (
            b" GET / HTTP/1.1\r\nHost: t\r\n\r\n",
            "starts with whitespace",
        ),
        (
            b"GET /\tHTTP/1.1\r\nHost: t\r\n\r\n",
            "control character or whitespace",
        ),
        (
            b"GET /\x7f HTTP/1.1\r\nHost: t\r\n\r\n",
            "control character or whitespace",
        ),
        (
            b"GET /\x00 HTTP/1.1\r\nHost: t\r\n\r\n",
            "control character or whitespace",
        ),
        (b"GET /\r\n\r\n", "no HTTP version"),
        (b"BAD\r\n\r\n", "no target and no HTTP version"),
        (
            b"G@T / HTTP/1.1\r\nHost: t\r\n\r\n",
            "the method is not a token",
        ),
        (
            b"GET / HTTP/1.1 \r\nHost: t\r\n\r\n",
            "something follows the HTTP version",
        ),
        (
            b"GET /  HTTP/1.1\r\nHost: t\r\n\r\n",
            "separates the target and the HTTP version",
        ),
        (
            b"GET / HTTP/1.10\r\nHost: t\r\n\r\n",
            "not written as HTTP/1.1",
        ),
        (
            b"GET / http/1.1\r\nHost: t\r\n\r\n",
            "not written as HTTP/1.1",
        ),
        (
            b"GET / HTTP/1.1\rX\r\nHost: t\r\n\r\n",
            "carriage return (CR) stands alone",
        ),
        // The request line is fine: the fault is a later line's, named as before.
        (
            b"GET / HTTP/1.1\r\nHost: t\rX\r\n\r\n",
            "field value holds a control character",
        ),
    ];
    for (raw, says) in cases {
        let refusal = parse(&mut BytesMut::from(raw)).unwrap_err();
        let shown = String::from_utf8_lossy(raw);
        assert_eq!(refusal.problem.status, StatusCode::BAD_REQUEST, "{shown:?}");
        assert!(
            refusal.problem.detail.contains(says),
            "{shown:?}: {}",
            refusal.problem.detail
        );
    }
}

/// `"`, `<` and `>` in a query, sent raw by curl and scripts, are taken as the browser would
/// have sent them (percent-encoded); elsewhere, and other invalid bytes, still get 400.
#[test]
fn quotes_and_angle_brackets_in_a_query_are_taken_encoded() {
    let h = head("GET /search?q=\"a\"&t=<b> HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(h.parts.uri, "/search?q=%22a%22&t=%3Cb%3E");
    assert_eq!(
        refused("GET /a<b HTTP/1.1\r\nHost: t\r\n\r\n"),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        refused("GET /a?\"\x7f HTTP/1.1\r\nHost: t\r\n\r\n"),
        StatusCode::BAD_REQUEST
    );
}
