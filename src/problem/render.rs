//! The three bodies of a [`Problem`]: a frame of static strings with the escaped
//! per-request fields filled in, so the error path formats nothing twice and reads no disk.

use std::fmt::Write as _;

use bytes::Bytes;

use super::{Format, Problem};
use crate::http::encode::{percent_encode_path, printable, push_html_escaped};

/// The body of `problem` in `format`.
pub(super) fn render(problem: &Problem, format: Format) -> Bytes {
    match format {
        Format::Html => Bytes::from(html(problem)),
        Format::ProblemJson | Format::Json => json(problem),
        Format::Text => Bytes::from(text(problem)),
    }
}

/// Everything up to the `<title>` text.
const HTML_START: &str = "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta name=\"robots\" content=\"noindex\">\n<title>";

/// From the end of the title to the status code line: the whole style sheet, inline so the
/// page needs no other request (and the CSP can forbid them).
const HTML_STYLE: &str = "</title>\n<style>\
:root{color-scheme:light dark;--bg:#f5f6f8;--fg:#1d2129;--mute:#5c6370;--card:#fff;--line:#dde1e6;--accent:#0a58ca}\
@media (prefers-color-scheme:dark){:root{--bg:#111418;--fg:#e6e9ee;--mute:#9aa3ad;--card:#1a1e24;--line:#2b3139;--accent:#7fb2ff}}\
*{box-sizing:border-box}\
body{margin:0;min-height:100vh;display:grid;place-items:center;padding:1.5rem;background:var(--bg);color:var(--fg);\
font:1rem/1.6 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif}\
main{width:100%;max-width:42rem;background:var(--card);border:1px solid var(--line);border-radius:12px;\
padding:2rem 2.25rem;box-shadow:0 1px 3px rgb(0 0 0/.06)}\
.status{margin:0;font:600 .85rem/1 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;letter-spacing:.08em;color:var(--mute)}\
h1{margin:.5rem 0 1rem;font-size:1.6rem;line-height:1.25}\
h2{margin:1.5rem 0 .5rem;font-size:.8rem;text-transform:uppercase;letter-spacing:.08em;color:var(--mute)}\
p{margin:0;overflow-wrap:anywhere}\
ul{margin:0;padding-left:1.25rem}\
li{margin:.25rem 0;overflow-wrap:anywhere}\
a{color:var(--accent)}\
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.92em}\
footer{margin-top:1.75rem;padding-top:1rem;border-top:1px solid var(--line);font-size:.85rem;color:var(--mute)}\
</style>\n</head>\n<body>\n<main>\n<p class=\"status\">";

const HTML_END: &str = "</main>\n</body>\n</html>\n";

fn html(p: &Problem) -> String {
    let mut out = String::with_capacity(HTML_START.len() + HTML_STYLE.len() + 512);
    let code = p.status.as_str();
    out.push_str(HTML_START);
    out.push_str(code);
    out.push(' ');
    push_html_escaped(&mut out, p.title);
    out.push_str(HTML_STYLE);
    out.push_str(code);
    out.push_str("</p>\n<h1>");
    push_html_escaped(&mut out, p.title);
    out.push_str("</h1>\n");
    if !p.detail.is_empty() {
        out.push_str("<p>");
        push_html_escaped(&mut out, &p.detail);
        out.push_str("</p>\n");
    }
    html_list(&mut out, "Did you mean", &p.suggestions);
    html_list(&mut out, "Available", &p.available);
    if let Some(id) = &p.request_id {
        out.push_str("<footer>Request id: <code>");
        push_html_escaped(&mut out, id);
        out.push_str("</code></footer>\n");
    }
    out.push_str(HTML_END);
    out
}

/// A titled list; items that are absolute paths become links that fetch them.
fn html_list(out: &mut String, heading: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    out.push_str("<h2>");
    out.push_str(heading);
    out.push_str("</h2>\n<ul>\n");
    for item in items {
        out.push_str("<li>");
        if item.starts_with('/') {
            out.push_str("<a href=\"");
            // Percent-encoding leaves no `&`, `<`, `"` or `'`, so no HTML escaping is needed.
            out.push_str(&percent_encode_path(item));
            out.push_str("\">");
            push_html_escaped(out, item);
            out.push_str("</a>");
        } else {
            out.push_str("<code>");
            push_html_escaped(out, item);
            out.push_str("</code>");
        }
        out.push_str("</li>\n");
    }
    out.push_str("</ul>\n");
}

/// `404 Not Found`, the detail, then each list one item per line, for a terminal.
/// Names are shown decoded but with control characters encoded ([`printable`]).
fn text(p: &Problem) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(p.status.as_str());
    out.push(' ');
    out.push_str(&printable(p.title));
    out.push('\n');
    if !p.detail.is_empty() {
        out.push_str(&printable(&p.detail));
        out.push('\n');
    }
    text_list(&mut out, "Did you mean:", &p.suggestions);
    text_list(&mut out, "Available:", &p.available);
    if let Some(id) = &p.request_id {
        // Writing to a String cannot fail.
        let _ = write!(out, "\nRequest id: {}\n", printable(id));
    }
    out
}

fn text_list(out: &mut String, heading: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    out.push('\n');
    out.push_str(heading);
    out.push('\n');
    for item in items {
        out.push_str("  ");
        out.push_str(&printable(item));
        out.push('\n');
    }
}

