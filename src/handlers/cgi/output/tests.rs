//! CGI output heads: the three response kinds, line ends, and hostile programs.

use super::*;

fn head(out: &str) -> (CgiHead, usize) {
    parse(out.as_bytes()).expect("valid").expect("complete")
}

fn error(out: &[u8]) -> OutputError {
    parse(out).expect_err("invalid")
}

#[test]
fn a_document_with_lf_or_crlf_line_ends() {
    for out in [
        "Content-Type: text/plain\n\nhello",
        "Content-Type: text/plain\r\n\r\nhello",
        "Content-Type:text/plain\r\n\nhello",
    ] {
        let (h, consumed) = head(out);
        assert_eq!(h.status, StatusCode::OK);
        assert_eq!(h.headers["content-type"], "text/plain");
        assert_eq!(h.kind, Kind::Document);
        assert_eq!(&out[consumed..], "hello", "{out:?}");
    }
}

/// Fields other than the CGI ones alone: a 200 with no Content-Type, as Apache and nginx
/// take it (RFC 3875 §6.3.1: the server does not guess a type).
#[test]
fn a_head_without_cgi_fields_is_a_document_without_a_type() {
    let (h, consumed) = head("X-Only: 1\n\nbody");
    assert_eq!((h.status, h.kind), (StatusCode::OK, Kind::Document));
    assert_eq!(h.headers["x-only"], "1");
    assert!(!h.headers.contains_key("content-type"));
    assert_eq!(consumed, 11);
}

#[test]
fn status_sets_the_code_and_is_not_sent() {
    let (h, _) = head("Status: 404 Not Found\nContent-Type: text/html\nX-A: 1\n\n");
    assert_eq!(h.status, StatusCode::NOT_FOUND);
    assert!(h.headers.get("status").is_none());
    assert_eq!(h.headers["x-a"], "1");
    let (h, _) = head("Status: 204\n\n");
    assert_eq!(h.status, StatusCode::NO_CONTENT);
}

#[test]
fn locations_make_local_or_client_redirects() {
    let (h, _) = head("Location: /other/page?x=1\n\n");
    assert_eq!(h.kind, Kind::LocalRedirect("/other/page?x=1".to_owned()));
    let (h, _) = head("Location: https://example.test/\n\n");
    assert_eq!(h.kind, Kind::Document);
    assert_eq!(h.status, StatusCode::FOUND);
    let (h, _) = head("Status: 301 Moved\nLocation: /moved\nContent-Type: text/html\n\n");
    assert_eq!(
        h.kind,
        Kind::Document,
        "a redirect with a status is the client's"
    );
    assert_eq!(h.status, StatusCode::MOVED_PERMANENTLY);
    let (h, _) = head("Location: //evil.test/\n\n");
    assert_eq!(
        h.kind,
        Kind::Document,
        "a network-path reference is not a local path"
    );
}

#[test]
fn an_incomplete_head_asks_for_more() {
    for out in ["", "Content-Type: text/plain", "Content-Type: text/plain\n"] {
        assert!(parse(out.as_bytes()).unwrap().is_none(), "{out:?}");
    }
}

#[test]
fn framing_fields_from_the_program_are_dropped_and_length_is_checked() {
    let (h, _) = head(
        "Content-Type: a/b\nConnection: close\nTransfer-Encoding: chunked\nProxy-X: 1\nContent-Length: 5\n\n",
    );
    assert!(h.headers.get("connection").is_none());
    assert!(h.headers.get("transfer-encoding").is_none());
    assert!(h.headers.get("proxy-x").is_none());
    assert_eq!(h.length, Some(5));
    // The fields a program's `Connection` names go with it (RFC 9110 §7.6.1).
    let (h, _) =
        head("Content-Type: a/b\nConnection: X-Hop, x-other\nX-Hop: 1\nX-Other: 2\nX-Kept: 3\n\n");
    assert!(h.headers.get("x-hop").is_none() && h.headers.get("x-other").is_none());
    assert_eq!(h.headers["x-kept"], "3");
    // `identity` is no coding: not passed on; a real one is.
    let (h, _) = head("Content-Type: a/b\nContent-Encoding: Identity\n\n");
    assert!(h.headers.get("content-encoding").is_none());
    let (h, _) = head("Content-Type: a/b\nContent-Encoding: identity, ,IDENTITY\n\n");
    assert!(h.headers.get("content-encoding").is_none());
    let (h, _) = head("Content-Type: a/b\nContent-Encoding: gzip\n\n");
    assert_eq!(h.headers["content-encoding"], "gzip");
    // Only the real codings of a list, in their order.
    let (h, _) = head("Content-Type: a/b\nContent-Encoding: gzip, identity,br\n\n");
    assert_eq!(h.headers["content-encoding"], "gzip, br");
    for bad in ["-1", "5, 5", "", "0x5", "99999999999999999999999"] {
        let out = format!("Content-Type: a/b\nContent-Length: {bad}\n\n");
        assert_eq!(error(out.as_bytes()), OutputError::BadLength, "{bad:?}");
    }
}

