//! Directory listings as HTML, JSON or plain text, chosen by Accept (RFC 9110 §12.5.1).
//!
//! Entries pass the same sandbox rules as requests (`resolve::lookup`): hidden names,
//! symlinks leaving the root and special files are left out. Links are relative and every
//! segment is percent-encoded except unreserved characters, so any name (spaces, `%`, `#`,
//! `?`, `:`, quotes, `<`, unicode) round-trips. Directories come first; `?sort=name|size|time`
//! and `&order=asc|desc` choose the order. Big directories are capped at [`MAX_ENTRIES`].
//! The body is rendered whole (it is bounded), so its strong ETag is a hash of its bytes and
//! Last-Modified the newest of the directory and its entries: conditional GETs get 304.
//!
//! Reading ([`read_and_render`], blocking) is apart from rendering ([`render`], pure), so the
//! cache can keep what was read and render another format or order from memory.

use std::fmt::Write as _;
use std::fs;
use std::hash::{DefaultHasher, Hasher};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::HeaderValue;
use serde::Serialize;

use super::resolve::{Entry, Job, Miss, classify, lookup};
use super::{decoded_path, encoded_path, push_encoded};
use crate::http::accept;
use crate::http::encode::{printable, push_html_escaped};
use crate::http::etag::EntityTag;
use crate::problem::Problem;

/// Entries listed, at most (10 000): a bigger directory lists the first ones read, sorted,
/// and the HTML page says so. Bounds the time and memory of one listing (about 3 MB of HTML).
pub(super) const MAX_ENTRIES: usize = 10_000;

/// Directory entries read for one listing, at most (100 000), servable or not: a directory
/// of hidden names or escaping links cannot make one listing cost millions of `lstat`s.
const MAX_SCAN: usize = 100_000;

/// The listing formats, in order of preference when Accept does not decide.
const FORMATS: [&str; 3] = ["text/html", "application/json", "text/plain"];

/// A listing ready to send.
#[derive(Clone)]
pub(super) struct Rendered {
    pub(super) body: Bytes,
    pub(super) content_type: HeaderValue,
    pub(super) etag: EntityTag,
    pub(super) last_modified: SystemTime,
    /// HTML gets a Content-Security-Policy allowing only its inline style.
    pub(super) html: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    Html,
    Json,
    Text,
}

#[derive(Debug, PartialEq, Eq)]
struct Item {
    name: String,
    dir: bool,
    symlink: bool,
    size: u64,
    modified: SystemTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Name,
    Size,
    Time,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Sort {
    key: Key,
    descending: bool,
}

/// How one request wants a listing: format (by Accept) and order (by query).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct View {
    format: Format,
    sort: Sort,
}

/// What was read from a directory: its servable entries, sorted by name.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct ListingData {
    items: Vec<Item>,
    truncated: bool,
    dir_modified: SystemTime,
}

impl ListingData {
    /// Bytes held, roughly (cache accounting).
    pub(super) fn weight(&self) -> usize {
        self.items
            .iter()
            .map(|i| i.name.len() + std::mem::size_of::<Item>())
            .sum()
    }

    /// An upper bound of one rendering's size: HTML with every name escaped twice over (a
    /// percent-encoded link, up to 3 bytes per byte, and HTML-escaped text, up to 6) and a
    /// row of markup.
    pub(super) fn render_estimate(&self) -> usize {
        4096 + self
            .items
            .iter()
            .map(|i| 9 * i.name.len() + 400)
            .sum::<usize>()
    }
}

/// A listing read for a request, and its rendering.
pub(super) struct Listed {
    pub(super) data: Arc<ListingData>,
    pub(super) view: View,
    pub(super) rendered: Rendered,
}

/// The view `accept` and `query` ask for; 406 (for the path `decoded`) when Accept refuses
/// every format, unless `lenient`.
pub(super) fn view(
    accept: Option<&[u8]>,
    lenient: bool,
    query: Option<&str>,
    decoded: impl FnOnce() -> String,
) -> Result<View, Box<Problem>> {
    let format = match accept::choose_media_type(accept, &FORMATS) {
        Some(0) => Format::Html,
        Some(1) => Format::Json,
        Some(_) => Format::Text,
        None if lenient => Format::Html,
        None => {
            return Err(Box::new(Problem::not_acceptable(
                &decoded(),
                FORMATS.iter().map(|f| (*f).to_owned()).collect(),
            )));
        }
    };
    Ok(View {
        format,
        sort: parse_sort(query),
    })
}

