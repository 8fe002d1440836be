//! Response framing: which length field, chunked or close, for each status and version.

use http::{Response, StatusCode, Version};

use super::*;

fn exchange(version: Version, head_only: bool) -> Exchange {
    Exchange {
        version,
        head_only,
        keep_alive: true,
    }
}

/// The delimitation, the head as written (without its date), and whether the connection
/// stays open.
fn written(response: Response<ResponseBody>, mut ex: Exchange) -> (Delimit, String, bool) {
    let (mut parts, prepared, body) = take_prepared(response);
    let (d, added) = frame(&mut parts, &body, &mut ex);
    let mut head = Vec::new();
    let added = Added {
        date: false,
        server: false,
        ..added
    };
    let lines = prepared.as_ref().map_or(&[][..], |fields| fields.lines());
    serialize_head(&parts, lines, added, 0, &mut head);
    (d, String::from_utf8(head).unwrap(), ex.keep_alive)
}

/// [`written`] for a response of `status` with `body`.
fn framed(status: StatusCode, body: ResponseBody, ex: Exchange) -> (Delimit, String, bool) {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    written(response, ex)
}

fn streamed() -> ResponseBody {
    let stream = futures_util::stream::iter([Ok::<_, io::Error>(http_body::Frame::data(
        Bytes::from_static(b"x"),
    ))]);
    ResponseBody::stream(http_body_util::StreamBody::new(stream))
}

#[test]
fn a_known_length_is_sent_as_content_length() {
    let (d, h, keep) = framed(
        StatusCode::OK,
        ResponseBody::full("hello"),
        exchange(Version::HTTP_11, false),
    );
    assert_eq!(d, Delimit::Length(5));
    assert_eq!(h, "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n");
    assert!(keep);
}

/// Rendered fields for prepared answers: an entity tag and a media type.
fn etag_and_type() -> Arc<crate::body::prepared::RenderedFields> {
    use http::header::{CONTENT_TYPE, ETAG};
    let mut map = http::HeaderMap::new();
    map.insert(ETAG, HeaderValue::from_static("\"e\""));
    map.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    Arc::new(crate::body::prepared::RenderedFields::new(map).unwrap())
}

/// A prepared answer: its lines after the status line and before the connection's fields;
/// with a field set in its map since, the map's field replaces the prepared one.
#[test]
fn prepared_fields_are_written_as_rendered_or_through_the_map() {
    use crate::body::prepared::Prepared;
    let fields = etag_and_type();
    let prepared = || {
        let body = Prepared::new(Arc::clone(&fields), ResponseBody::full("hello"));
        Response::new(ResponseBody::Prepared(body.unwrap()))
    };
    let (d, h, _) = written(prepared(), exchange(Version::HTTP_11, false));
    assert_eq!(d, Delimit::Length(5));
    assert_eq!(
        h,
        "HTTP/1.1 200 OK\r\netag: \"e\"\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\n"
    );
    let mut changed = prepared();
    changed.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/html"),
    );
    let (_, h, _) = written(changed, exchange(Version::HTTP_11, false));
    assert_eq!(
        h,
        "HTTP/1.1 200 OK\r\netag: \"e\"\r\ncontent-type: text/html\r\ncontent-length: 5\r\n\r\n"
    );
}

#[test]
fn an_unknown_length_is_chunked_for_11_and_closes_for_10() {
    let (d, h, keep) = framed(
        StatusCode::OK,
        streamed(),
        exchange(Version::HTTP_11, false),
    );
    assert_eq!(d, Delimit::Chunked);
    assert_eq!(h, "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n");
    assert!(keep);
    let (d, h, keep) = framed(
        StatusCode::OK,
        streamed(),
        exchange(Version::HTTP_10, false),
    );
    assert_eq!(d, Delimit::Close);
    assert_eq!(h, "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n");
    assert!(!keep, "an HTTP/1.0 body of unknown length ends by closing");
}

