//! A program's error output (CGI stderr, FastCGI's FCGI_STDERR) into the log, bounded.
//!
//! The bytes come from the program, so neither their line lengths nor their amount can be
//! trusted: a line is logged in pieces of at most [`MAX_LINE`] bytes (nginx cuts its own
//! error-log entries near 2 KiB), and one request logs at most [`BUDGET`] bytes, then one line
//! saying the rest was dropped. Memory held is one line, whatever the program writes.

/// The longest piece of one line that is logged as one entry.
pub const MAX_LINE: usize = 4096;

/// The most one request's program may put in the log (256 KiB): the log's queue is shared,
/// and a few noisy programs must not crowd out the lines that explain other requests' 5xx.
pub const BUDGET: usize = 256 * 1024;

/// Splits error output into log lines for one request.
#[derive(Debug)]
pub struct StderrLog {
    /// Part of a line not yet ended, at most [`MAX_LINE`] bytes.
    pending: Vec<u8>,
    /// Bytes still allowed into the log.
    left: usize,
    /// Whether the "dropped" line was written.
    told: bool,
}

impl Default for StderrLog {
    fn default() -> Self {
        StderrLog {
            pending: Vec::new(),
            left: BUDGET,
            told: false,
        }
    }
}

impl StderrLog {
    /// Take `bytes` of output; `emit` is given each complete line (or piece of a long one).
    /// Empty lines are skipped.
    pub fn feed(&mut self, mut bytes: &[u8], emit: &mut impl FnMut(&str)) {
        while !bytes.is_empty() {
            let room = MAX_LINE - self.pending.len();
            let window = &bytes[..bytes.len().min(room)];
            match window.iter().position(|&b| b == b'\n') {
                Some(end) => {
                    self.pending.extend_from_slice(&window[..end]);
                    bytes = &bytes[end + 1..];
                    self.flush(emit);
                }
                None => {
                    self.pending.extend_from_slice(window);
                    bytes = &bytes[window.len()..];
                    if self.pending.len() == MAX_LINE {
                        self.flush(emit);
                    }
                }
            }
        }
    }

    /// The output has ended: log what is left of the last line.
    pub fn finish(mut self, emit: &mut impl FnMut(&str)) {
        self.flush(emit);
    }

    fn flush(&mut self, emit: &mut impl FnMut(&str)) {
        let line = String::from_utf8_lossy(&self.pending);
        let line = line.trim_end_matches('\r');
        // A carriage return, NUL or other control byte could redraw or hide lines on a
        // terminal: written as `\xHH` (the log's own escaping does only some of them).
        let escaped;
        let line = if line.chars().any(|c| c.is_control() && c != '\t') {
            escaped = line
                .chars()
                .map(|c| match c {
                    '\t' => c.to_string(),
                    c if c.is_control() && u32::from(c) < 0x100 => {
                        format!("\\x{:02x}", u32::from(c))
                    }
                    c if c.is_control() => format!("\\u{{{:x}}}", u32::from(c)),
                    c => c.to_string(),
                })
                .collect::<String>();
            escaped.as_str()
        } else {
            line
        };
        if !line.trim().is_empty() {
            if line.len() <= self.left {
                self.left -= line.len();
                emit(line);
            } else if !self.told {
                self.told = true;
                self.left = 0;
                emit("(more error output dropped: past 256 KiB for this request)");
            }
        }
        self.pending.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(chunks: &[&[u8]]) -> Vec<String> {
        let mut out = Vec::new();
        let mut log = StderrLog::default();
        let mut emit = |l: &str| out.push(l.to_owned());
        for chunk in chunks {
            log.feed(chunk, &mut emit);
        }
        log.finish(&mut emit);
        out
    }

    #[test]
    fn lines_are_split_across_chunks_and_blank_ones_skipped() {
        assert_eq!(
            lines(&[b"one\ntw", b"o\r\n\n  \nthree"]),
            ["one", "two", "three"]
        );
        assert!(lines(&[b""]).is_empty());
    }

    #[test]
    fn a_long_line_is_logged_in_pieces_and_never_held_whole() {
        let long = vec![b'e'; MAX_LINE * 2 + 10];
        let out = lines(&[&long[..100], &long[100..], b"\nafter"]);
        let lengths: Vec<usize> = out.iter().map(String::len).collect();
        assert_eq!(lengths, [MAX_LINE, MAX_LINE, 10, 5]);
    }

    #[test]
    fn a_request_logs_at_most_its_budget_then_says_so_once() {
        let line = [vec![b'x'; 1000], vec![b'\n']].concat();
        let many: Vec<&[u8]> = std::iter::repeat_n(&line[..], 2000).collect();
        let out = lines(&many);
        let logged: usize = out.iter().map(String::len).sum();
        assert!(logged <= BUDGET + 100, "{logged}");
        assert_eq!(out.iter().filter(|l| l.contains("dropped")).count(), 1);
        assert!(out.last().unwrap().contains("dropped"));
    }

    #[test]
    fn control_bytes_are_escaped_but_tabs() {
        assert_eq!(
            lines(&[b"a\rb\x00c\x1b[2Jd\te\n"]),
            ["a\\x0db\\x00c\\x1b[2Jd\te"]
        );
    }

    #[test]
    fn invalid_utf8_is_replaced_not_refused() {
        assert_eq!(lines(&[b"a\xffb\n"]), ["a\u{fffd}b"]);
    }
}