/// Read the listing of `dir` for `job` and render it. Blocking.
pub(super) fn read_and_render(job: &Job, dir: &Entry) -> Result<Listed, Box<Problem>> {
    let view = view(
        job.accept(),
        job.opts.lenient_accept,
        job.query.as_deref(),
        || job.decoded(),
    )?;
    let (mut items, truncated) = read(job, dir)?;
    sort_items(
        &mut items,
        Sort {
            key: Key::Name,
            descending: false,
        },
    );
    let data = Arc::new(ListingData {
        items,
        truncated,
        dir_modified: dir.meta.modified().unwrap_or(UNIX_EPOCH),
    });
    let rendered = render(&data, job.path.segments(), view);
    Ok(Listed {
        data,
        view,
        rendered,
    })
}

/// Render `data` for the directory at `segments` as `view` asks. Pure, but proportional to
/// the entries (up to [`MAX_ENTRIES`]): run it off the runtime when large.
pub(super) fn render(data: &ListingData, segments: &[String], view: View) -> Rendered {
    let View { format, sort } = view;
    let mut order: Vec<&Item> = data.items.iter().collect();
    sort_items(&mut order, sort);
    let items = &order[..];
    let truncated = data.truncated;
    let last_modified = items
        .iter()
        .map(|i| i.modified)
        .chain(Some(data.dir_modified))
        .max()
        .unwrap_or(UNIX_EPOCH);
    let (body, content_type) = match format {
        Format::Html => (
            html(segments, items, sort, truncated),
            "text/html; charset=utf-8",
        ),
        Format::Json => (json(segments, items), "application/json"),
        Format::Text => (text(items), "text/plain; charset=utf-8"),
    };
    let mut hasher = DefaultHasher::new();
    hasher.write(body.as_bytes());
    let etag = EntityTag {
        weak: false,
        tag: format!("{:016x}-{:x}", hasher.finish(), body.len()),
    };
    Rendered {
        body: Bytes::from(body),
        content_type: HeaderValue::from_static(content_type),
        etag,
        last_modified,
        html: format == Format::Html,
    }
}

/// The servable entries of `dir`, at most [`MAX_ENTRIES`], and whether some were left out.
fn read(job: &Job, dir: &Entry) -> Result<(Vec<Item>, bool), Box<Problem>> {
    let opts = &*job.opts;
    let entries = fs::read_dir(&dir.path).map_err(|err| {
        Box::new(match classify(err) {
        Miss::Absent => Problem::not_found(&job.decoded(), Vec::new()),
        Miss::Denied => Problem::forbidden(
            &job.decoded(),
            "the directory is not readable by the server",
        ),
        Miss::Failed(err) => Problem::out_of_descriptors(&err).unwrap_or_else(|| {
            tracing::warn!(fs_path = %dir.path.display(), error = %err, "cannot list directory");
            Problem::internal()
        }),
        })
    })?;
    let mut items = Vec::new();
    for (seen, dirent) in entries.enumerate() {
        if seen == MAX_SCAN {
            return Ok((items, true));
        }
        let dirent = match dirent {
            Ok(d) => d,
            Err(err) => {
                tracing::debug!(fs_path = %dir.path.display(), error = %err, "skipping entry");
                continue;
            }
        };
        // A name that is not UTF-8 cannot be requested (targets decode to UTF-8): skip it.
        let Ok(name) = dirent.file_name().into_string() else {
            continue;
        };
        let Ok(entry) = lookup(opts, &dir.path, &name) else {
            continue;
        };
        if items.len() == MAX_ENTRIES {
            return Ok((items, true));
        }
        let dir = entry.meta.is_dir();
        items.push(Item {
            name,
            dir,
            symlink: entry.linked,
            size: if dir { 0 } else { entry.meta.len() },
            modified: entry.meta.modified().unwrap_or(UNIX_EPOCH),
        });
    }
    Ok((items, false))
}

