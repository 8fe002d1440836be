//! What a request's path names on a FastCGI route: a script (the path up to and including the
//! first segment that ends in `split-path` (`.php`) is SCRIPT_NAME, the rest is PATH_INFO; a
//! directory names its `index` script), a plain file, or else the front controller. The names
//! come from the normalised path (no `..`, no NUL) and hidden names are refused, so a request
//! cannot name a file outside the root.

use std::path::{Path, PathBuf};

use super::FastCgiOptions;
use crate::handlers::cgi::Script;
use crate::http::target::NormalPath;

/// What answers a path on a FastCGI route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A script, run by the application.
    Script(Script),
    /// A file of the root that is not a script (a stylesheet, an image): served as a file.
    File,
    /// A directory with an index script, named without its trailing slash: redirected to
    /// the form with it, so the page's relative links resolve inside the directory.
    AddSlash,
}

/// Why nothing answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoScript {
    /// The path names no script or file under the root, and there is no front controller:
    /// 404.
    NotFound,
}

/// What answers `path` under the route's root, in the order a PHP site expects (nginx's
/// `try_files $uri $uri/ /index.php`, Caddy's `php_fastcgi`):
///
/// 1. a path with a segment ending in `split-path` names that script, the rest is PATH_INFO;
/// 2. a file that is not a script is served as a file;
/// 3. a directory names its `index` script (named without its trailing slash, it is
///    redirected to the form with it first);
/// 4. anything else goes to the front controller, if there is one, with the whole path as
///    PATH_INFO; otherwise it is not found.
///
/// Hidden names (a segment starting with `.`) are never scripts or files.
pub fn resolve(opts: &FastCgiOptions, path: &NormalPath) -> Result<Target, NoScript> {
    let segments = &path.segments();
    let root = &opts.root;
    let hidden = |segs: &[String]| segs.iter().any(|s| s.starts_with('.'));
    let under = |segs: &[String]| segs.iter().fold(root.clone(), |f, s| f.join(s));
    let is_file = |file: &Path| std::fs::metadata(file).is_ok_and(|m| m.is_file());
    let script = |file: PathBuf, name: String, path_info: String| Script {
        file,
        name,
        path_info,
    };
    // Case-blind: `info.PHP` is PHP source too, and served as a file it would be sent
    // whole. Handed to the application it runs, or its own check (php-fpm's
    // `security.limit_extensions`) refuses it.
    let ends_in_split = |s: &String| {
        let split = opts.split_path.as_bytes();
        s.len() >= split.len() && s.as_bytes()[s.len() - split.len()..].eq_ignore_ascii_case(split)
    };
    if let Some(i) = segments.iter().position(ends_in_split) {
        let file = under(&segments[..=i]);
        if !hidden(&segments[..=i]) && is_file(&file) {
            // `/index.php/` gives PATH_INFO `/`, as nginx's `fastcgi_split_path_info` and
            // Apache do (RFC 3875 §4.1.5: what follows the script's name).
            let mut info = joined(&segments[i + 1..]);
            if path.trailing_slash() {
                info.push('/');
            }
            return Ok(Target::Script(script(file, joined(&segments[..=i]), info)));
        }
    } else if !hidden(segments) {
        let place = under(segments);
        match std::fs::metadata(&place) {
            Ok(meta) if meta.is_file() && !path.trailing_slash() => return Ok(Target::File),
            Ok(meta) if meta.is_dir() => {
                let index = place.join(&opts.index);
                if is_file(&index) && !opts.index.starts_with('.') {
                    if !path.trailing_slash() && !segments.is_empty() {
                        return Ok(Target::AddSlash);
                    }
                    let mut name = joined(segments);
                    name.push('/');
                    name.push_str(&opts.index);
                    return Ok(Target::Script(script(index, name, String::new())));
                }
            }
            _ => {}
        }
    }
    let Some(front) = &opts.front_controller else {
        return Err(NoScript::NotFound);
    };
    let file = front
        .split('/')
        .filter(|s| !s.is_empty())
        .fold(root.clone(), |f, s| f.join(s));
    if !is_file(&file) {
        return Err(NoScript::NotFound);
    }
    let mut info = joined(segments);
    if path.trailing_slash() || segments.is_empty() {
        info.push('/');
    }
    Ok(Target::Script(script(file, front.clone(), info)))
}

