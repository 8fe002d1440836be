//! Strict, incremental decoding of `Transfer-Encoding: chunked` request bodies (RFC 9112 §7.1).
//!
//! ```text
//! chunked-body    = *chunk last-chunk trailer-section CRLF
//! chunk           = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//! chunk-size      = 1*HEXDIG
//! last-chunk      = 1*("0") [ chunk-ext ] CRLF
//! chunk-ext       = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//! chunk-ext-val   = token / quoted-string
//! trailer-section = *( field-line CRLF )
//! ```
//! Bodies decoded here are forwarded to CGI, FastCGI and upstream servers, so any framing two
//! parsers could read differently is rejected instead of repaired (request smuggling): every line
//! ends in exactly CRLF (no bare LF, no bare CR), the size is bare hex with no sign, prefix or
//! padding spaces, chunk data is followed by exactly CRLF, and trailers may not fold. Extensions
//! and trailer fields are checked and then discarded.
//!
//! The decoder is a byte-at-a-time state machine over framing bytes, so its result does not
//! depend on how the input is split across reads, and it never rescans or buffers a partial
//! line: it returns `Ok(None)` only once the whole buffer is consumed.

use std::fmt;

use bytes::{Buf, Bytes, BytesMut};

use super::is_tchar;

#[cfg(test)]
mod tests;

/// The most bytes one chunk-size line may take, size digits, extensions and CRLF included.
/// Legitimate lines are a few bytes; the bound caps work on leading zeros and extensions.
pub const MAX_SIZE_LINE: usize = 4096;

/// The most chunk-extension bytes (all bytes between a size and its line's CR) one body may
/// carry in total.
/// usher ignores extensions, so without a total an endless stream of tiny chunks with long
/// extensions would cost wire bytes and CPU without counting against any body-size limit.
pub const MAX_EXTENSIONS: usize = 16 * 1024;

/// The most bytes the trailer section may take, its field lines, their CRLFs and the final
/// CRLF included (16 KiB). Trailers are parsed and discarded, so this only bounds the work.
pub const MAX_TRAILER_SECTION: usize = 16 * 1024;

/// What one call to [`ChunkedDecoder::decode`] yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk {
    /// Body bytes, in order; never empty.
    Data(Bytes),
    /// The last chunk, the trailer section and its final CRLF were consumed: the body is over.
    End,
}

/// The part of the chunked framing an error was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// A chunk-size line: the size, its extensions and its CRLF.
    SizeLine,
    /// The CRLF that must follow each chunk's data.
    AfterData,
    /// The trailer section after the last chunk, its final CRLF included.
    Trailers,
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Section::SizeLine => "a chunk-size line",
            Section::AfterData => "the line ending after chunk data",
            Section::Trailers => "the trailer section",
        })
    }
}

/// Why a chunked body was rejected; each message says what the client should send instead.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ChunkedError {
    /// An empty line, or a `;`, where a chunk size was expected.
    #[error("missing chunk size: each chunk must start with its size in hex (RFC 9112 §7.1)")]
    MissingChunkSize,
    /// This byte, not a hex digit, in the chunk size.
    #[error(
        "invalid byte {} in a chunk size: sizes are bare hex digits, with no sign, `0x` prefix \
         or spaces (RFC 9112 §7.1)",
        show(.0)
    )]
    InvalidChunkSize(u8),
    /// The chunk size does not fit in 64 bits.
    #[error("chunk size is too large: it does not fit in 64 bits")]
    SizeOverflow,
    /// A chunk-size line longer than [`MAX_SIZE_LINE`].
    #[error(
        "chunk-size line longer than {MAX_SIZE_LINE} bytes: send shorter or no chunk extensions \
         and no leading zeros"
    )]
    SizeLineTooLong,
    /// More than [`MAX_EXTENSIONS`] bytes of chunk extensions in one body.
    #[error(
        "chunk extensions exceed {MAX_EXTENSIONS} bytes in this body: usher ignores them, so \
         leave them out"
    )]
    ExtensionsTooLong,
    /// Whitespace in a chunk-size line that is not followed by `;` (or `=` after a name).
    #[error(
        "whitespace in a chunk-size line is allowed only before `;` or `=` of a chunk extension, \
         never before the line's CRLF (RFC 9112 §7.1.1)"
    )]
    UnexpectedWhitespace,
    /// This byte breaks a chunk extension's `;name` or `;name=value` syntax.
    #[error(
        "malformed chunk extension at byte {}: expected `;name` or `;name=value` with a token or \
         quoted-string value (RFC 9112 §7.1.1)",
        show(.0)
    )]
    InvalidExtension(u8),
    /// An LF not preceded by CR.
    #[error("bare LF in {0}: chunked framing lines must end in CRLF (RFC 9112 §7.1)")]
    BareLf(Section),
    /// A CR not followed by LF.
    #[error("CR not followed by LF in {0}: chunked framing lines must end in CRLF (RFC 9112 §7.1)")]
    BareCr(Section),
    /// This byte follows chunk data instead of CRLF: the chunk is longer than its size says.
    #[error(
        "chunk data is followed by byte {} instead of CRLF: a chunk must hold exactly as many \
         bytes as its size says (RFC 9112 §7.1)",
        show(.0)
    )]
    DataNotFollowedByCrlf(u8),
    /// A trailer section longer than [`MAX_TRAILER_SECTION`].
    #[error(
        "trailer section longer than {MAX_TRAILER_SECTION} bytes: send fewer or shorter trailers"
    )]
    TrailersTooLong,
    /// A trailer line starting with whitespace: obsolete line folding.
    #[error(
        "obsolete line folding in trailers: write each trailer field on one line (RFC 9112 §5.2)"
    )]
    ObsFold,
    /// This byte, not a token character, in a trailer field name.
    #[error(
        "invalid byte {} in a trailer field name: names are tokens (RFC 9110 §5.1)",
        show(.0)
    )]
    InvalidTrailerName(u8),
    /// Whitespace between a trailer field name and its colon.
    #[error("whitespace between a trailer field name and its colon (RFC 9112 §5.1)")]
    WhitespaceBeforeColon,
    /// A trailer field line without a colon.
    #[error("trailer field line has no colon: expected `name: value` (RFC 9112 §7.1.2)")]
    MissingColon,
    /// A NUL in a trailer field value.
    #[error("NUL byte in a trailer field value (RFC 9110 §5.5)")]
    NulInTrailerValue,
}

