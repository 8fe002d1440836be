//! Fuzz compression on the way out: `Compress::plan` on untrusted fields (a program's
//! `Content-Type` and `Cache-Control`, a client's `Accept-Encoding`) never panics and never
//! picks a coding the client refused; and a body compressed in frames split anywhere, in
//! any coding, decodes to the same bytes.
#![no_main]

use std::io::Read as _;

use bytes::Bytes;
use http::header::{ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, StatusCode};
use http_body::Frame;
use http_body_util::BodyExt as _;
use libfuzzer_sys::fuzz_target;
use usher::body::ResponseBody;
use usher::body::compressed::{Coding, Compressed};
use usher::handlers::policy::compress::{Compress, Plan, compressible_type};

fn decode(coding: Coding, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match coding {
        Coding::Gzip => flate2::read::GzDecoder::new(bytes).read_to_end(&mut out),
        Coding::Br => brotli::Decompressor::new(bytes, 4096).read_to_end(&mut out),
        Coding::Zstd => zstd::stream::read::Decoder::new(bytes)
            .expect("decoder")
            .read_to_end(&mut out),
    }
    .expect("the stream decodes");
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    // Three fields, split at 0xff, then the body.
    let mut parts = rest.splitn(4, |&b| b == 0xff);
    let mut field = || parts.next().and_then(|b| HeaderValue::from_bytes(b).ok());
    let (content_type, cache_control, accept) = (field(), field(), field());
    let body = parts.next().unwrap_or(&[]);
    let mut answer = HeaderMap::new();
    let mut request = HeaderMap::new();
    if let Some(t) = content_type {
        if let Ok(text) = t.to_str() {
            let _ = compressible_type(text);
        }
        answer.insert(CONTENT_TYPE, t);
    }
    if let Some(c) = cache_control {
        answer.insert(CACHE_CONTROL, c);
    }
    if let Some(a) = accept.clone() {
        request.insert(ACCEPT_ENCODING, a);
    }
    if let Plan::Encode(coding) = Compress::all().plan(&request, StatusCode::OK, &answer, None) {
        let q = usher::http::accept::encoding::coding_quality(
            accept.as_ref().map(HeaderValue::as_bytes),
            coding.name(),
        );
        assert!(q > 0, "{coding:?} chosen for {accept:?}");
    }

    // The body in frames of at most `pick` bytes (at least one), in one of the codings.
    let coding = Coding::ALL[usize::from(pick) % Coding::ALL.len()];
    let size = usize::from(pick / 3).max(1);
    let frames: Vec<Result<Frame<Bytes>, std::io::Error>> = body
        .chunks(size)
        .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
        .collect();
    let inner = http_body_util::StreamBody::new(futures::stream::iter(frames));
    let Ok(mut compressed) = Compressed::new(ResponseBody::stream(inner), coding) else {
        return;
    };
    let mut sent = Vec::new();
    // The body yields now and then (waking itself), so it is driven by an executor.
    while let Some(frame) = futures::executor::block_on(compressed.frame()) {
        sent.extend_from_slice(&frame.expect("no error").into_data().expect("data"));
    }
    assert_eq!(decode(coding, &sent), body);
});