fn parse_sort(query: Option<&str>) -> Sort {
    let mut sort = Sort {
        key: Key::Name,
        descending: false,
    };
    for pair in query.unwrap_or_default().split('&') {
        match pair.split_once('=').unwrap_or((pair, "")) {
            ("sort", "name") => sort.key = Key::Name,
            ("sort", "size") => sort.key = Key::Size,
            ("sort", "time" | "modified" | "mtime" | "date") => sort.key = Key::Time,
            ("order", "asc") => sort.descending = false,
            ("order", "desc") => sort.descending = true,
            _ => {}
        }
    }
    sort
}

/// Directories first, then by the key (ties by name), in the chosen order.
fn sort_items<I: std::borrow::Borrow<Item>>(items: &mut [I], sort: Sort) {
    let by_name = |a: &Item, b: &Item| {
        // Case-insensitive first; raw bytes settle names that differ only by case.
        a.name
            .chars()
            .flat_map(char::to_lowercase)
            .cmp(b.name.chars().flat_map(char::to_lowercase))
            .then_with(|| a.name.cmp(&b.name))
    };
    items.sort_unstable_by(|a, b| {
        let (a, b) = (a.borrow(), b.borrow());
        let key = match sort.key {
            Key::Name => by_name(a, b),
            Key::Size => a.size.cmp(&b.size).then_with(|| by_name(a, b)),
            Key::Time => a.modified.cmp(&b.modified).then_with(|| by_name(a, b)),
        };
        b.dir
            .cmp(&a.dir)
            .then(if sort.descending { key.reverse() } else { key })
    });
}

