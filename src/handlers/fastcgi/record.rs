//! FastCGI 1.0 records: a pure, incremental codec with no I/O.
//!
//! Every record is an 8-byte header, its content and its padding (FastCGI 1.0 §3.3):
//!
//! ```text
//! version(1) type(1) requestId(2, BE) contentLength(2, BE) paddingLength(1) reserved(1)
//! contentData[contentLength] paddingData[paddingLength]
//! ```
//!
//! Encoding writes into a caller's `BytesMut` with no allocation per record: the fixed records
//! ([`begin_request`], [`abort_request`], the empty stream terminators) are arrays, and the
//! stream records ([`encode_params`], [`encode_stdin`], [`encode_stream`]) are split at
//! [`MAX_ENCODED_CONTENT`] and padded to a multiple of 8 bytes, as §3.3 recommends.
//!
//! Decoding ([`RecordDecoder`]) reads what the other side sends, which is untrusted: a wrong
//! version, a type that side never sends, an application record without a request id, a fixed
//! body that is too short, or name-value lengths running past their content (§3.4) are errors
//! and the connection must be discarded. Records for any request id are returned as they are;
//! which ids are current is the caller's to judge. The decoder looks at the header as soon as
//! its 8 bytes are buffered, so the outcome never depends on how the input was split into reads.

use std::fmt;

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// The only protocol version (§3.3, `FCGI_VERSION_1`).
pub const VERSION_1: u8 = 1;

/// Bytes in a record header (§3.3, `FCGI_HEADER_LEN`).
pub const HEADER_LEN: usize = 8;

/// The most content bytes a record can declare: `contentLength` is 16 bits (§3.3).
pub const MAX_CONTENT: usize = 0xffff;

/// The most content bytes usher puts in one record: the largest multiple of 8 below
/// [`MAX_CONTENT`], so a record needs no padding and any shorter record's padding still fits.
/// php-fpm drops the connection when a PARAMS record's content plus padding exceeds 65535 bytes
/// (php-src `main/fastcgi.c`, `fcgi_read_request`), which 65535 bytes padded to 65536 would do.
pub const MAX_ENCODED_CONTENT: usize = 65528;

/// The largest name or value length a name-value pair can declare: 31 bits (§3.4).
pub const MAX_PAIR_LEN: usize = 0x7fff_ffff;

/// The request id of management records (§3.3, `FCGI_NULL_REQUEST_ID`).
pub const NULL_REQUEST_ID: u16 = 0;

/// `FCGI_RESPONDER`, the role usher asks for (§5.1, §6.2).
pub const ROLE_RESPONDER: u16 = 1;
/// `FCGI_AUTHORIZER` (§5.1, §6.3).
pub const ROLE_AUTHORIZER: u16 = 2;
/// `FCGI_FILTER` (§5.1, §6.4).
pub const ROLE_FILTER: u16 = 3;

/// `FCGI_KEEP_CONN`, the BEGIN_REQUEST flag asking the application to keep the connection open
/// after the request (§5.1).
pub const KEEP_CONN: u8 = 1;

/// A record type (§8, `FCGI_BEGIN_REQUEST` .. `FCGI_UNKNOWN_TYPE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordType {
    /// Starts a request (§5.1); client to application.
    BeginRequest = 1,
    /// Aborts a request (§5.4); client to application.
    AbortRequest = 2,
    /// Ends a request (§5.5); application to client.
    EndRequest = 3,
    /// The name-value pairs of the request's environment (§5.2); client to application.
    Params = 4,
    /// The request body (§5.3); client to application.
    Stdin = 5,
    /// The response (§5.3); application to client.
    Stdout = 6,
    /// The application's error output (§5.3); application to client.
    Stderr = 7,
    /// The filter role's file data (§5.3, §6.4); client to application.
    Data = 8,
    /// A management query for variables (§4.1); client to application.
    GetValues = 9,
    /// The answer to [`RecordType::GetValues`] (§4.1); application to client.
    GetValuesResult = 10,
    /// The answer to a management record of an unknown type (§4.2); application to client.
    UnknownType = 11,
}