#[test]
fn a_stated_length_that_agrees_is_kept_and_two_are_replaced() {
    let with_lengths = |stated: &[&'static str]| {
        let mut response = Response::new(ResponseBody::full("hello"));
        for value in stated {
            response
                .headers_mut()
                .append(CONTENT_LENGTH, HeaderValue::from_static(value));
        }
        response
            .headers_mut()
            .append("x-after", HeaderValue::from_static("1"));
        written(response, exchange(Version::HTTP_11, false)).1
    };
    assert_eq!(
        with_lengths(&["5"]),
        "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-after: 1\r\n\r\n"
    );
    assert_eq!(
        with_lengths(&["5", "5"]),
        "HTTP/1.1 200 OK\r\nx-after: 1\r\ncontent-length: 5\r\n\r\n"
    );
    assert_eq!(
        with_lengths(&["05"]),
        "HTTP/1.1 200 OK\r\nx-after: 1\r\ncontent-length: 5\r\n\r\n"
    );
}

#[test]
fn the_connection_option_follows_whether_the_connection_stays_open() {
    let with_connection = |value: Option<&'static str>, ex: Exchange| {
        let mut response = Response::new(ResponseBody::full("hello"));
        if let Some(value) = value {
            response
                .headers_mut()
                .insert(CONNECTION, HeaderValue::from_static(value));
        }
        let (_, head, keep) = written(response, ex);
        (head, keep)
    };
    let (closing, open) = (
        Exchange {
            keep_alive: false,
            ..exchange(Version::HTTP_11, false)
        },
        exchange(Version::HTTP_11, false),
    );
    // The handler's own close ends the connection (RFC 9112 §9.6), and is not repeated.
    let (head, keep) = with_connection(Some("foo, Close"), open);
    assert_eq!(
        head,
        "HTTP/1.1 200 OK\r\nconnection: foo, Close\r\ncontent-length: 5\r\n\r\n"
    );
    assert!(!keep);
    // A connection that closes says so, replacing a handler's other options.
    let (head, keep) = with_connection(Some("keep-alive"), closing);
    assert_eq!(
        head,
        "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\n"
    );
    assert!(!keep);
    let (head, keep) = with_connection(None, open);
    assert_eq!(head, "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n");
    assert!(keep);
    // HTTP/1.0 keeps the connection only when told (RFC 9112 §9.3).
    let (head, keep) = with_connection(None, exchange(Version::HTTP_10, false));
    assert_eq!(
        head,
        "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: keep-alive\r\n\r\n"
    );
    assert!(keep);
}

#[test]
fn the_server_is_named_once() {
    let server_lines = |response: Response<ResponseBody>| {
        let (mut parts, body) = response.into_parts();
        let (_, added) = frame(&mut parts, &body, &mut exchange(Version::HTTP_11, false));
        let mut head = Vec::new();
        serialize_head(&parts, &[], added, 0, &mut head);
        let head = String::from_utf8(head).unwrap();
        let lines: Vec<String> = head
            .lines()
            .filter(|line| line.to_ascii_lowercase().starts_with("server:"))
            .map(str::to_owned)
            .collect();
        lines
    };
    assert_eq!(
        server_lines(Response::new(ResponseBody::Empty)),
        ["server: usher"]
    );
    // A proxied answer's upstream is not announced.
    let mut proxied = Response::new(ResponseBody::Empty);
    proxied
        .headers_mut()
        .insert(SERVER, HeaderValue::from_static("upstream/1"));
    assert_eq!(server_lines(proxied), ["server: usher"]);
}

#[test]
fn a_stated_length_is_read_only_in_the_form_usher_writes() {
    assert_eq!(plain_decimal(b"0"), Some(0));
    assert_eq!(plain_decimal(b"1024"), Some(1024));
    assert_eq!(plain_decimal(b"18446744073709551615"), Some(u64::MAX));
    for odd in [
        &b""[..],
        b"05",
        b"+5",
        b"-5",
        b" 5",
        b"5 ",
        b"5,5",
        b"0x5",
        b"18446744073709551616",
    ] {
        assert_eq!(
            plain_decimal(odd),
            None,
            "{:?}",
            String::from_utf8_lossy(odd)
        );
    }
}

