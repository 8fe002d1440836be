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

fn framed(
    status: StatusCode,
    body: ResponseBody,
    mut ex: Exchange,
) -> (Delimit, http::HeaderMap, bool) {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let (mut parts, body) = response.into_parts();
    let d = delimit(&mut parts, &body, &mut ex);
    (d, parts.headers, ex.keep_alive)
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
    assert_eq!(h["content-length"], "5");
    assert!(h.get("transfer-encoding").is_none());
    assert!(keep);
}

#[test]
fn an_unknown_length_is_chunked_for_11_and_closes_for_10() {
    let (d, h, keep) = framed(
        StatusCode::OK,
        streamed(),
        exchange(Version::HTTP_11, false),
    );
    assert_eq!(d, Delimit::Chunked);
    assert_eq!(h["transfer-encoding"], "chunked");
    assert!(keep);
    let (d, h, keep) = framed(
        StatusCode::OK,
        streamed(),
        exchange(Version::HTTP_10, false),
    );
    assert_eq!(d, Delimit::Close);
    assert!(h.get("transfer-encoding").is_none());
    assert!(!keep, "an HTTP/1.0 body of unknown length ends by closing");
}

#[test]
fn head_keeps_the_length_a_get_would_have_and_sends_no_body() {
    let (d, h, _) = framed(
        StatusCode::OK,
        ResponseBody::full("hello"),
        exchange(Version::HTTP_11, true),
    );
    assert_eq!(d, Delimit::Nothing);
    assert_eq!(h["content-length"], "5");
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
        assert!(h.get("content-length").is_none(), "{status}");
    }
    let mut response = Response::new(ResponseBody::Empty);
    *response.status_mut() = StatusCode::NOT_MODIFIED;
    response
        .headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from_static("9"));
    let (mut parts, body) = response.into_parts();
    let d = delimit(&mut parts, &body, &mut exchange(Version::HTTP_11, false));
    assert_eq!(d, Delimit::Nothing);
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
    serialize_head(&parts, &mut out);
    assert_eq!(out, b"HTTP/1.1 404 Not Found\r\nx-a: 1\r\n\r\n");
}

#[test]
fn the_date_is_an_http_date_of_now() {
    let value = date();
    let parsed = httpdate::parse_http_date(value.to_str().unwrap()).unwrap();
    let skew = SystemTime::now().duration_since(parsed).unwrap();
    assert!(skew.as_secs() <= 1, "{value:?}");
}