/// `/a/b` for the segments `a`, `b`.
fn joined(segments: &[String]) -> String {
    segments.iter().map(|s| format!("/{s}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::fastcgi::Upstream;
    use crate::http::target::normalise;

    fn site() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("app/.git")).unwrap();
        std::fs::create_dir_all(dir.path().join("css")).unwrap();
        for f in [
            "index.php",
            "app/index.php",
            "app/page.php",
            "app/.git/x.php",
            "css/site.css",
            "app/info.PHP",
            ".env",
        ] {
            std::fs::write(dir.path().join(f), "<?php").unwrap();
        }
        dir
    }

    fn opts(root: &Path, front: Option<&str>) -> FastCgiOptions {
        let mut opts = FastCgiOptions::new(Upstream::Unix("/x".into()), root.to_path_buf());
        opts.front_controller = front.map(str::to_owned);
        opts
    }

    /// SCRIPT_NAME and PATH_INFO, or "file" for a plain file.
    fn answer(opts: &FastCgiOptions, path: &str) -> Result<(String, String), NoScript> {
        let path = normalise(path).unwrap();
        resolve(opts, &path).map(|t| match t {
            Target::Script(s) => {
                assert!(s.file.starts_with(&opts.root), "{}", s.file.display());
                (s.name, s.path_info)
            }
            Target::File => ("file".to_owned(), String::new()),
            Target::AddSlash => ("add a slash".to_owned(), String::new()),
        })
    }

    fn pair(a: &str, b: &str) -> Result<(String, String), NoScript> {
        Ok((a.to_owned(), b.to_owned()))
    }

    #[test]
    fn the_path_splits_after_the_first_php_segment() {
        let dir = site();
        let o = opts(dir.path(), None);
        assert_eq!(answer(&o, "/app/page.php"), pair("/app/page.php", ""));
        assert_eq!(
            answer(&o, "/app/page.php/a/b"),
            pair("/app/page.php", "/a/b")
        );
        assert_eq!(answer(&o, "/app/page.php/a/"), pair("/app/page.php", "/a/"));
        assert_eq!(answer(&o, "/app/page.php/"), pair("/app/page.php", "/"));
        assert_eq!(answer(&o, "/"), pair("/index.php", ""));
        assert_eq!(answer(&o, "/app/"), pair("/app/index.php", ""));
        assert_eq!(answer(&o, "/app"), pair("add a slash", ""));
        // Another spelling of the extension is a script too, never a file sent as it is.
        assert_eq!(answer(&o, "/app/info.PHP/x"), pair("/app/info.PHP", "/x"));
    }

    #[test]
    fn plain_files_are_files_but_never_hidden_ones() {
        let dir = site();
        let o = opts(dir.path(), None);
        assert_eq!(answer(&o, "/css/site.css"), pair("file", ""));
        assert_eq!(answer(&o, "/css/site.css/"), Err(NoScript::NotFound));
        assert_eq!(answer(&o, "/.env"), Err(NoScript::NotFound));
        assert_eq!(answer(&o, "/css/"), Err(NoScript::NotFound), "no index");
    }

    #[test]
    fn missing_and_hidden_scripts_are_not_found() {
        let dir = site();
        let o = opts(dir.path(), None);
        assert_eq!(answer(&o, "/nope.php"), Err(NoScript::NotFound));
        assert_eq!(answer(&o, "/app/nope.php/x"), Err(NoScript::NotFound));
        assert_eq!(answer(&o, "/app/.git/x.php"), Err(NoScript::NotFound));
        assert_eq!(answer(&o, "/app/readme"), Err(NoScript::NotFound));
        assert_eq!(answer(&o, "/../index.php"), answer(&o, "/index.php"));
    }

    #[test]
    fn the_front_controller_answers_what_names_nothing_with_the_path_as_path_info() {
        let dir = site();
        let o = opts(dir.path(), Some("/index.php"));
        let front = |info: &str| pair("/index.php", info);
        assert_eq!(answer(&o, "/users/5"), front("/users/5"));
        assert_eq!(answer(&o, "/users/"), front("/users/"));
        assert_eq!(answer(&o, "/missing.php"), front("/missing.php"));
        assert_eq!(
            answer(&o, "/.env"),
            front("/.env"),
            "hidden: the app decides"
        );
        assert_eq!(answer(&o, "/app/.git/x.php"), front("/app/.git/x.php"));
        assert_eq!(answer(&o, "/css/"), front("/css/"));
        // What names something still gets it.
        assert_eq!(answer(&o, "/css/site.css"), pair("file", ""));
        assert_eq!(answer(&o, "/app/page.php/x"), pair("/app/page.php", "/x"));
        assert_eq!(answer(&o, "/app"), pair("add a slash", ""));
        assert_eq!(answer(&o, "/"), pair("/index.php", ""));
    }

    #[test]
    fn a_missing_front_controller_is_not_found() {
        let dir = site();
        let o = opts(dir.path(), Some("/public/index.php"));
        assert_eq!(answer(&o, "/users/5"), Err(NoScript::NotFound));
    }
}