/// Which side of a FastCGI connection writes a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    /// The web server (usher).
    Client,
    /// The application (php-fpm).
    Application,
}

impl RecordType {
    /// The type with this number, if FastCGI 1.0 defines one (§8).
    pub fn from_u8(n: u8) -> Option<Self> {
        use RecordType as T;
        Some(match n {
            1 => T::BeginRequest,
            2 => T::AbortRequest,
            3 => T::EndRequest,
            4 => T::Params,
            5 => T::Stdin,
            6 => T::Stdout,
            7 => T::Stderr,
            8 => T::Data,
            9 => T::GetValues,
            10 => T::GetValuesResult,
            11 => T::UnknownType,
            _ => return None,
        })
    }

    /// Which side writes records of this type (§4, §5).
    pub fn sender(self) -> Sender {
        use RecordType as T;
        match self {
            T::BeginRequest | T::AbortRequest | T::Params | T::Stdin | T::Data | T::GetValues => {
                Sender::Client
            }
            T::EndRequest | T::Stdout | T::Stderr | T::GetValuesResult | T::UnknownType => {
                Sender::Application
            }
        }
    }

    /// Whether this is a management record, carrying [`NULL_REQUEST_ID`] (§3.3, §4).
    pub fn is_management(self) -> bool {
        matches!(
            self,
            RecordType::GetValues | RecordType::GetValuesResult | RecordType::UnknownType
        )
    }

    /// The fewest content bytes a record of this type may have: its fixed body (§4.2, §5.1, §5.5).
    fn min_content(self) -> usize {
        match self {
            RecordType::BeginRequest | RecordType::EndRequest | RecordType::UnknownType => 8,
            _ => 0,
        }
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use RecordType as T;
        f.write_str(match self {
            T::BeginRequest => "FCGI_BEGIN_REQUEST",
            T::AbortRequest => "FCGI_ABORT_REQUEST",
            T::EndRequest => "FCGI_END_REQUEST",
            T::Params => "FCGI_PARAMS",
            T::Stdin => "FCGI_STDIN",
            T::Stdout => "FCGI_STDOUT",
            T::Stderr => "FCGI_STDERR",
            T::Data => "FCGI_DATA",
            T::GetValues => "FCGI_GET_VALUES",
            T::GetValuesResult => "FCGI_GET_VALUES_RESULT",
            T::UnknownType => "FCGI_UNKNOWN_TYPE",
        })
    }
}

impl fmt::Display for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Sender::Client => "web server",
            Sender::Application => "application",
        })
    }
}

/// Why received bytes are not valid FastCGI; the connection must then be discarded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// A header whose version byte is not 1.
    #[error("FastCGI record with version {0}: only version 1 exists (FastCGI 1.0 §3.3)")]
    WrongVersion(u8),
    /// A type number FastCGI 1.0 does not define.
    #[error(
        "FastCGI record of unknown type {0}: it is not defined by FastCGI 1.0 (§8), and a peer \
         answers unknown management types with FCGI_UNKNOWN_TYPE (§4.2) instead of sending them"
    )]
    UnknownType(u8),
    /// A type the other side never sends, such as FCGI_PARAMS from an application.
    #[error("FastCGI {kind} record from the {from}: only the {} sends it (§4, §5)", kind.sender())]
    UnexpectedType {
        /// The record's type.
        kind: RecordType,
        /// Who sent it.
        from: Sender,
    },
    /// An application record (§5) with request id 0.
    #[error(
        "FastCGI {0} record with request id 0, which is reserved for management records (§3.3)"
    )]
    MissingRequestId(RecordType),
    /// A management record (§4) with a request id other than 0.
    #[error("FastCGI management record {kind} with request id {id}: it must be 0 (§3.3, §4)")]
    ManagementRequestId {
        /// The record's type.
        kind: RecordType,
        /// Its request id.
        id: u16,
    },
    /// A record whose content is shorter than its type's fixed body.
    #[error(
        "FastCGI {kind} record with {len} content bytes: its body is {need} bytes (§4.2, §5.1, §5.5)"
    )]
    BodyTooShort {
        /// The record's type.
        kind: RecordType,
        /// Its content length.
        len: usize,
        /// Its body's length.
        need: usize,
    },
    /// An END_REQUEST protocolStatus that §5.5 does not define.
    #[error("FastCGI FCGI_END_REQUEST with unknown protocolStatus {0} (§5.5 defines 0 to 3)")]
    UnknownProtocolStatus(u8),
    /// The content ends inside a name-value pair's length.
    #[error(
        "a FastCGI name-value pair's length is cut off by the end of its content: a length \
         with its high bit set takes 4 bytes (§3.4)"
    )]
    PairLengthTruncated,
    /// A name-value pair's lengths run past the end of its content.
    #[error(
        "a FastCGI name-value pair declares {need} bytes of name and value but only {left} \
         bytes of content remain (§3.4)"
    )]
    PairPastEnd {
        /// Name plus value length, as declared.
        need: u64,
        /// Content bytes after the lengths.
        left: usize,
    },
    /// The input ended inside a record.
    #[error("the FastCGI connection ended {have} bytes into a record of {need} bytes")]
    Truncated {
        /// Bytes of the record received.
        have: usize,
        /// Bytes the record declares, header and padding included (8 while the header is cut).
        need: usize,
    },
}