#[test]
fn head_keeps_the_length_a_get_would_have_and_sends_no_body() {
    let (d, h, _) = framed(
        StatusCode::OK,
        ResponseBody::full("hello"),
        exchange(Version::HTTP_11, true),
    );
    assert_eq!(d, Delimit::Nothing);
    assert_eq!(h, "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n");
}

#[test]
fn the_body_length_replaces_a_stated_one_and_head_keeps_a_stated_one() {
    let stated = |head_only| {
        let mut response = Response::new(ResponseBody::full("hello"));
        response
            .headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from_static("7"));
        written(response, exchange(Version::HTTP_11, head_only)).1
    };
    assert_eq!(
        stated(false),
        "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"
    );
    // HEAD: the handler's length is the one a GET would have (its body is not sent).
    assert_eq!(stated(true), "HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\n");
}

#[test]
fn statuses_without_content_get_no_framing_fields() {
    for status in [StatusCode::NO_CONTENT, StatusCode::CONTINUE] {
        let (d, h, _) = framed(
            status,
            ResponseBody::full("x"),
            exchange(Version::HTTP_11, false),
        );
        assert_eq!(d, Delimit::Nothing, "{status}");
        assert!(!h.contains("content-length"), "{status}: {h}");
    }
    let mut response = Response::new(ResponseBody::Empty);
    *response.status_mut() = StatusCode::NOT_MODIFIED;
    response
        .headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from_static("9"));
    let (mut parts, body) = response.into_parts();
    let (d, added) = frame(&mut parts, &body, &mut exchange(Version::HTTP_11, false));
    assert_eq!((d, added.length), (Delimit::Nothing, None));
    assert_eq!(
        parts.headers["content-length"], "9",
        "304 keeps the representation's length"
    );
}

#[test]
fn the_head_is_a_status_line_then_fields() {
    let mut response = Response::new(());
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
        .headers_mut()
        .insert("x-a", HeaderValue::from_static("1"));
    let (parts, ()) = response.into_parts();
    let mut out = Vec::new();
    let added = Added {
        length: Some(12),
        ..Added::default()
    };
    serialize_head(&parts, &[], added, 0, &mut out);
    assert_eq!(
        out,
        b"HTTP/1.1 404 Not Found\r\nx-a: 1\r\ncontent-length: 12\r\n\r\n"
    );
}

#[test]
fn the_date_is_an_http_date_of_now() {
    let value = String::from_utf8(http_date().to_vec()).unwrap();
    let parsed = httpdate::parse_http_date(&value).unwrap();
    let skew = SystemTime::now().duration_since(parsed).unwrap();
    assert!(skew.as_secs() <= 1, "{value:?}");
    let mut head = Vec::new();
    let added = Added {
        date: true,
        ..Added::default()
    };
    serialize_head(&Response::new(()).into_parts().0, &[], added, 0, &mut head);
    let head = String::from_utf8(head).unwrap();
    let written = head
        .strip_prefix("HTTP/1.1 200 OK\r\ndate: ")
        .and_then(|rest| rest.strip_suffix("\r\n\r\n"))
        .unwrap_or_else(|| panic!("{head:?}"));
    assert!(httpdate::parse_http_date(written).is_ok(), "{head:?}");
}

/// Status lines carry RFC 9110's reason phrases, also where the `http` crate has older ones.
#[test]
fn reason_phrases_are_rfc_9110s() {
    for (code, line) in [
        (203, "HTTP/1.1 203 Non-Authoritative Information\r\n"),
        (413, "HTTP/1.1 413 Content Too Large\r\n"),
        (422, "HTTP/1.1 422 Unprocessable Content\r\n"),
        (404, "HTTP/1.1 404 Not Found\r\n"),
        (299, "HTTP/1.1 299 Unknown\r\n"),
    ] {
        let status = StatusCode::from_u16(code).unwrap();
        let (_, head, _) = framed(
            status,
            ResponseBody::Empty,
            exchange(Version::HTTP_11, false),
        );
        assert!(head.starts_with(line), "{head}");
    }
}