/// A byte for an error message: printable ASCII quoted, anything else in hex.
fn show(byte: &u8) -> String {
    match byte {
        0x21..=0x7e => format!("'{}'", char::from(*byte)),
        _ => format!("0x{byte:02x}"),
    }
}

/// Where the decoder is in the framing. Each framing byte moves it by one step.
#[derive(Debug, Default, Clone, PartialEq)]
enum State {
    /// Start of a chunk-size line: a hex digit must come first.
    #[default]
    SizeStart,
    /// Inside the size digits.
    SizeDigits,
    /// BWS after the size, an extension name (`after_name`) or a value.
    Bws {
        after_name: bool,
    },
    /// After `;`: BWS, then an extension name.
    ExtPreName,
    ExtName,
    /// After `=`: BWS, then a token or quoted-string.
    ExtPreValue,
    ExtToken,
    ExtQuoted,
    /// After a backslash inside a quoted-string.
    ExtQuotedPair,
    /// After a quoted-string's closing quote.
    ExtPostQuoted,
    /// The CR of a chunk-size line was seen; LF must follow.
    SizeLf,
    /// Inside chunk data.
    Data {
        remaining: u64,
    },
    /// The chunk's data is complete; CR must follow.
    DataCr,
    DataLf,
    /// Start of a trailer line, or of the final CRLF. `first` until a field line was read.
    TrailerStart {
        first: bool,
    },
    TrailerName,
    TrailerValue,
    /// The CR of a trailer field line was seen; LF must follow.
    TrailerLf,
    /// The CR of the final empty line was seen; LF must follow.
    EndLf,
    Done,
    /// An error was returned; it is returned again on every later call.
    Failed(ChunkedError),
}

impl State {
    fn section(&self) -> Section {
        match self {
            State::DataCr | State::DataLf => Section::AfterData,
            State::TrailerStart { .. }
            | State::TrailerName
            | State::TrailerValue
            | State::TrailerLf
            | State::EndLf => Section::Trailers,
            _ => Section::SizeLine,
        }
    }

    fn in_extension(&self) -> bool {
        matches!(
            self,
            State::ExtPreName
                | State::ExtName
                | State::ExtPreValue
                | State::ExtToken
                | State::ExtQuoted
                | State::ExtQuotedPair
                | State::ExtPostQuoted
                | State::Bws { .. }
        )
    }
}

/// Incremental decoder for one chunked request body.
///
/// Feed it the connection's read buffer; it splits body data off without copying and leaves
/// whatever follows the body (a pipelined request) in the buffer.
#[derive(Debug, Default)]
pub struct ChunkedDecoder {
    state: State,
    /// The size of the chunk whose size line is being read.
    size: u64,
    /// Bytes of the current chunk-size line so far.
    line_len: usize,
    /// Bytes of chunk extensions in this body so far.
    extensions_len: usize,
    /// Bytes of the trailer section so far.
    trailers_len: usize,
}