/// Why pairs could not be encoded; nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A name or value longer than [`MAX_PAIR_LEN`].
    #[error("a FastCGI name or value of {0} bytes: lengths are at most 2^31 - 1 bytes (§3.4)")]
    PairTooLong(usize),
}

/// One record, as received: its content shares the read buffer's memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The record's type.
    pub kind: RecordType,
    /// Its request id; 0 for management records (§3.3).
    pub request_id: u16,
    /// Its content, without the padding. Empty for a stream record ends that stream (§3.3).
    pub content: Bytes,
}

impl Record {
    /// The name-value pairs in this record's content, as in FCGI_GET_VALUES_RESULT (§4.1).
    pub fn pairs(&self) -> Pairs {
        Pairs::new(self.content.clone())
    }
}

/// The header of one record, checked for version and type but not for who sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The record's type.
    pub kind: RecordType,
    /// Its request id.
    pub request_id: u16,
    /// Content bytes after the header.
    pub content_len: u16,
    /// Padding bytes after the content.
    pub padding_len: u8,
}

impl Header {
    /// Parse a header (§3.3). The reserved byte is ignored, as the specification requires
    /// nothing of it.
    pub fn parse(bytes: &[u8; HEADER_LEN]) -> Result<Header, RecordError> {
        if bytes[0] != VERSION_1 {
            return Err(RecordError::WrongVersion(bytes[0]));
        }
        let kind = RecordType::from_u8(bytes[1]).ok_or(RecordError::UnknownType(bytes[1]))?;
        Ok(Header {
            kind,
            request_id: u16::from_be_bytes([bytes[2], bytes[3]]),
            content_len: u16::from_be_bytes([bytes[4], bytes[5]]),
            padding_len: bytes[6],
        })
    }

    /// The whole record's length: header, content and padding.
    pub fn record_len(&self) -> usize {
        HEADER_LEN + usize::from(self.content_len) + usize::from(self.padding_len)
    }

    /// The header's bytes (§3.3).
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let [id1, id0] = self.request_id.to_be_bytes();
        let [len1, len0] = self.content_len.to_be_bytes();
        [
            VERSION_1,
            self.kind as u8,
            id1,
            id0,
            len1,
            len0,
            self.padding_len,
            0,
        ]
    }
}

/// Incremental decoder of the records one side of a connection sends.
///
/// Feed it the connection's read buffer: each call splits at most one whole record off the
/// front without copying its content, and leaves a partial record buffered.
#[derive(Debug, Clone)]
pub struct RecordDecoder {
    from: Sender,
    /// The first error, returned again by every later call.
    failed: Option<RecordError>,
}