/// The express lane repeats a prepared answer as this writer writes it: the same head, field
/// for field, then the body (a file's answer in one image of both); on HTTP/1.1 and 1.0, kept
/// open or closing after it.
#[test]
fn the_express_lane_writes_a_prepared_answer_as_the_writer_does() {
    use super::super::express::{Answer, Persist};
    use crate::body::prepared::Prepared;
    let fields = etag_and_type();
    let without_date = |bytes: &[u8]| {
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(lines.iter().filter(|l| l.starts_with("date: ")).count(), 1);
        lines
            .into_iter()
            .filter(|l| !l.starts_with("date: "))
            .collect::<Vec<_>>()
            .join("\r\n")
    };
    // What the writer writes for a prepared answer of `status` with `body` in `exchange`:
    // head, then body.
    let by_writer = |status, body: ResponseBody, mut exchange: Exchange| {
        let prepared = Prepared::new(Arc::clone(&fields), body).unwrap();
        let mut response = Response::new(ResponseBody::Prepared(prepared));
        *response.status_mut() = status;
        let (mut parts, lines, plain) = take_prepared(response);
        let (_, added) = frame(&mut parts, &plain, &mut exchange);
        let mut out = Vec::new();
        let lines = lines.as_ref().map_or(&[][..], |fields| fields.lines());
        serialize_head(&parts, lines, added, 0, &mut out);
        if let ResponseBody::Full(Some(bytes)) = plain {
            out.extend_from_slice(&bytes);
        }
        out
    };
    let until = std::time::Instant::now() + std::time::Duration::from_secs(1);
    let by_lane = |mut answer: Answer, persist| {
        let mut out = Vec::new();
        answer.put(persist, &|| None, &mut out);
        out
    };
    let cases = [
        (Version::HTTP_11, true, Persist::Open),
        (Version::HTTP_11, false, Persist::Close),
        (Version::HTTP_10, true, Persist::OpenSaid),
        (Version::HTTP_10, false, Persist::Close),
    ];
    for (version, keep_alive, persist) in cases {
        let exchange = || Exchange {
            version,
            head_only: false,
            keep_alive,
        };
        for status in [StatusCode::OK, StatusCode::NOT_FOUND] {
            let body = Bytes::from_static(b"hello");
            let writer = by_writer(status, ResponseBody::full(body.clone()), exchange());
            let lane = by_lane(Answer::new(status, fields.lines(), body, until), persist);
            assert_eq!(
                without_date(&lane),
                without_date(&writer),
                "{status} {persist:?}"
            );
        }
        // A file's answer, repeated as one image of head and body.
        let body = Bytes::from(
            (0..40_000u32)
                .map(|i| b'a' + (i % 26) as u8)
                .collect::<Vec<_>>(),
        );
        let writer = by_writer(StatusCode::OK, ResponseBody::full(body.clone()), exchange());
        let kept = super::super::express::tests::Kept::new(&body);
        let len = body.len() as u64;
        let mut answer = Answer::from_file(StatusCode::OK, fields.lines(), kept, (0, len), until);
        let (image, len) = super::super::express::tests::image_of(&mut answer, persist);
        assert_eq!(image.len() as u64, len);
        assert_eq!(without_date(&image), without_date(&writer), "{persist:?}");
        // A 304: no body, and no Content-Length.
        let writer = by_writer(StatusCode::NOT_MODIFIED, ResponseBody::Empty, exchange());
        let lane = by_lane(Answer::not_modified(fields.lines(), until), persist);
        assert!(!without_date(&lane).contains("content-length"));
        assert_eq!(without_date(&lane), without_date(&writer), "{persist:?}");
    }
}
