//! Content-Type from a file name: a complete table, with `charset=utf-8` on text types.

/// The Content-Type for a file named `name`; `application/octet-stream` when unknown.
pub fn content_type_for(name: &str) -> http::HeaderValue {
    let _ = name;
    todo!()
}

/// The bare media type (no parameters) for a file named `name`, if its extension is known.
pub fn media_type_for(name: &str) -> Option<&'static str> {
    let _ = name;
    todo!()
}
