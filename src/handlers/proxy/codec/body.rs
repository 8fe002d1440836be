//! The upstream's response body, delimited as its head said ([`ResponseFraming`]).

use bytes::BytesMut;

use super::response::ResponseFraming;
use crate::http::chunked::{Chunk, ChunkedDecoder, ChunkedError};

/// Why a response body is broken; logged. If nothing was sent to the client yet it gets a
/// 502, otherwise its connection is cut so the truncation shows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// The chunked framing is malformed.
    #[error("the response's chunked body is malformed: {0}")]
    Chunked(#[from] ChunkedError),
    /// The connection closed before the body's end.
    #[error("the upstream closed the connection before the end of the response body")]
    Truncated,
}

/// Splits one response body off the connection's read buffer, without copying.
#[derive(Debug)]
pub struct BodyDecoder {
    state: State,
}

#[derive(Debug)]
enum State {
    /// This many bytes are still to come (never 0).
    Length(u64),
    Chunked(ChunkedDecoder),
    /// Everything until the connection closes.
    UntilClose,
    Done,
}

impl BodyDecoder {
    /// A decoder for a body framed as `framing`. [`ResponseFraming::Tunnel`] is no HTTP body:
    /// its bytes are passed through until the connection closes, as for `UntilClose`.
    pub fn new(framing: ResponseFraming) -> Self {
        let state = match framing {
            ResponseFraming::None | ResponseFraming::Length(0) => State::Done,
            ResponseFraming::Length(n) => State::Length(n),
            ResponseFraming::Chunked => State::Chunked(ChunkedDecoder::new()),
            ResponseFraming::UntilClose | ResponseFraming::Tunnel => State::UntilClose,
        };
        BodyDecoder { state }
    }

    /// Decode from the front of `buf`, consuming what it uses:
    /// - `Ok(Some(Chunk::Data(b)))`: body bytes, never empty;
    /// - `Ok(Some(Chunk::End))`: the body is complete; bytes after it stay in `buf` (and then
    ///   the connection must not be reused: the upstream sent more than one response);
    /// - `Ok(None)`: read more, then call again; at the end of the connection call
    ///   [`BodyDecoder::at_eof`] instead;
    /// - `Err(e)`: the body is broken; close the connection.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Chunk>, BodyError> {
        match &mut self.state {
            State::Done => Ok(Some(Chunk::End)),
            State::Chunked(decoder) => Ok(decoder.decode(buf)?),
            _ if buf.is_empty() => Ok(None),
            State::UntilClose => Ok(Some(Chunk::Data(buf.split().freeze()))),
            State::Length(remaining) => {
                let n = usize::try_from(*remaining).map_or(buf.len(), |r| r.min(buf.len()));
                let data = buf.split_to(n).freeze();
                *remaining -= n as u64;
                if *remaining == 0 {
                    self.state = State::Done;
                }
                Ok(Some(Chunk::Data(data)))
            }
        }
    }

    /// The connection closed, and `decode` has taken everything that was read. `Ok` if that
    /// ends the body: a body delimited by the close, or one already complete.
    pub fn at_eof(&mut self) -> Result<(), BodyError> {
        match &self.state {
            State::Done => Ok(()),
            State::UntilClose => {
                self.state = State::Done;
                Ok(())
            }
            State::Chunked(decoder) if decoder.is_done() => Ok(()),
            State::Chunked(_) | State::Length(_) => Err(BodyError::Truncated),
        }
    }

    /// True once the body is complete.
    pub fn is_done(&self) -> bool {
        match &self.state {
            State::Done => true,
            State::Chunked(decoder) => decoder.is_done(),
            State::Length(_) | State::UntilClose => false,
        }
    }
}