impl Default for RecordDecoder {
    fn default() -> Self {
        Self::from_application()
    }
}

impl RecordDecoder {
    /// A decoder of what an application sends: what usher, the client, reads. FCGI_STDOUT,
    /// FCGI_STDERR, FCGI_END_REQUEST, FCGI_GET_VALUES_RESULT and FCGI_UNKNOWN_TYPE.
    pub fn from_application() -> Self {
        Self::new(Sender::Application)
    }

    /// A decoder of what a web server sends, for test peers playing the application:
    /// FCGI_BEGIN_REQUEST, FCGI_ABORT_REQUEST, FCGI_PARAMS, FCGI_STDIN, FCGI_DATA and
    /// FCGI_GET_VALUES.
    pub fn from_client() -> Self {
        Self::new(Sender::Client)
    }

    fn new(from: Sender) -> Self {
        RecordDecoder { from, failed: None }
    }

    /// Decode from the front of `buf`, consuming what it uses.
    ///
    /// - `Ok(Some(record))`: one whole record, its header, content and padding consumed.
    /// - `Ok(None)`: the next record is not complete yet; nothing was consumed, and `buf` has
    ///   room reserved for the rest of it once its header is in.
    /// - `Err(e)`: the header is invalid; nothing was consumed, the connection must not be
    ///   reused, and later calls return the same error.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Record>, RecordError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let Some(head) = buf.first_chunk::<HEADER_LEN>() else {
            return Ok(None);
        };
        // Judge the header before its content arrives: whether a record is rejected then
        // cannot depend on how much of its content came in the same read.
        let header = match self.check(head) {
            Ok(h) => h,
            Err(e) => {
                self.failed = Some(e.clone());
                return Err(e);
            }
        };
        let total = header.record_len();
        if buf.len() < total {
            // Bounded by one record (at most 65798 bytes), so the peer cannot make us reserve more.
            buf.reserve(total - buf.len());
            return Ok(None);
        }
        buf.advance(HEADER_LEN);
        let content = buf.split_to(usize::from(header.content_len)).freeze();
        buf.advance(usize::from(header.padding_len));
        Ok(Some(Record {
            kind: header.kind,
            request_id: header.request_id,
            content,
        }))
    }

    /// At the end of the input: an error if a record was cut off, which `decode` reports only
    /// as "more needed".
    pub fn finish(&self, buf: &BytesMut) -> Result<(), RecordError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if buf.is_empty() {
            return Ok(());
        }
        let need = match buf.first_chunk::<HEADER_LEN>() {
            Some(head) => self.check(head)?.record_len(),
            None => HEADER_LEN,
        };
        Err(RecordError::Truncated {
            have: buf.len(),
            need,
        })
    }

    /// A header, checked for what this decoder's sender may send.
    fn check(&self, head: &[u8; HEADER_LEN]) -> Result<Header, RecordError> {
        let header = Header::parse(head)?;
        let kind = header.kind;
        if kind.sender() != self.from {
            return Err(RecordError::UnexpectedType {
                kind,
                from: self.from,
            });
        }
        match (kind.is_management(), header.request_id) {
            (true, 0) | (false, 1..) => {}
            (true, id) => return Err(RecordError::ManagementRequestId { kind, id }),
            (false, 0) => return Err(RecordError::MissingRequestId(kind)),
        }
        let len = usize::from(header.content_len);
        let need = kind.min_content();
        if len < need {
            return Err(RecordError::BodyTooShort { kind, len, need });
        }
        Ok(header)
    }
}

/// How the application ended a request (§5.5, `FCGI_END_REQUEST` `protocolStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolStatus {
    /// `FCGI_REQUEST_COMPLETE` (0): the request is done.
    RequestComplete = 0,
    /// `FCGI_CANT_MPX_CONN` (1): the application handles one request per connection.
    CantMpxConn = 1,
    /// `FCGI_OVERLOADED` (2): the application is out of a resource, such as workers.
    Overloaded = 2,
    /// `FCGI_UNKNOWN_ROLE` (3): the application does not play the role asked for.
    UnknownRole = 3,
}