#[test]
fn malformed_heads_are_errors() {
    assert_eq!(error(b"\nbody"), OutputError::Empty);
    assert_eq!(error(b"just some text\n\n"), OutputError::NotAField(1));
    assert_eq!(
        error(b"Content-Type: a/b\nBad Name: x\n\n"),
        OutputError::BadName(2)
    );
    assert_eq!(error(b"Content-Type: a\x01b\n\n"), OutputError::BadValue(1));
    assert_eq!(error(b"Content-Type: a\rb\n\n"), OutputError::BadValue(1));
    for status in ["abc", "99", "100 Continue", "600 Nope", "2000", "404Not"] {
        let out = format!("Status: {status}\nContent-Type: a/b\n\n");
        assert_eq!(error(out.as_bytes()), OutputError::BadStatus, "{status}");
    }
    assert_eq!(
        error(b"Status: 200 OK\nStatus: 404 No\nContent-Type: a/b\n\n"),
        OutputError::TwoStatuses
    );
    assert_eq!(
        error(b"Content-Type: text/plain\nContent-Type: text/html\n\nbody"),
        OutputError::Repeated("Content-Type")
    );
    assert_eq!(
        error(b"Location: /a\nlocation: /b\n\n"),
        OutputError::Repeated("Location")
    );
}

#[test]
fn a_head_past_the_limit_is_an_error_whether_or_not_it_ends() {
    let long = format!("Content-Type: a/b\nX: {}\n", "a".repeat(MAX_HEAD));
    assert_eq!(error(long.as_bytes()), OutputError::HeadTooLarge);
    let unended = "a".repeat(MAX_HEAD + 1);
    assert_eq!(error(unended.as_bytes()), OutputError::HeadTooLarge);
    let fits = format!("Content-Type: a/b\nX: {}\n\n", "a".repeat(MAX_HEAD - 40));
    assert!(parse(fits.as_bytes()).unwrap().is_some());
}

#[test]
fn binary_bodies_after_the_head_are_untouched() {
    let mut out = b"Content-Type: application/octet-stream\r\n\r\n".to_vec();
    out.extend_from_slice(&[0, 13, 10, 255, 10, 10]);
    let (_, consumed) = parse(&out).unwrap().unwrap();
    assert_eq!(&out[consumed..], &[0, 13, 10, 255, 10, 10]);
}

#[test]
fn nph_output_starts_with_a_status_line() {
    let out = "HTTP/1.1 299 Custom\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nraw";
    let (h, consumed) = parse_nph(out.as_bytes()).unwrap().unwrap();
    assert_eq!(h.status.as_u16(), 299);
    assert_eq!(h.kind, Kind::Document);
    assert!(
        h.headers.get("connection").is_none(),
        "framing stays the server's"
    );
    assert_eq!(&out[consumed..], "raw");
    let (h, _) = parse_nph(b"HTTP/1.0 404 Nope\nLocation: /x\n\n")
        .unwrap()
        .unwrap();
    assert_eq!((h.status.as_u16(), h.kind), (404, Kind::Document));
    for bad in [
        &b"Content-Type: a/b\n\n"[..],
        b"HTTP/2 200 OK\n\n",
        b"HTTP/1.1 99 x\n\n",
        b"HTTP/1.1\n\n",
    ] {
        assert_eq!(
            parse_nph(bad).unwrap_err(),
            OutputError::BadStatusLine,
            "{bad:?}"
        );
    }
    assert_eq!(parse_nph(b"\n").unwrap_err(), OutputError::Empty);
}
