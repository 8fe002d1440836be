//! The client-side codec: request heads written, and upstream responses parsed, many of them
//! hostile. Every response is also parsed byte by byte and split in two at every point, and
//! must give the same result as parsing it whole.

use bytes::{Bytes, BytesMut};
use http::header::HOST;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};

use crate::handlers::proxy::forward::FieldSink as _;

use super::*;
use crate::http::chunked::Chunk;

/// How parsing a response ended, comparable across splits.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// A final head (status, version, fields, framing, keep-alive) and the bytes after it.
    Head(String, Vec<u8>),
    NeedMore,
    Failed(ResponseError),
}

fn feed<'a>(method: &Method, upgrade: bool, pieces: impl IntoIterator<Item = &'a [u8]>) -> Outcome {
    let mut parser = ResponseParser::new(method, upgrade);
    let mut buf = BytesMut::new();
    let mut pieces = pieces.into_iter();
    while let Some(piece) = pieces.next() {
        buf.extend_from_slice(piece);
        match parser.parse(&mut buf) {
            Ok(Some(head)) => {
                let mut rest = buf.to_vec();
                pieces.for_each(|p| rest.extend_from_slice(p));
                let fields: Vec<_> = head
                    .parts
                    .headers
                    .iter()
                    .map(|(n, v)| format!("{n}: {}", String::from_utf8_lossy(v.as_bytes())))
                    .collect();
                let head = format!(
                    "{} {:?} {fields:?} {:?} keep-alive={}",
                    head.parts.status.as_u16(),
                    head.parts.version,
                    head.framing,
                    head.keep_alive
                );
                return Outcome::Head(head, rest);
            }
            Ok(None) => {}
            Err(e) => return Outcome::Failed(e),
        }
    }
    Outcome::NeedMore
}

/// Parse `input` as the response to `method`: whole, byte by byte, and split at every point.
fn parse_for(method: &Method, upgrade: bool, input: &[u8]) -> Outcome {
    let whole = feed(method, upgrade, [input]);
    assert_eq!(
        feed(method, upgrade, input.chunks(1)),
        whole,
        "byte by byte: {input:?}"
    );
    if input.len() <= 2048 {
        for cut in 0..=input.len() {
            let (a, b) = input.split_at(cut);
            assert_eq!(
                feed(method, upgrade, [a, b]),
                whole,
                "split at {cut}: {input:?}"
            );
        }
    }
    whole
}

fn parse(input: &[u8]) -> Outcome {
    parse_for(&Method::GET, false, input)
}

/// The head a response to GET must parse to, with the bytes left after it.
fn head(input: &[u8]) -> (String, Vec<u8>) {
    match parse(input) {
        Outcome::Head(head, rest) => (head, rest),
        other => panic!("{input:?}: {other:?}"),
    }
}

fn error(input: &[u8]) -> ResponseError {
    match parse(input) {
        Outcome::Failed(e) => e,
        other => panic!("{input:?} was not refused: {other:?}"),
    }
}

/// The parsed head of a complete response to `method`.
fn final_head(method: &Method, upgrade: bool, input: &[u8]) -> ResponseHead {
    let mut buf = BytesMut::from(input);
    ResponseParser::new(method, upgrade)
        .parse(&mut buf)
        .unwrap_or_else(|e| panic!("{input:?}: {e}"))
        .unwrap_or_else(|| panic!("{input:?}: incomplete"))
}

fn framing(input: &[u8]) -> ResponseFraming {
    final_head(&Method::GET, false, input).framing
}

#[test]
fn a_plain_response_parses_with_its_body_left_in_the_buffer() {
    let (head, rest) = head(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\n\
          Set-Cookie: b=2\r\nContent-Length: 5\r\n\r\nhello",
    );
    assert_eq!(
        head,
        "200 HTTP/1.1 [\"content-type: text/plain\", \"set-cookie: a=1\", \"set-cookie: b=2\", \
         \"content-length: 5\"] Length(5) keep-alive=true"
    );
    assert_eq!(rest, b"hello");
}