impl ChunkedDecoder {
    /// A decoder at the start of a chunked body.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decode from the front of `buf`, consuming (advancing) what it uses.
    ///
    /// - `Ok(Some(Chunk::Data(b)))`: body bytes split off `buf` without copying, at most what is
    ///   buffered and at most the rest of the current chunk; never empty.
    /// - `Ok(Some(Chunk::End))`: the last chunk, the trailers and the final CRLF were consumed;
    ///   bytes after them stay in `buf`. Later calls return `End` again and consume nothing.
    /// - `Ok(None)`: more input is needed; `buf` is then empty, as every framing byte was consumed.
    /// - `Err(e)`: the body is malformed and the connection must not be reused; later calls
    ///   return the same error. How much of `buf` was consumed is unspecified.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Chunk>, ChunkedError> {
        match &self.state {
            State::Failed(e) => return Err(e.clone()),
            State::Done => return Ok(Some(Chunk::End)),
            _ => {}
        }
        let result = self.decode_inner(buf);
        if let Err(e) = &result {
            self.state = State::Failed(e.clone());
        }
        result
    }

    /// True once [`Chunk::End`] was returned.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    fn decode_inner(&mut self, buf: &mut BytesMut) -> Result<Option<Chunk>, ChunkedError> {
        loop {
            if let State::Data { remaining } = self.state {
                if buf.is_empty() {
                    return Ok(None);
                }
                let n = usize::try_from(remaining).map_or(buf.len(), |r| r.min(buf.len()));
                let data = buf.split_to(n).freeze();
                let left = remaining - n as u64;
                self.state = if left == 0 {
                    State::DataCr
                } else {
                    State::Data { remaining: left }
                };
                return Ok(Some(Chunk::Data(data)));
            }
            let (used, scanned) = self.scan(buf);
            buf.advance(used);
            scanned?;
            match self.state {
                State::Done => return Ok(Some(Chunk::End)),
                State::Data { .. } => {} // Split the chunk's data off above.
                _ => return Ok(None),
            }
        }
    }

    /// Step through framing bytes until chunk data starts, the body ends, an error, or the end
    /// of `bytes`; returns how many bytes were used.
    fn scan(&mut self, bytes: &[u8]) -> (usize, Result<(), ChunkedError>) {
        for (i, &b) in bytes.iter().enumerate() {
            if let Err(e) = self.step(b) {
                return (i + 1, Err(e));
            }
            if matches!(self.state, State::Data { .. } | State::Done) {
                return (i + 1, Ok(()));
            }
        }
        (bytes.len(), Ok(()))
    }

    /// Consume one framing byte.
    fn step(&mut self, b: u8) -> Result<(), ChunkedError> {
        use ChunkedError as E;
        use State as S;
        let section = self.state.section();
        // RFC 9112 §2.2 lets some recipients accept a bare LF as a line ending; a proxy or CGI
        // peer that does while we do not (or the reverse) would split requests differently. LF
        // is therefore framing only straight after CR.
        if b == b'\n' && !matches!(self.state, S::SizeLf | S::DataLf | S::TrailerLf | S::EndLf) {
            return Err(E::BareLf(section));
        }
        match section {
            Section::SizeLine => {
                self.line_len += 1;
                if self.line_len > MAX_SIZE_LINE {
                    return Err(E::SizeLineTooLong);
                }
            }
            Section::Trailers => {
                self.trailers_len += 1;
                if self.trailers_len > MAX_TRAILER_SECTION {
                    return Err(E::TrailersTooLong);
                }
            }
            Section::AfterData => {}
        }
        let ws = b == b' ' || b == b'\t';
        self.state = match self.state {
            // §7.1: chunk-size = 1*HEXDIG. No sign, no `0x`, no leading whitespace.
            S::SizeStart => match hex(b) {
                Some(d) => {
                    self.size = u64::from(d);
                    S::SizeDigits
                }
                None if b == b'\r' || b == b';' => return Err(E::MissingChunkSize),
                None => return Err(E::InvalidChunkSize(b)),
            },
            S::SizeDigits => match hex(b) {
                // §7.1: "Recipients MUST anticipate potentially large hexadecimal numerals and
                // prevent parsing errors due to integer conversion overflows".
                Some(d) => {
                    self.size = self
                        .size
                        .checked_mul(16)
                        .and_then(|s| s.checked_add(u64::from(d)))
                        .ok_or(E::SizeOverflow)?;
                    S::SizeDigits
                }
                None if b == b';' => S::ExtPreName,
                None if b == b'\r' => S::SizeLf,
                None if ws => S::Bws { after_name: false },
                None => return Err(E::InvalidChunkSize(b)),
            },
            // §7.1.1: BWS is allowed only before `;` and around `=`, so never before CRLF.
            S::Bws { after_name } => match b {
                b' ' | b'\t' => S::Bws { after_name },
                b';' => S::ExtPreName,
                b'=' if after_name => S::ExtPreValue,
                _ => return Err(E::UnexpectedWhitespace),
            },
            S::ExtPreName if ws => S::ExtPreName,
            S::ExtPreName if is_tchar(b) => S::ExtName,
            S::ExtName => match b {
                _ if is_tchar(b) => S::ExtName,
                b'=' => S::ExtPreValue,
                b';' => S::ExtPreName,
                b'\r' => S::SizeLf,
                b' ' | b'\t' => S::Bws { after_name: true },
                _ => return Err(E::InvalidExtension(b)),
            },
            S::ExtPreValue if ws => S::ExtPreValue,
            S::ExtPreValue if is_tchar(b) => S::ExtToken,
            S::ExtPreValue if b == b'"' => S::ExtQuoted,
            S::ExtToken => match b {
                _ if is_tchar(b) => S::ExtToken,
                b';' => S::ExtPreName,
                b'\r' => S::SizeLf,
                b' ' | b'\t' => S::Bws { after_name: false },
                _ => return Err(E::InvalidExtension(b)),
            },
            // RFC 9110 §5.6.4: qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text.
            S::ExtQuoted => match b {
                b'"' => S::ExtPostQuoted,
                b'\\' => S::ExtQuotedPair,
                b'\t' | b' ' | 0x21..=0x7e | 0x80..=0xff => S::ExtQuoted,
                _ => return Err(E::InvalidExtension(b)),
            },
            // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
            S::ExtQuotedPair => match b {
                b'\t' | b' ' | 0x21..=0x7e | 0x80..=0xff => S::ExtQuoted,
                _ => return Err(E::InvalidExtension(b)),
            },
            S::ExtPostQuoted => match b {
                b';' => S::ExtPreName,
                b'\r' => S::SizeLf,
                b' ' | b'\t' => S::Bws { after_name: false },
                _ => return Err(E::InvalidExtension(b)),
            },
            S::ExtPreName | S::ExtPreValue => return Err(E::InvalidExtension(b)),
            S::SizeLf if b == b'\n' => {
                if self.size == 0 {
                    // last-chunk: the trailer section follows (§7.1.2).
                    S::TrailerStart { first: true }
                } else {
                    S::Data {
                        remaining: self.size,
                    }
                }
            }
            // §7.1: chunk data is followed by CRLF; any other byte means the chunk was longer
            // than its size said, which is exactly what a smuggled request looks like.
            S::DataCr if b == b'\r' => S::DataLf,
            S::DataCr => return Err(E::DataNotFollowedByCrlf(b)),
            S::DataLf if b == b'\n' => {
                self.line_len = 0;
                S::SizeStart
            }
            S::TrailerLf if b == b'\n' => S::TrailerStart { first: false },
            S::EndLf if b == b'\n' => S::Done,
            S::SizeLf | S::DataLf | S::TrailerLf | S::EndLf => return Err(E::BareCr(section)),
            // §7.1.2: trailer-section = *( field-line CRLF ), then the body's final CRLF.
            S::TrailerStart { first } => match b {
                b'\r' => S::EndLf,
                _ if is_tchar(b) => S::TrailerName,
                // §5.2: obs-fold continues the previous field on a line starting with
                // whitespace; a server must reject it outside message/http.
                b' ' | b'\t' if !first => return Err(E::ObsFold),
                _ => return Err(E::InvalidTrailerName(b)),
            },
            S::TrailerName => match b {
                _ if is_tchar(b) => S::TrailerName,
                b':' => S::TrailerValue,
                // §5.1: a server MUST reject whitespace between a field name and the colon.
                b' ' | b'\t' => return Err(E::WhitespaceBeforeColon),
                b'\r' => return Err(E::MissingColon),
                _ => return Err(E::InvalidTrailerName(b)),
            },
            // Values are read loosely (they are discarded), except for NUL, which RFC 9110 §5.5
            // says must be rejected or replaced.
            S::TrailerValue => match b {
                b'\r' => S::TrailerLf,
                0 => return Err(E::NulInTrailerValue),
                _ => S::TrailerValue,
            },
            // `decode` returns before stepping in these states.
            S::Data { .. } | S::Done | S::Failed(_) => {
                unreachable!("no framing byte is stepped in {:?}", self.state)
            }
        };
        // Everything between the size and the line's CR belongs to the extensions.
        if self.state.in_extension() {
            self.extensions_len += 1;
            if self.extensions_len > MAX_EXTENSIONS {
                return Err(E::ExtensionsTooLong);
            }
        }
        Ok(())
    }
}

/// HEXDIG, case-insensitive (RFC 5234 §B.1, RFC 9112 §7.1).
fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}