/// The body of an FCGI_END_REQUEST record (§5.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndRequest {
    /// The application's exit status, as a CGI program's would be.
    pub app_status: u32,
    /// Whether the request completed or was refused.
    pub protocol_status: ProtocolStatus,
}

impl EndRequest {
    /// Read the body from a record's content: `appStatus` (4 bytes, big-endian),
    /// `protocolStatus` (1) and 3 reserved bytes. Bytes after those 8 are ignored.
    pub fn parse(content: &[u8]) -> Result<EndRequest, RecordError> {
        let Some(&[a3, a2, a1, a0, status, ..]) = content.first_chunk::<8>() else {
            return Err(RecordError::BodyTooShort {
                kind: RecordType::EndRequest,
                len: content.len(),
                need: 8,
            });
        };
        let protocol_status = match status {
            0 => ProtocolStatus::RequestComplete,
            1 => ProtocolStatus::CantMpxConn,
            2 => ProtocolStatus::Overloaded,
            3 => ProtocolStatus::UnknownRole,
            n => return Err(RecordError::UnknownProtocolStatus(n)),
        };
        Ok(EndRequest {
            app_status: u32::from_be_bytes([a3, a2, a1, a0]),
            protocol_status,
        })
    }

    /// The whole FCGI_END_REQUEST record for request `id` (for test peers).
    pub fn encode(&self, id: u16) -> [u8; 16] {
        let [a3, a2, a1, a0] = self.app_status.to_be_bytes();
        let status = self.protocol_status as u8;
        fixed_record(
            RecordType::EndRequest,
            id,
            [a3, a2, a1, a0, status, 0, 0, 0],
        )
    }
}

/// The body of an FCGI_BEGIN_REQUEST record (§5.1), as a test peer reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BeginRequest {
    /// [`ROLE_RESPONDER`], [`ROLE_AUTHORIZER`], [`ROLE_FILTER`] or an unknown role.
    pub role: u16,
    /// Whether [`KEEP_CONN`] is set.
    pub keep_conn: bool,
}

impl BeginRequest {
    /// Read the body: `role` (2 bytes, big-endian), `flags` (1) and 5 reserved bytes.
    pub fn parse(content: &[u8]) -> Result<BeginRequest, RecordError> {
        let Some(&[r1, r0, flags, ..]) = content.first_chunk::<8>() else {
            return Err(RecordError::BodyTooShort {
                kind: RecordType::BeginRequest,
                len: content.len(),
                need: 8,
            });
        };
        Ok(BeginRequest {
            role: u16::from_be_bytes([r1, r0]),
            keep_conn: flags & KEEP_CONN != 0,
        })
    }
}

/// The type an application did not know, from an FCGI_UNKNOWN_TYPE record's content (§4.2).
pub fn unknown_type(content: &[u8]) -> Result<u8, RecordError> {
    match content.first_chunk::<8>() {
        Some(body) => Ok(body[0]),
        None => Err(RecordError::BodyTooShort {
            kind: RecordType::UnknownType,
            len: content.len(),
            need: 8,
        }),
    }
}

/// The name-value pairs of a stream's content or a management record (§3.4), split off
/// without copying. Stops after the first error.
#[derive(Debug, Clone)]
pub struct Pairs {
    rest: Bytes,
    failed: bool,
}

impl Pairs {
    /// The pairs in `content`, which must hold whole pairs: concatenate a stream's records first.
    pub fn new(content: Bytes) -> Self {
        Pairs {
            rest: content,
            failed: false,
        }
    }

    fn next_pair(&mut self) -> Result<(Bytes, Bytes), RecordError> {
        let (name_len, a) = read_len(&self.rest)?;
        let (value_len, b) = read_len(&self.rest[a..])?;
        let left = self.rest.len() - a - b;
        let need = u64::from(name_len) + u64::from(value_len);
        if need > left as u64 {
            return Err(RecordError::PairPastEnd { need, left });
        }
        self.rest.advance(a + b);
        let name = self.rest.split_to(name_len as usize);
        let value = self.rest.split_to(value_len as usize);
        Ok((name, value))
    }
}

