//! The three bodies of a [`Problem`]: a frame of static strings with the escaped
//! per-request fields filled in, so the error path formats nothing twice and reads no disk.

use std::fmt::Write as _;

use bytes::Bytes;
use serde::{Serialize, Serializer};

use super::{Format, Problem};
use crate::http::encode::{percent_encode_path, printable, push_html_escaped};

/// The body of `problem` in `format`.
pub(super) fn render(problem: &Problem, format: Format) -> Bytes {
    match format {
        Format::Html => Bytes::from(html(problem)),
        Format::ProblemJson => json(problem),
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
#[derive(Serialize)]
struct ProblemJson<'a> {
    #[serde(rename = "type", serialize_with = "type_uri")]
    type_: &'a str,
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

/// `urn:usher:problem:<slug>`.
fn type_uri<S: Serializer>(slug: &&str, s: S) -> Result<S::Ok, S::Error> {
    // Joined as text first: `collect_str` would format and escape it a character at a time.
    let mut uri = String::with_capacity(TYPE_PREFIX.len() + slug.len());
    uri.push_str(TYPE_PREFIX);
    uri.push_str(slug);
    s.serialize_str(&uri)
}

const TYPE_PREFIX: &str = "urn:usher:problem:";

fn uri_or_as_is(item: &str) -> String {
    if item.starts_with('/') {
        percent_encode_path(item)
    } else {
        item.to_owned()
    }
}

fn json(p: &Problem) -> Bytes {
    let body = ProblemJson {
        type_: p.slug,
        title: p.title,
        status: p.status.as_u16(),
        detail: &p.detail,
        instance: p.instance.as_deref().map(percent_encode_path),
        suggestions: p.suggestions.iter().map(|s| uri_or_as_is(s)).collect(),
        available: p.available.iter().map(|s| uri_or_as_is(s)).collect(),
        request_id: p.request_id.as_deref(),
    };
    // Room for a typical body, so the buffer is not grown step by step.
    let mut v = Vec::with_capacity(256 + p.detail.len());
    match serde_json::to_writer(&mut v, &body) {
        Ok(()) => {
            v.push(b'\n');
            Bytes::from(v)
        }
        // Serialising strings and integers cannot fail; stay valid JSON regardless.
        Err(_) => Bytes::from_static(b"{\"title\":\"Internal Server Error\",\"status\":500}\n"),
    }
}
