//! HTTP/1.1 framing for usher's side of an upstream connection (RFC 9112), with no I/O: the
//! caller owns the socket and a read buffer, and moves bytes between them and these.
//!
//! - [`request`]: a request head as bytes, and the framing of its body (`Content-Length`,
//!   chunked, or none).
//! - [`response`]: the upstream's response head, parsed strictly as it arrives, interim 1xx
//!   responses kept to pass on; how its body is delimited; whether the connection can be
//!   reused.
//! - [`body`]: the response body split off the read buffer as its framing says, chunked
//!   bodies through [`ChunkedDecoder`](crate::http::chunked::ChunkedDecoder).

pub mod body;
pub mod request;
pub mod response;

#[cfg(test)]
mod tests;

pub use self::body::{BodyDecoder, BodyError};
pub use self::request::{
    EncodeError, HeadWriter, RequestFraming, encode_chunk, encode_last_chunk,
    encode_request_fields, encode_request_head,
};
pub use self::response::{
    MAX_FIELDS, MAX_HEAD_BYTES, MAX_INTERIM, ResponseError, ResponseFraming, ResponseHead,
    ResponseParser,
};