impl Iterator for Pairs {
    type Item = Result<(Bytes, Bytes), RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let pair = self.next_pair();
        self.failed = pair.is_err();
        Some(pair)
    }
}

/// One length of a name-value pair and how many bytes it took: one byte below 128, else four
/// with the high bit set (§3.4). A four-byte form of a small length is accepted.
fn read_len(bytes: &[u8]) -> Result<(u32, usize), RecordError> {
    match bytes {
        [b, ..] if b & 0x80 == 0 => Ok((u32::from(*b), 1)),
        [b3, b2, b1, b0, ..] => Ok((u32::from_be_bytes([b3 & 0x7f, *b2, *b1, *b0]), 4)),
        _ => Err(RecordError::PairLengthTruncated),
    }
}

/// A record with an 8-byte body (§5.1, §5.5).
fn fixed_record(kind: RecordType, id: u16, body: [u8; 8]) -> [u8; 16] {
    let head = Header {
        kind,
        request_id: id,
        content_len: 8,
        padding_len: 0,
    }
    .encode();
    let mut out = [0; 16];
    out[..HEADER_LEN].copy_from_slice(&head);
    out[HEADER_LEN..].copy_from_slice(&body);
    out
}

/// FCGI_BEGIN_REQUEST for request `id` in the responder role, with [`KEEP_CONN`] if asked (§5.1).
pub fn begin_request(id: u16, keep_conn: bool) -> [u8; 16] {
    let [r1, r0] = ROLE_RESPONDER.to_be_bytes();
    let flags = if keep_conn { KEEP_CONN } else { 0 };
    fixed_record(RecordType::BeginRequest, id, [r1, r0, flags, 0, 0, 0, 0, 0])
}

/// FCGI_ABORT_REQUEST for request `id` (§5.4): a header with no content.
pub fn abort_request(id: u16) -> [u8; HEADER_LEN] {
    stream_end(RecordType::AbortRequest, id)
}

/// The empty record that ends stream `kind` of request `id` (§3.3).
pub fn stream_end(kind: RecordType, id: u16) -> [u8; HEADER_LEN] {
    Header {
        kind,
        request_id: id,
        content_len: 0,
        padding_len: 0,
    }
    .encode()
}

/// The empty FCGI_PARAMS record that ends request `id`'s parameters (§5.2).
pub fn params_end(id: u16) -> [u8; HEADER_LEN] {
    stream_end(RecordType::Params, id)
}

/// The empty FCGI_STDIN record that ends request `id`'s body (§5.3).
pub fn stdin_end(id: u16) -> [u8; HEADER_LEN] {
    stream_end(RecordType::Stdin, id)
}

/// Append `data` to `buf` as records of stream `kind` for request `id`, each with at most
/// [`MAX_ENCODED_CONTENT`] bytes and padded to a multiple of 8 (§3.3). Empty `data` writes
/// nothing: an empty record would end the stream, which is [`stream_end`]'s job.
pub fn encode_stream(buf: &mut BytesMut, kind: RecordType, id: u16, data: &[u8]) {
    let mut w = StreamWriter::new(buf, kind, id);
    w.put(data);
    w.close();
}

/// Append a request body chunk as FCGI_STDIN records for request `id` (§5.3).
pub fn encode_stdin(buf: &mut BytesMut, id: u16, data: &[u8]) {
    encode_stream(buf, RecordType::Stdin, id, data);
}