/// RFC 9457 §3.1 members, then our extension members (§3.2) when non-empty. `instance`,
/// and `suggestions`/`available` entries that are paths, are URI references (§3.1.5), so
/// they are percent-encoded; a client can fetch them as they are.
///
/// Written directly, in serde_json's compact form (the tests compare the two): serde_json
/// escaped each of the nine keys and strings a byte at a time, about 2,000 instructions of
/// a 404's 19,000.
fn json(p: &Problem) -> Bytes {
    // Room for a typical body, so the buffer is not grown step by step.
    let mut out = Vec::with_capacity(256 + p.detail.len());
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(TYPE_PREFIX.as_bytes());
    push_json_text(&mut out, p.slug);
    out.extend_from_slice(b"\",\"title\":\"");
    push_json_text(&mut out, p.title);
    out.extend_from_slice(b"\",\"status\":");
    out.extend_from_slice(itoa::Buffer::new().format(p.status.as_u16()).as_bytes());
    if !p.detail.is_empty() {
        out.extend_from_slice(b",\"detail\":");
        push_json_string(&mut out, &p.detail);
    }
    if let Some(instance) = &p.instance {
        out.extend_from_slice(b",\"instance\":");
        push_json_string(&mut out, &percent_encode_path(instance));
    }
    push_json_list(&mut out, "suggestions", &p.suggestions);
    push_json_list(&mut out, "available", &p.available);
    if let Some(request_id) = &p.request_id {
        out.extend_from_slice(b",\"request_id\":");
        push_json_string(&mut out, request_id);
    }
    out.extend_from_slice(b"}\n");
    Bytes::from(out)
}

const TYPE_PREFIX: &str = "urn:usher:problem:";

/// `,"name":[...]` for a non-empty list; paths percent-encoded (see [`json`]).
fn push_json_list(out: &mut Vec<u8>, name: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        if item.starts_with('/') {
            push_json_string(out, &percent_encode_path(item));
        } else {
            push_json_string(out, item);
        }
    }
    out.push(b']');
}

/// `text` as a JSON string, quotes included.
fn push_json_string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    push_json_text(out, text);
    out.push(b'"');
}

/// `text` escaped for inside a JSON string (RFC 8259 §7), as serde_json escapes it: `"`,
/// `\\` and control characters; `\b`, `\f`, `\n`, `\r` and `\t` short, the others as
/// `\u00XX`. Runs that need nothing are copied whole.
fn push_json_text(out: &mut Vec<u8>, text: &str) {
    let needs_escape = |b: u8| b < 0x20 || b == b'"' || b == b'\\';
    let bytes = text.as_bytes();
    // Most text needs no escape: checked 16 bytes at a time (a loop without an early exit
    // vectorises), as `printable` does; the byte-by-byte walk starts at the first chunk
    // that has something to escape.
    let mut clean = 0;
    for chunk in bytes.chunks(16) {
        if !chunk
            .iter()
            .fold(true, |clean, &b| clean & !needs_escape(b))
        {
            break;
        }
        clean += chunk.len();
    }
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate().skip(clean) {
        if !needs_escape(b) {
            continue;
        }
        out.extend_from_slice(&bytes[run..i]);
        run = i + 1;
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
        }
    }
    out.extend_from_slice(&bytes[run..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;
    use serde::Serialize;

    /// The body as serde_json wrote it before [`json`] wrote it directly: the reference.
    #[derive(Serialize)]
    struct Reference<'a> {
        #[serde(rename = "type")]
        type_: String,
        title: &'a str,
        status: u16,
        #[serde(skip_serializing_if = "str::is_empty")]
        detail: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        instance: Option<String>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        suggestions: Vec<String>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        available: Vec<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        request_id: Option<&'a str>,
    }

    fn reference(p: &Problem) -> Vec<u8> {
        let uri_or_as_is = |item: &String| {
            if item.starts_with('/') {
                percent_encode_path(item)
            } else {
                item.clone()
            }
        };
        let body = Reference {
            type_: format!("{TYPE_PREFIX}{}", p.slug),
            title: p.title,
            status: p.status.as_u16(),
            detail: &p.detail,
            instance: p.instance.as_deref().map(percent_encode_path),
            suggestions: p.suggestions.iter().map(uri_or_as_is).collect(),
            available: p.available.iter().map(uri_or_as_is).collect(),
            request_id: p.request_id.as_deref(),
        };
        let mut v = serde_json::to_vec(&body).unwrap();
        v.push(b'\n');
        v
    }

    /// Every member, present and absent, with every ASCII character (controls, quotes and
    /// backslashes included) and non-ASCII text in each string: the same bytes as
    /// serde_json's.
    #[test]
    fn json_is_what_serde_json_writes() {
        let ascii: String = (0u8..0x80).map(char::from).collect();
        let texts = [
            String::new(),
            "plain".to_owned(),
            ascii.clone(),
            format!("é ü 日本 🦀 {ascii} \u{2028}\u{feff}"),
            "\"quoted\" \\back\\ \n\r\t\u{8}\u{c}\u{1f}".to_owned(),
        ];
        let mut compared = 0;
        for detail in &texts {
            for (i, extra) in texts.iter().enumerate() {
                let mut p = Problem::new(StatusCode::NOT_FOUND, "not-found", "Not Found")
                    .with_detail(detail.clone());
                if i % 2 == 1 {
                    p.instance = Some(format!("/a b/{extra}"));
                    p.request_id = Some(extra.clone());
                }
                if i >= 2 {
                    p.suggestions = vec![format!("/x/{extra}"), extra.clone()];
                    p.available = vec!["text/html".to_owned(), format!("/y{extra}")];
                }
                assert_eq!(
                    String::from_utf8_lossy(&json(&p)),
                    String::from_utf8_lossy(&reference(&p)),
                );
                compared += 1;
            }
        }
        assert_eq!(compared, texts.len() * texts.len());
    }
}