/// The self-contained HTML page.
fn html(segments: &[String], items: &[&Item], sort: Sort, truncated: bool) -> String {
    let mut out = String::with_capacity(2048 + items.len() * 260);
    let title = decoded_path(segments, true);
    out.push_str(HTML_HEAD_1);
    push_html_escaped(&mut out, &printable(&title));
    out.push_str(HTML_HEAD_2);

    // Breadcrumbs: every ancestor is a relative link.
    out.push_str("<h1>Index of <a href=\"");
    push_up(&mut out, segments.len());
    out.push_str("\">/</a>");
    for (i, segment) in segments.iter().enumerate() {
        out.push_str("<a href=\"");
        push_up(&mut out, segments.len() - 1 - i);
        out.push_str("\">");
        push_html_escaped(&mut out, &printable(segment));
        out.push_str("</a>/");
    }
    out.push_str("</h1>\n<table>\n<thead><tr>");
    for (key, label, class) in [
        (Key::Name, "Name", "name"),
        (Key::Size, "Size", "size"),
        (Key::Time, "Modified", "time"),
    ] {
        let current = sort.key == key;
        // Clicking the current column flips it; name starts ascending, size and time newest
        // or largest first.
        let descending = if current {
            !sort.descending
        } else {
            key != Key::Name
        };
        let _ = write!(out, "<th class=\"{class}\"");
        if current {
            let dir = if sort.descending {
                "descending"
            } else {
                "ascending"
            };
            let _ = write!(out, " aria-sort=\"{dir}\"");
        }
        let order = if descending { "desc" } else { "asc" };
        let word = match key {
            Key::Name => "name",
            Key::Size => "size",
            Key::Time => "time",
        };
        let _ = write!(
            out,
            "><a href=\"?sort={word}&amp;order={order}\">{label}</a>"
        );
        if current {
            out.push_str(if sort.descending { " ▼" } else { " ▲" });
        }
        out.push_str("</th>");
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    if !segments.is_empty() {
        out.push_str(
            "<tr class=\"dir\"><td class=\"name\"><a href=\"../\">../</a></td>\
             <td class=\"size\"></td><td class=\"time\"></td></tr>\n",
        );
    }
    let (mut dirs, mut files) = (0usize, 0usize);
    for item in items {
        if item.dir {
            dirs += 1;
            out.push_str("<tr class=\"dir\">");
        } else {
            files += 1;
            out.push_str("<tr>");
        }
        out.push_str("<td class=\"name\"><a href=\"");
        push_encoded(&mut out, &item.name);
        if item.dir {
            out.push('/');
        }
        out.push('"');
        if item.symlink {
            out.push_str(" title=\"symbolic link\"");
        }
        out.push('>');
        // Shown through `printable`: a bidi override in a name must not reorder the page.
        push_html_escaped(&mut out, &printable(&item.name));
        if item.dir {
            out.push('/');
        }
        out.push_str("</a></td>");
        if item.dir {
            out.push_str("<td class=\"size\">—</td>");
        } else {
            let unit = if item.size == 1 { "byte" } else { "bytes" };
            let _ = write!(out, "<td class=\"size\" title=\"{} {unit}\">", item.size);
            push_human_size(&mut out, item.size);
            out.push_str("</td>");
        }
        out.push_str("<td class=\"time\"><time datetime=\"");
        push_rfc3339(&mut out, item.modified);
        out.push_str("\">");
        push_short_time(&mut out, item.modified);
        out.push_str("</time></td></tr>\n");
    }
    out.push_str("</tbody>\n</table>\n<footer>");
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let _ = write!(
        out,
        "{dirs} director{}, {files} file{}",
        if dirs == 1 { "y" } else { "ies" },
        plural(files)
    );
    if truncated {
        let _ = write!(
            out,
            ". This directory is larger: only the first entries read (at most {MAX_ENTRIES}) are listed."
        );
    }
    out.push_str("</footer>\n</main>\n</body>\n</html>\n");
    out
}

const HTML_HEAD_1: &str = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>Index of ";

const HTML_HEAD_2: &str = "</title>\n<style>\n\
:root{color-scheme:light dark;--fg:#1f2328;--muted:#656d76;--line:#d8dee4;--hover:#f6f8fa;--link:#0969da}\n\
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#8d96a0;--line:#30363d;--hover:#161b22;--link:#4493f8}}\n\
body{margin:0;font:15px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;color:var(--fg)}\n\
main{max-width:60rem;margin:2rem auto;padding:0 1rem}\n\
h1{font-size:1.3rem;font-weight:600;margin:0 0 1rem;overflow-wrap:anywhere}\n\
h1 a{color:inherit}\n\
a{color:var(--link);text-decoration:none}a:hover{text-decoration:underline}\n\
table{width:100%;border-collapse:collapse}\n\
th,td{padding:.35rem .6rem;text-align:left;border-bottom:1px solid var(--line)}\n\
th{font-weight:600;white-space:nowrap}th a{color:var(--muted)}\n\
td.name{overflow-wrap:anywhere}\n\
.size{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}\n\
.time{white-space:nowrap;font-variant-numeric:tabular-nums;color:var(--muted)}\n\
tbody tr:hover{background:var(--hover)}\n\
tr.dir a{font-weight:600}\n\
footer{margin-top:1rem;color:var(--muted);font-size:.85rem}\n\
@media (max-width:40rem){.time{display:none}}\n\
</style>\n</head>\n<body>\n<main>\n";

/// `../` `levels` times, or `./` for zero.
fn push_up(out: &mut String, levels: usize) {
    if levels == 0 {
        out.push_str("./");
    }
    for _ in 0..levels {
        out.push_str("../");
    }
}

/// `999 B`, `1.5 KiB`, `12.0 MiB` ... (binary units, one decimal).
fn push_human_size(out: &mut String, size: u64) {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if size < 1024 {
        let _ = write!(out, "{size} B");
        return;
    }
    let mut value = size as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let _ = write!(out, "{value:.1} {}", UNITS[unit]);
}

#[derive(Serialize)]
struct JsonItem<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    /// For symlinks: what the link leads to, `file` or `dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<&'static str>,
    /// Files only: bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    /// RFC 3339, UTC.
    modified: String,
    /// Absolute path, percent-encoded.
    url: String,
}