/// Append name-value pairs as FCGI_PARAMS records for request `id` (§3.4, §5.2).
///
/// A pair that fits in one record is never split between two: php-fpm parses each PARAMS
/// record on its own (php-src `fcgi_read_request`). A pair longer than [`MAX_ENCODED_CONTENT`]
/// spans records, which §3.3 allows for any stream but php-fpm rejects. Send
/// [`params_end`] after the last pair. On error nothing is appended.
pub fn encode_params<I, N, V>(buf: &mut BytesMut, id: u16, pairs: I) -> Result<(), EncodeError>
where
    I: IntoIterator<Item = (N, V)>,
    N: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    let start = buf.len();
    let mut w = StreamWriter::new(buf, RecordType::Params, id);
    for (name, value) in pairs {
        let (name, value) = (name.as_ref(), value.as_ref());
        let (mut n_len, mut v_len) = ([0; 4], [0; 4]);
        let Some(n_size) = put_len(&mut n_len, name.len()) else {
            w.buf.truncate(start);
            return Err(EncodeError::PairTooLong(name.len()));
        };
        let Some(v_size) = put_len(&mut v_len, value.len()) else {
            w.buf.truncate(start);
            return Err(EncodeError::PairTooLong(value.len()));
        };
        let pair_len = n_size + v_size + name.len() + value.len();
        if pair_len > w.room() && pair_len <= MAX_ENCODED_CONTENT {
            w.close();
        }
        w.put_all([&n_len[..n_size], &v_len[..v_size], name, value]);
    }
    w.close();
    Ok(())
}

/// Write a pair length into `out`, returning how many bytes it took, or `None` past 31 bits.
fn put_len(out: &mut [u8; 4], len: usize) -> Option<usize> {
    if len < 0x80 {
        out[0] = len as u8;
        return Some(1);
    }
    let len = u32::try_from(len)
        .ok()
        .filter(|&l| l <= MAX_PAIR_LEN as u32)?;
    *out = (len | 0x8000_0000).to_be_bytes();
    Some(4)
}

/// Writes a stream's bytes into records in place: the header's slot is reserved when a record
/// opens and filled in when it closes, so nothing is copied twice.
struct StreamWriter<'a> {
    buf: &'a mut BytesMut,
    kind: RecordType,
    id: u16,
    /// Where the open record's header starts in `buf`.
    open: Option<usize>,
}

impl<'a> StreamWriter<'a> {
    fn new(buf: &'a mut BytesMut, kind: RecordType, id: u16) -> Self {
        StreamWriter {
            buf,
            kind,
            id,
            open: None,
        }
    }

    /// Content bytes the open record has room for; a full record's worth if none is open.
    fn room(&self) -> usize {
        match self.open {
            Some(at) => MAX_ENCODED_CONTENT - (self.buf.len() - at - HEADER_LEN),
            None => MAX_ENCODED_CONTENT,
        }
    }

    /// Write `pieces` in order: at once when they fit in the open record with room to
    /// spare (a request's pairs almost always do: a record holds 64 KiB, and a request's 20
    /// to 40 pairs take a few hundred bytes to a few KiB), else piece by piece, split across
    /// records as [`put`](Self::put) does.
    fn put_all(&mut self, pieces: [&[u8]; 4]) {
        let len = pieces.iter().map(|piece| piece.len()).sum::<usize>();
        if self.open.is_some() && len < self.room() {
            self.buf.reserve(len);
            for piece in pieces {
                self.buf.extend_from_slice(piece);
            }
            return;
        }
        for piece in pieces {
            self.put(piece);
        }
    }

    fn put(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.open.is_none() {
                self.buf
                    .reserve(HEADER_LEN + data.len().min(MAX_ENCODED_CONTENT) + 7);
                self.open = Some(self.buf.len());
                self.buf.put_bytes(0, HEADER_LEN);
            }
            let n = self.room().min(data.len());
            self.buf.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.room() == 0 {
                self.close();
            }
        }
    }

    /// Finish the open record, if any: fill in its header and pad it.
    fn close(&mut self) {
        let Some(at) = self.open.take() else {
            return;
        };
        let len = self.buf.len() - at - HEADER_LEN;
        let padding = (8 - len % 8) % 8;
        let header = Header {
            kind: self.kind,
            request_id: self.id,
            content_len: u16::try_from(len).expect("records hold at most MAX_ENCODED_CONTENT"),
            padding_len: padding as u8,
        };
        self.buf[at..at + HEADER_LEN].copy_from_slice(&header.encode());
        self.buf.put_bytes(0, padding);
    }
}
