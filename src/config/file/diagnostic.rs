//! Errors in a config file, rendered like a compiler's: `file:line:col: message`, the source
//! line, a caret under the offending text, and how to fix it.

use std::fmt;
use std::ops::Range;

/// One error at one place in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Byte range in the source that the error is about.
    pub span: Range<usize>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error about `span`.
    pub fn new(span: Range<usize>, message: impl Into<String>) -> Self {
        Diagnostic {
            span,
            message: message.into(),
            help: None,
        }
    }

    /// The same, with advice.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// Every error found in one file, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics {
    /// The file as named to usher.
    pub file: String,
    /// Its text.
    pub source: String,
    /// The errors, sorted by position.
    pub list: Vec<Diagnostic>,
}

/// The 1-based line and column (in characters) of byte `offset` in `source`. An offset past
/// the end, or inside a character, is clamped back to a character boundary.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &source[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    (line, before[line_start..].chars().count() + 1)
}

/// Characters of a source line shown at most.
const WINDOW: usize = 160;

/// Characters of a message shown at most (serde's quote the value they refuse).
const MAX_MESSAGE: usize = 400;

/// `text` in at most `max` characters: its start and its end, `…` between, so a value quoted
/// in the middle is cut and the explanation after it kept.
fn cut(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    let count = text.chars().count();
    if count <= max {
        return text.into();
    }
    let head: String = text.chars().take(max / 2).collect();
    let tail: String = text.chars().skip(count - max / 2).collect();
    format!("{head}…{tail}").into()
}

impl Diagnostics {
    fn render(&self, d: &Diagnostic, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (line, col) = line_col(&self.source, d.span.start);
        writeln!(
            f,
            "{}:{line}:{col}: {}",
            self.file,
            cut(&d.message, MAX_MESSAGE)
        )?;
        let text = self.source.lines().nth(line - 1).unwrap_or("");
        let text: Vec<char> = text.strip_suffix('\r').unwrap_or(text).chars().collect();
        // A long line (a value of megabytes on one line) is shown as a window around the
        // column, marked with `…` where it is cut.
        let from = (col - 1)
            .saturating_sub(WINDOW / 4)
            .min(text.len().saturating_sub(WINDOW));
        let to = (from + WINDOW).min(text.len());
        let (before, after) = (
            if from > 0 { "…" } else { "" },
            if to < text.len() { "…" } else { "" },
        );
        let shown: String = text[from..to].iter().collect();
        let gutter = " ".repeat(line.to_string().len());
        writeln!(f, "{gutter} |")?;
        writeln!(f, "{line} | {before}{shown}{after}")?;
        // Keep tabs so the caret lines up however the terminal shows them.
        let pad: String = before
            .chars()
            .map(|_| ' ')
            .chain(
                text[from..(col - 1).clamp(from, to)]
                    .iter()
                    .map(|&c| if c == '\t' { '\t' } else { ' ' }),
            )
            .collect();
        let start = d.span.start.min(self.source.len());
        let end = d.span.end.clamp(start, self.source.len());
        let width = self
            .source
            .get(start..end)
            .map_or(1, |s| s.lines().next().unwrap_or("").chars().count())
            .clamp(1, to.saturating_sub(col - 1).max(1));
        writeln!(f, "{gutter} | {pad}{}", "^".repeat(width))?;
        if let Some(help) = &d.help {
            writeln!(f, "{gutter} = help: {help}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.list.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            self.render(d, f)?;
        }
        match self.list.len() {
            1 => write!(f, "{}: 1 error", self.file),
            n => write!(f, "{}: {n} errors", self.file),
        }
    }
}