#[test]
fn a_missing_reason_phrase_is_fine() {
    assert!(head(b"HTTP/1.1 204\r\n\r\n").0.starts_with("204 "));
    assert!(
        head(b"HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n")
            .0
            .starts_with("200 ")
    );
    assert!(
        head(b"HTTP/1.1 404 Not \xe9 Found\r\nContent-Length: 0\r\n\r\n")
            .0
            .starts_with("404 ")
    );
}

#[test]
fn incomplete_heads_wait_for_more() {
    for partial in [
        &b""[..],
        b"\r",
        b"\r\n",
        b"H",
        b"HTTP/1.1 200 OK",
        b"HTTP/1.1 200 OK\r",
        b"HTTP/1.1 200 OK\r\nA: b\r\n",
        b"HTTP/1.1 200 OK\r\nA: b\r\n\r",
    ] {
        assert_eq!(parse(partial), Outcome::NeedMore, "{partial:?}");
    }
}

#[test]
fn framing_follows_rfc_9112_section_6_3() {
    assert_eq!(
        framing(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n"),
        ResponseFraming::Length(12)
    );
    assert_eq!(
        framing(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        ResponseFraming::None
    );
    assert_eq!(
        framing(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
        ResponseFraming::Chunked
    );
    assert_eq!(
        framing(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Identity, CHUNKED\r\n\r\n"),
        ResponseFraming::Chunked
    );
    assert_eq!(
        framing(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n"),
        ResponseFraming::UntilClose
    );
    assert_eq!(
        framing(b"HTTP/1.1 200 OK\r\n\r\n"),
        ResponseFraming::UntilClose
    );
    assert_eq!(
        framing(b"HTTP/1.0 200 OK\r\n\r\n"),
        ResponseFraming::UntilClose
    );
    // No body, whatever the fields say.
    for bodiless in [
        &b"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n"[..],
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
        b"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\nTransfer-Encoding: gzip\r\n\r\n",
    ] {
        assert_eq!(framing(bodiless), ResponseFraming::None, "{bodiless:?}");
    }
    let method = Method::HEAD;
    let head = final_head(
        &method,
        false,
        b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n",
    );
    assert_eq!(head.framing, ResponseFraming::None);
    assert!(head.keep_alive);
    let head = final_head(
        &method,
        false,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    assert_eq!(head.framing, ResponseFraming::None);
    let connect = final_head(&Method::CONNECT, false, b"HTTP/1.1 200 OK\r\n\r\nxyz");
    assert_eq!(connect.framing, ResponseFraming::Tunnel);
    assert!(!connect.keep_alive);
    let refused = final_head(
        &Method::CONNECT,
        false,
        b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(refused.framing, ResponseFraming::None);
}

#[test]
fn ambiguous_lengths_are_refused() {
    use ResponseError as E;
    let cases: &[(&[u8], ResponseError)] = &[
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
            E::SeveralLengths,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            E::SeveralLengths,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n",
            E::SeveralLengths,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5,\r\n\r\n",
            E::SeveralLengths,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            E::InvalidLength,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n",
            E::InvalidLength,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n",
            E::InvalidLength,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5 5\r\n\r\n",
            E::InvalidLength,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5.0\r\n\r\n",
            E::InvalidLength,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
            E::InvalidLength,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551616\r\n\r\n",
            E::InvalidLength,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999999\r\n\r\n",
            E::InvalidLength,
        ),
        // Checked even where no body follows, because it is forwarded.
        (
            b"HTTP/1.1 304 Not Modified\r\nContent-Length: x\r\n\r\n",
            E::InvalidLength,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            E::LengthAndTransferEncoding,
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
            E::LengthAndTransferEncoding,
        ),
        (
            b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            E::TransferEncodingInHttp10,
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            E::TransferCoding("gzip".into()),
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            E::TransferCoding("gzip".into()),
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            E::TransferCoding("gzip".into()),
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked;q=1\r\n\r\n",
            E::TransferCoding("chunked;q=1".into()),
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            E::InvalidTransferEncoding,
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
            E::InvalidTransferEncoding,
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\n\r\n",
            E::InvalidTransferEncoding,
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: ,\r\n\r\n",
            E::InvalidTransferEncoding,
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(
            &error(input),
            expected,
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn a_huge_content_length_that_fits_is_taken() {
    assert_eq!(
        framing(b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\n"),
        ResponseFraming::Length(u64::MAX)
    );
    assert_eq!(
        framing(b"HTTP/1.1 200 OK\r\nContent-Length: 00012\r\n\r\n"),
        ResponseFraming::Length(12)
    );
}

#[test]
fn malformed_heads_are_refused() {
    use ResponseError as E;
    let cases: &[(&[u8], ResponseError)] = &[
        (b"HTTP/1.1 200 OK\nContent-Length: 0\n\n", E::BareLf),
        (b"HTTP/1.1 200 OK\r\nA: b\n\r\n", E::BareLf),
        (b"\nHTTP/1.1 200 OK\r\n\r\n", E::BareLf),
        (b"HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n", E::BareCr),
        (b"HTTP/1.1 200 OK\r\nA: b\r\r\n\r\n", E::BareCr),
        (b"HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n", E::ObsFold),
        (b"HTTP/1.1 200 OK\r\nA: b\r\n\tc\r\n\r\n", E::ObsFold),
        (b"HTTP/1.1 200 OK\r\n A: b\r\n\r\n", E::ObsFold),
        (b"HTTP/2.0 200 OK\r\n\r\n", E::Version),
        (b"HTTP/1.12 200 OK\r\n\r\n", E::Version),
        (b"http/1.1 200 OK\r\n\r\n", E::Version),
        (b"SSH-2.0-OpenSSH_9.6\r\n", E::Version),
        (b"<html>", E::Version),
        (b"\r\n\r\nX", E::Version),
        (b"HTTP/1.1 000 Zero\r\n\r\n", E::Status(0)),
        (b"HTTP/1.1 099 Low\r\n\r\n", E::Status(99)),
        (b"HTTP/1.1 600 High\r\n\r\n", E::Status(600)),
        (b"HTTP/1.1 999 High\r\n\r\n", E::Status(999)),
    ];
    for (input, expected) in cases {
        assert_eq!(
            &error(input),
            expected,
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
    for input in [
        &b"HTTP/1.1 1000 Big\r\n\r\n"[..],
        b"HTTP/1.1 20 Short\r\n\r\n",
        b"HTTP/1.1 2OO OK\r\n\r\n",
        b"HTTP/1.1  200 OK\r\n\r\n",
        b"HTTP/1.1 -200 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nA : b\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nA\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n: b\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nA(b): c\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nA: b\x00c\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nA: b\x7fc\r\n\r\n",
        b"HTTP/1.1 200 O\x00K\r\n\r\n",
    ] {
        assert!(
            matches!(error(input), E::Malformed(_)),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn leading_empty_lines_are_skipped() {
    let (head, rest) = head(b"\r\n\r\nHTTP/1.1 204 No Content\r\n\r\nX");
    assert!(head.starts_with("204 "));
    assert_eq!(rest, b"X");
}

#[test]
fn heads_larger_than_the_limit_are_refused() {
    let mut big = b"HTTP/1.1 200 OK\r\n".to_vec();
    while big.len() < MAX_HEAD_BYTES {
        big.extend_from_slice(
            b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
        );
    }
    let mut one = big.clone();
    one.extend_from_slice(b"\r\n");
    assert_eq!(
        feed(&Method::GET, false, [&one[..]]),
        Outcome::Failed(ResponseError::HeadTooLarge)
    );
    // Without an end it is refused too, once past the limit, however it arrives.
    assert_eq!(
        feed(&Method::GET, false, big.chunks(4096)),
        Outcome::Failed(ResponseError::HeadTooLarge)
    );
    // A single endless line.
    let mut line = b"HTTP/1.1 200 ".to_vec();
    line.resize(MAX_HEAD_BYTES + 1, b'a');
    assert_eq!(
        feed(&Method::GET, false, [&line[..]]),
        Outcome::Failed(ResponseError::HeadTooLarge)
    );
    line.truncate(MAX_HEAD_BYTES);
    assert_eq!(feed(&Method::GET, false, [&line[..]]), Outcome::NeedMore);
    // A whole head one byte past the limit, in few fields, arriving in one read.
    let mut long = b"HTTP/1.1 200 OK\r\nX-Filler: ".to_vec();
    long.resize(MAX_HEAD_BYTES - 3, b'a');
    long.extend_from_slice(b"\r\n\r\n");
    assert_eq!(
        feed(&Method::GET, false, [&long[..]]),
        Outcome::Failed(ResponseError::HeadTooLarge)
    );
}

#[test]
fn a_head_of_exactly_the_limit_is_accepted() {
    let mut head = b"HTTP/1.1 200 OK\r\nX-Filler: ".to_vec();
    head.resize(MAX_HEAD_BYTES - 4, b'a');
    head.extend_from_slice(b"\r\n\r\n");
    assert_eq!(head.len(), MAX_HEAD_BYTES);
    assert_eq!(framing(&head), ResponseFraming::UntilClose);
}

#[test]
fn a_head_trickled_in_byte_by_byte_is_checked_in_linear_time() {
    let mut head = b"HTTP/1.1 200 OK\r\nX-Filler: ".to_vec();
    head.resize(MAX_HEAD_BYTES - 4, b'a');
    head.extend_from_slice(b"\r\n\r\n");
    // 64 Ki reads: rescanning the buffer on each would take billions of steps.
    let start = std::time::Instant::now();
    assert!(matches!(
        feed(&Method::GET, false, head.chunks(1)),
        Outcome::Head(..)
    ));
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn more_than_max_fields_are_refused() {
    let mut head = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..MAX_FIELDS {
        head.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    let mut ok = head.clone();
    ok.extend_from_slice(b"\r\n");
    assert_eq!(
        final_head(&Method::GET, false, &ok).parts.headers.len(),
        MAX_FIELDS
    );
    head.extend_from_slice(b"X-Last: v\r\n\r\n");
    assert_eq!(error(&head), ResponseError::TooManyFields);
}

#[test]
fn interim_responses_are_skipped() {
    let (head, rest) = head(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n\
          HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    );
    assert!(head.starts_with("200 "), "{head}");
    assert!(!head.contains("link"), "{head}");
    assert_eq!(rest, b"ok");
}

#[test]
fn endless_interim_responses_are_refused() {
    let mut input = Vec::new();
    for _ in 0..MAX_INTERIM {
        input.extend_from_slice(b"HTTP/1.1 103 Early Hints\r\n\r\n");
    }
    let mut ok = input.clone();
    ok.extend_from_slice(b"HTTP/1.1 204 No Content\r\n\r\n");
    assert!(head(&ok).0.starts_with("204 "));
    input.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
    assert_eq!(error(&input), ResponseError::TooManyInterim);
}

#[test]
fn switching_protocols_is_surfaced_only_when_asked_for() {
    let switch =
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x05hello";
    match parse_for(&Method::GET, true, switch) {
        Outcome::Head(head, rest) => {
            assert!(head.starts_with("101 "), "{head}");
            assert!(head.contains("Tunnel keep-alive=false"), "{head}");
            assert_eq!(rest, b"\x81\x05hello");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        parse_for(&Method::GET, false, switch),
        Outcome::Failed(ResponseError::UnexpectedSwitch)
    );
    assert_eq!(
        parse_for(
            &Method::GET,
            true,
            b"HTTP/1.1 101 Switching Protocols\r\n\r\n"
        ),
        Outcome::Failed(ResponseError::UnexpectedSwitch)
    );
    // The upstream may decline: an ordinary response.
    let declined = final_head(
        &Method::GET,
        true,
        b"HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(declined.framing, ResponseFraming::None);
    assert!(declined.keep_alive);
}

#[test]
fn keep_alive_follows_version_connection_and_framing() {
    let keep = |input: &[u8]| final_head(&Method::GET, false, input).keep_alive;
    assert!(keep(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
    assert!(keep(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    ));
    assert!(!keep(
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    ));
    assert!(!keep(
        b"HTTP/1.1 200 OK\r\nConnection: foo, CLOSE\r\nContent-Length: 0\r\n\r\n"
    ));
    assert!(!keep(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"));
    assert!(keep(
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n"
    ));
    assert!(!keep(
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n"
    ));
    // A body that ends with the connection leaves nothing to reuse.
    assert!(!keep(b"HTTP/1.1 200 OK\r\n\r\n"));
    assert!(!keep(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n"));
}

#[test]
fn version_is_reported() {
    let head = final_head(&Method::GET, false, b"HTTP/1.0 204 No Content\r\n\r\n");
    assert_eq!(head.parts.version, Version::HTTP_10);
    assert_eq!(head.parts.status, StatusCode::NO_CONTENT);
}

#[test]
fn hostile_bytes_anywhere_never_panic_and_agree_across_splits() {
    // Every prefix of a valid response, and every single-byte corruption of it.
    let valid = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX: y\r\n\r\nabc";
    for end in 0..=valid.len() {
        parse(&valid[..end]);
    }
    for at in 0..valid.len() {
        for byte in [0u8, b'\r', b'\n', b' ', b'\t', b':', b',', 0x7f, 0x80, 0xff] {
            let mut bad = valid.to_vec();
            bad[at] = byte;
            parse(&bad);
        }
    }
}

fn body(framing: ResponseFraming, pieces: &[&[u8]], eof: bool) -> Result<Vec<u8>, BodyError> {
    let mut decoder = BodyDecoder::new(framing);
    let mut buf = BytesMut::new();
    let mut data = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut buf)? {
                Some(Chunk::Data(bytes)) => {
                    assert!(!bytes.is_empty());
                    data.extend_from_slice(&bytes);
                }
                Some(Chunk::End) => {
                    assert!(decoder.is_done());
                    return Ok(data);
                }
                None => break,
            }
        }
    }
    if eof {
        decoder.at_eof()?;
        assert!(decoder.is_done());
    }
    Ok(data)
}

#[test]
fn bodies_end_where_their_framing_says() {
    assert_eq!(body(ResponseFraming::None, &[b"junk"], false), Ok(vec![]));
    assert_eq!(
        body(
            ResponseFraming::Length(5),
            &[b"he", b"llo", b"HTTP/1.1"],
            false
        ),
        Ok(b"hello".to_vec())
    );
    assert_eq!(
        body(ResponseFraming::Chunked, &[b"3\r\nabc\r\n0\r\n\r\n"], false),
        Ok(b"abc".to_vec())
    );
    assert_eq!(
        body(ResponseFraming::UntilClose, &[b"ab", b"", b"c"], true),
        Ok(b"abc".to_vec())
    );
    assert_eq!(
        body(ResponseFraming::Length(5), &[b"hel"], true),
        Err(BodyError::Truncated)
    );
    assert_eq!(
        body(ResponseFraming::Chunked, &[b"3\r\nabc\r\n"], true),
        Err(BodyError::Truncated)
    );
    assert!(matches!(
        body(ResponseFraming::Chunked, &[b"3\r\nabcd\r\n"], true),
        Err(BodyError::Chunked(_))
    ));
}

#[test]
fn bytes_after_a_length_body_stay_in_the_buffer() {
    let mut decoder = BodyDecoder::new(ResponseFraming::Length(3));
    let mut buf = BytesMut::from(&b"abcHTTP"[..]);
    assert_eq!(
        decoder.decode(&mut buf),
        Ok(Some(Chunk::Data(Bytes::from_static(b"abc"))))
    );
    assert_eq!(decoder.decode(&mut buf), Ok(Some(Chunk::End)));
    assert_eq!(&buf[..], b"HTTP");
}

fn encode(
    method: &Method,
    target: &str,
    headers: &HeaderMap,
    framing: RequestFraming,
) -> Result<String, EncodeError> {
    let mut dst = BytesMut::new();
    let result = encode_request_head(method, target, headers, framing, &mut dst);
    if result.is_err() {
        assert!(dst.is_empty(), "bytes written on error");
    }
    let result = result.map(|()| String::from_utf8_lossy(&dst).into_owned());
    // Written field by field (Host put first, as `forward_fields` does), after what the
    // buffer already holds: the same head, or the same error and the buffer as it was.
    let mut streamed = BytesMut::from(&b"before"[..]);
    let outcome = encode_request_fields(method, target, framing, &mut streamed, |w| {
        let hosts = headers.get_all(HOST).iter().map(|v| (&HOST, v));
        let others = headers.iter().filter(|(name, _)| *name != HOST);
        for (name, value) in hosts.chain(others) {
            w.put(name, value);
        }
    });
    match &outcome {
        Ok(()) => assert_eq!(
            Ok(String::from_utf8_lossy(&streamed[6..]).into_owned()),
            result
        ),
        Err(e) => {
            assert_eq!(Err(e.clone()), result, "written field by field");
            assert_eq!(&streamed[..], b"before", "bytes left on error");
        }
    }
    result
}

#[test]
fn request_heads_written_field_by_field_want_host_first() {
    let put = |pairs: &[(&'static str, &'static str)]| {
        let mut dst = BytesMut::from(&b"kept"[..]);
        let outcome =
            encode_request_fields(&Method::GET, "/", RequestFraming::None, &mut dst, |w| {
                for (name, value) in pairs {
                    w.put(
                        &HeaderName::from_static(name),
                        &HeaderValue::from_static(value),
                    );
                }
            });
        (outcome, dst)
    };
    let (outcome, dst) = put(&[("accept", "*/*"), ("host", "example.com")]);
    assert_eq!(outcome, Err(EncodeError::HostNotFirst));
    assert_eq!(&dst[..], b"kept");
    let (outcome, dst) = put(&[("host", "a"), ("host", "b")]);
    assert_eq!(outcome, Err(EncodeError::DuplicateHost));
    assert_eq!(&dst[..], b"kept");
    let (outcome, dst) = put(&[
        ("host", "a"),
        ("cookie", "a=1"),
        ("accept", "*/*"),
        ("cookie", "b=2"),
    ]);
    assert_eq!(outcome, Ok(()));
    // Lines of a name in one run are joined; `forward_fields` never puts them apart, and two
    // lines are still a valid request if it ever did.
    assert_eq!(
        &dst[..],
        b"keptGET / HTTP/1.1\r\nhost: a\r\ncookie: a=1\r\naccept: */*\r\ncookie: b=2\r\n\r\n"
    );
}

fn fields(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.append(*name, HeaderValue::from_static(value));
    }
    headers
}

/// Cookie fields, split one per cookie by HTTP/2 (or sent twice), go upstream as one line
/// (RFC 9113 §8.2.3).
#[test]
fn request_heads_put_host_first_and_frame_the_body_once() {
    let headers = fields(&[
        ("accept", "*/*"),
        ("host", "example.com"),
        ("content-length", "999"),
        ("transfer-encoding", "chunked"),
        ("cookie", "a=1"),
        ("cookie", "b=2"),
    ]);
    assert_eq!(
        encode(&Method::POST, "/x?y=1", &headers, RequestFraming::Length(5)).unwrap(),
        "POST /x?y=1 HTTP/1.1\r\nhost: example.com\r\naccept: */*\r\ncookie: a=1; b=2\r\n\
         content-length: 5\r\n\r\n"
    );
    assert!(
        encode(&Method::POST, "/", &headers, RequestFraming::Chunked)
            .unwrap()
            .ends_with("cookie: a=1; b=2\r\ntransfer-encoding: chunked\r\n\r\n")
    );
    assert!(
        encode(&Method::GET, "/", &headers, RequestFraming::None)
            .unwrap()
            .ends_with("cookie: a=1; b=2\r\n\r\n")
    );
    let options = fields(&[("host", "")]);
    assert_eq!(
        encode(&Method::OPTIONS, "*", &options, RequestFraming::None).unwrap(),
        "OPTIONS * HTTP/1.1\r\nhost: \r\n\r\n"
    );
}

#[test]
fn request_heads_refuse_what_could_split_them() {
    let host = fields(&[("host", "example.com")]);
    let none = RequestFraming::None;
    assert_eq!(
        encode(&Method::GET, "/", &HeaderMap::new(), none),
        Err(EncodeError::MissingHost)
    );
    assert_eq!(
        encode(
            &Method::GET,
            "/",
            &fields(&[("host", "a"), ("host", "b")]),
            none
        ),
        Err(EncodeError::DuplicateHost)
    );
    for target in [
        "",
        "*",
        "x",
        "http://example.com/",
        "/a b",
        "/a\r\nX: y",
        "/a\n",
        "/a\0",
        "/a\x7f",
        "/a\t",
    ] {
        assert_eq!(
            encode(&Method::GET, target, &host, none),
            Err(EncodeError::Target),
            "{target:?}"
        );
    }
    // Values `http` lets through that are still fine on the wire: obs-text and tabs.
    let odd = fields(&[("host", "example.com"), ("x", "a\tb")]);
    assert!(encode(&Method::GET, "/caf\u{e9}", &odd, none).is_ok());
    let mut with_value = host.clone();
    with_value.insert("x", HeaderValue::from_bytes(b"\xff").unwrap());
    assert!(encode(&Method::GET, "/", &with_value, none).is_ok());
    let custom = Method::from_bytes(b"PURGE").unwrap();
    assert!(
        encode(&custom, "/", &host, none)
            .unwrap()
            .starts_with("PURGE / HTTP/1.1\r\n")
    );
}

#[test]
fn request_framing_is_length_when_known_else_chunked() {
    use RequestFraming as F;
    assert_eq!(F::choose(&Method::GET, Some(0), true), F::None);
    assert_eq!(F::choose(&Method::GET, None, true), F::None);
    assert_eq!(F::choose(&Method::HEAD, Some(0), false), F::None);
    assert_eq!(F::choose(&Method::POST, Some(0), true), F::Length(0));
    assert_eq!(F::choose(&Method::PUT, None, true), F::Length(0));
    assert_eq!(F::choose(&Method::POST, Some(12), false), F::Length(12));
    assert_eq!(F::choose(&Method::GET, Some(12), false), F::Length(12));
    assert_eq!(F::choose(&Method::POST, None, false), F::Chunked);
    assert_eq!(F::choose(&Method::DELETE, None, false), F::Chunked);
}

#[test]
fn chunks_are_framed_and_empty_ones_skipped() {
    let mut dst = BytesMut::new();
    encode_chunk(b"hello", &mut dst);
    encode_chunk(b"", &mut dst);
    encode_chunk(&[b'x'; 26], &mut dst);
    encode_last_chunk(&mut dst);
    let mut expected = b"5\r\nhello\r\n1A\r\n".to_vec();
    expected.extend_from_slice(&[b'x'; 26]);
    expected.extend_from_slice(b"\r\n0\r\n\r\n");
    assert_eq!(&dst[..], &expected[..]);
    // What usher writes, its own decoder reads back.
    assert_eq!(
        body(ResponseFraming::Chunked, &[&dst[..]], false),
        Ok([&b"hello"[..], &[b'x'; 26]].concat())
    );
}

/// An upstream's later HTTP/1 minor version is read as 1.1 (RFC 9110 §2.5); another major
/// version, or a minor of two digits, is refused.
#[test]
fn a_later_minor_version_is_read_as_1_1() {
    let head = final_head(
        &Method::GET,
        false,
        b"HTTP/1.2 200 OK\r\nContent-Length: 2\r\n\r\nok",
    );
    assert_eq!(head.parts.status, StatusCode::OK);
    assert_eq!(head.parts.version, Version::HTTP_11);
    assert_eq!(head.framing, ResponseFraming::Length(2));
}
