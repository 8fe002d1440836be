//! The script a request's path names: the path up to and including the first segment that
//! ends in `split-path` (`.php`) is SCRIPT_NAME, the rest is PATH_INFO; a directory's path
//! names its `index` script. The names come from the normalised path (no `..`, no NUL) and
//! hidden names are refused, so a request cannot name a file outside the root.

use std::path::Path;

use crate::handlers::cgi::Script;
use crate::http::target::NormalPath;

/// Why no script answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoScript {
    /// The path names no script file under the root: 404.
    NotFound,
}

/// The script for `path` under `root`.
pub fn resolve(
    root: &Path,
    index: &str,
    split_path: &str,
    path: &NormalPath,
) -> Result<Script, NoScript> {
    let segments = &path.segments;
    let joined = |segs: &[String]| segs.iter().map(|s| format!("/{s}")).collect::<String>();
    let split = segments.iter().position(|s| s.ends_with(split_path));
    let (file, name, path_info) = match split {
        Some(i) => {
            let mut info = joined(&segments[i + 1..]);
            if path.trailing_slash && i + 1 < segments.len() {
                info.push('/');
            }
            let file = segments[..=i]
                .iter()
                .fold(root.to_path_buf(), |f, s| f.join(s));
            (file, joined(&segments[..=i]), info)
        }
        None => {
            let dir = segments.iter().fold(root.to_path_buf(), |f, s| f.join(s));
            if !path.trailing_slash && !dir.is_dir() {
                return Err(NoScript::NotFound);
            }
            let mut name = joined(segments);
            name.push('/');
            name.push_str(index);
            (dir.join(index), name, String::new())
        }
    };
    let hidden = name.split('/').any(|s| s.starts_with('.'));
    if hidden || !std::fs::metadata(&file).is_ok_and(|m| m.is_file()) {
        return Err(NoScript::NotFound);
    }
    Ok(Script {
        file,
        name,
        path_info,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::target::normalise;

    fn site() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("app/.git")).unwrap();
        for f in [
            "index.php",
            "app/index.php",
            "app/page.php",
            "app/.git/x.php",
        ] {
            std::fs::write(dir.path().join(f), "<?php").unwrap();
        }
        dir
    }

    fn script(root: &Path, path: &str) -> Result<(String, String), NoScript> {
        let path = normalise(path).unwrap();
        resolve(root, "index.php", ".php", &path).map(|s| (s.name, s.path_info))
    }

    #[test]
    fn the_path_splits_after_the_first_php_segment() {
        let dir = site();
        let root = dir.path();
        let pair = |a: &str, b: &str| Ok((a.to_owned(), b.to_owned()));
        assert_eq!(script(root, "/app/page.php"), pair("/app/page.php", ""));
        assert_eq!(
            script(root, "/app/page.php/a/b"),
            pair("/app/page.php", "/a/b")
        );
        assert_eq!(
            script(root, "/app/page.php/a/"),
            pair("/app/page.php", "/a/")
        );
        assert_eq!(script(root, "/"), pair("/index.php", ""));
        assert_eq!(script(root, "/app/"), pair("/app/index.php", ""));
        assert_eq!(script(root, "/app"), pair("/app/index.php", ""));
    }

    #[test]
    fn missing_and_hidden_scripts_are_not_found() {
        let dir = site();
        let root = dir.path();
        assert_eq!(script(root, "/nope.php"), Err(NoScript::NotFound));
        assert_eq!(script(root, "/app/nope.php/x"), Err(NoScript::NotFound));
        assert_eq!(script(root, "/app/.git/x.php"), Err(NoScript::NotFound));
        assert_eq!(script(root, "/app/readme"), Err(NoScript::NotFound));
        assert_eq!(script(root, "/../index.php"), script(root, "/index.php"));
    }
}