/// A JSON array of `{name, type, [target], [size], modified, url}`.
fn json(segments: &[String], items: &[&Item]) -> String {
    let base = encoded_path(segments, true);
    let entries: Vec<JsonItem<'_>> = items
        .iter()
        .map(|item| {
            let what = if item.dir { "dir" } else { "file" };
            let mut url = String::with_capacity(base.len() + item.name.len() + 1);
            url.push_str(&base);
            push_encoded(&mut url, &item.name);
            if item.dir {
                url.push('/');
            }
            let mut modified = String::with_capacity(20);
            push_rfc3339(&mut modified, item.modified);
            JsonItem {
                name: &item.name,
                kind: if item.symlink { "symlink" } else { what },
                target: item.symlink.then_some(what),
                size: (!item.dir).then_some(item.size),
                modified,
                url,
            }
        })
        .collect();
    // Serialising plain strings and numbers cannot fail.
    serde_json::to_string(&entries).unwrap_or_else(|_| "[]".to_owned())
}

/// One name per line, directories with a trailing `/`. Control and bidi characters (a
/// newline in a name would forge a second entry) are percent-encoded (`encode::printable`).
fn text(items: &[&Item]) -> String {
    let mut out = String::with_capacity(items.iter().map(|i| i.name.len() + 2).sum());
    for item in items {
        out.push_str(&printable(&item.name));
        if item.dir {
            out.push('/');
        }
        out.push('\n');
    }
    out
}

/// Seconds since the epoch as (year, month, day, hour, minute, second), UTC; times before
/// 1970 show as 1970. Days to civil date: H. Hinnant, "chrono-Compatible Low-Level Date
/// Algorithms".
fn civil(t: SystemTime) -> (i64, u32, u32, u32, u32, u32) {
    // Seconds from 1970, negative before it (a file dated 1960 is listed as 1960).
    let secs: i64 = match t.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
    };
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400) as u32;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, rem / 3600, rem / 60 % 60, rem % 60)
}

/// `2024-05-01T12:34:56Z` (RFC 3339).
fn push_rfc3339(out: &mut String, t: SystemTime) {
    let (y, mo, d, h, mi, s) = civil(t);
    let _ = write!(out, "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z");
}

/// `2024-05-01 12:34` (UTC), for people.
fn push_short_time(out: &mut String, t: SystemTime) {
    let (y, mo, d, h, mi, _) = civil(t);
    let _ = write!(out, "{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}");
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::{Key, Sort, parse_sort, push_human_size, push_rfc3339};

    fn civil_for_test(secs: u64) -> String {
        let mut s = String::new();
        push_rfc3339(&mut s, UNIX_EPOCH + Duration::from_secs(secs));
        s
    }

    #[test]
    fn dates() {
        assert_eq!(civil_for_test(0), "1970-01-01T00:00:00Z");
        assert_eq!(civil_for_test(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(civil_for_test(1_714_566_896), "2024-05-01T12:34:56Z");
        assert_eq!(civil_for_test(4_102_444_799), "2099-12-31T23:59:59Z");
        // Before 1970 too, to the second (-1 s is the last second of 1969).
        let before = |secs: u64| {
            let mut s = String::new();
            push_rfc3339(&mut s, UNIX_EPOCH - Duration::from_secs(secs));
            s
        };
        assert_eq!(before(1), "1969-12-31T23:59:59Z");
        assert_eq!(before(315_619_200), "1960-01-01T00:00:00Z");
    }

    #[test]
    fn sizes() {
        let h = |n| {
            let mut s = String::new();
            push_human_size(&mut s, n);
            s
        };
        assert_eq!(h(0), "0 B");
        assert_eq!(h(1023), "1023 B");
        assert_eq!(h(1536), "1.5 KiB");
        assert_eq!(h(10 * 1024 * 1024 * 1024), "10.0 GiB");
        assert_eq!(h(u64::MAX), "16.0 EiB");
    }

    #[test]
    fn sort_query() {
        let s = |q| parse_sort(Some(q));
        assert_eq!(
            s("sort=size&order=desc"),
            Sort {
                key: Key::Size,
                descending: true
            }
        );
        assert_eq!(s("order=desc&sort=time").key, Key::Time);
        assert_eq!(s("sort=bogus&order=sideways"), parse_sort(None));
    }
}
