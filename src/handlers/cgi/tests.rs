//! Choosing the program and splitting the path around it.

use super::*;
use crate::http::target::normalise;

fn dir_with(files: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in files {
        let path = dir.path().join(f);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "#!/bin/sh\n").unwrap();
    }
    dir
}

fn split(target: &CgiTarget, path: &str, consumed: usize) -> Result<(String, String), u16> {
    split_under(target, "/", path, consumed)
}

fn split_under(
    target: &CgiTarget,
    pattern: &str,
    path: &str,
    consumed: usize,
) -> Result<(String, String), u16> {
    let pattern = PathPattern::parse(pattern).unwrap();
    resolve(target, &pattern, &normalise(path).unwrap(), consumed)
        .map(|s| (s.name, s.path_info))
        .map_err(|p| p.status.as_u16())
}

#[test]
fn one_program_takes_the_whole_prefix() {
    let t = CgiTarget::Program(PathBuf::from("/usr/lib/git-core/git-http-backend"));
    let ok = |a: &str, b: &str| Ok((a.to_owned(), b.to_owned()));
    assert_eq!(
        split(&t, "/git/repo.git/info/refs", 1),
        ok("/git", "/repo.git/info/refs")
    );
    assert_eq!(split(&t, "/git", 1), ok("/git", ""));
    assert_eq!(split(&t, "/git/", 1), ok("/git", "/"));
    assert_eq!(split(&t, "/a/b/", 0), ok("", "/a/b/"));
}

#[test]
fn a_directory_names_the_program_by_the_next_segment() {
    let dir = dir_with(&["env.py", ".hidden", "sub/x.py"]);
    let t = CgiTarget::Dir(dir.path().to_path_buf());
    let ok = |a: &str, b: &str| Ok((a.to_owned(), b.to_owned()));
    assert_eq!(split(&t, "/cgi-bin/env.py", 1), ok("/cgi-bin/env.py", ""));
    assert_eq!(
        split(&t, "/cgi-bin/env.py/x/y", 1),
        ok("/cgi-bin/env.py", "/x/y")
    );
    for missing in [
        "/cgi-bin/",
        "/cgi-bin/nope",
        "/cgi-bin/.hidden",
        "/cgi-bin/sub",
        "/cgi-bin/%2e%2e/etc/passwd",
    ] {
        assert_eq!(split(&t, missing, 1), Err(404), "{missing}");
    }
}

#[test]
fn an_extension_route_runs_the_file_the_path_names() {
    let dir = dir_with(&["app/run.cgi", "top.cgi", ".secret/x.cgi"]);
    let t = CgiTarget::Files(dir.path().to_path_buf());
    let ok = |a: &str, b: &str| Ok((a.to_owned(), b.to_owned()));
    assert_eq!(split(&t, "/app/run.cgi", 0), ok("/app/run.cgi", ""));
    assert_eq!(
        split(&t, "/app/run.cgi/more/", 0),
        ok("/app/run.cgi", "/more/")
    );
    assert_eq!(split(&t, "/top.cgi", 0), ok("/top.cgi", ""));
    assert_eq!(split(&t, "/.secret/x.cgi", 0), Err(404));
    assert_eq!(split(&t, "/app/none.cgi", 0), Err(404));
}

/// Under a glob route the program's own name must match the glob: an uploaded image named
/// before a `.py` segment is not a script with PATH_INFO `/x.py`.
#[test]
fn under_a_glob_only_files_the_glob_names_run() {
    let dir = dir_with(&["uploads/evil.jpg", "notes", "app.py", "sub/ok.py"]);
    let t = CgiTarget::Files(dir.path().to_path_buf());
    let ok = |a: &str, b: &str| Ok((a.to_owned(), b.to_owned()));
    assert_eq!(split_under(&t, "*.py", "/app.py", 0), ok("/app.py", ""));
    assert_eq!(
        split_under(&t, "*.py", "/sub/ok.py", 0),
        ok("/sub/ok.py", "")
    );
    assert_eq!(
        split_under(&t, "*.py", "/app.py/x.py", 0),
        ok("/app.py", "/x.py")
    );
    // A trailing slash after the script is PATH_INFO's (RFC 3875 §4.1.5).
    assert_eq!(split_under(&t, "/", "/app.py/", 0), ok("/app.py", "/"));
    for refused in [
        "/uploads/evil.jpg/x.py",
        "/notes/a.py",
        "/uploads/evil.jpg/.py",
    ] {
        assert_eq!(split_under(&t, "*.py", refused, 0), Err(404), "{refused}");
    }
    // A prefix route runs whatever its root holds, as a cgi-bin directory does.
    assert_eq!(split_under(&t, "/", "/notes/x", 0), ok("/notes", "/x"));
}

/// Under a root of files, a link leading out of the root runs nothing, whether it names the
/// program or a directory on the way (the files route's sandbox).
#[test]
fn a_link_out_of_a_root_of_files_runs_nothing() {
    let outside = dir_with(&["o.py", "d/p.py"]);
    let root = dir_with(&["in.py"]);
    std::os::unix::fs::symlink(outside.path().join("o.py"), root.path().join("out.py")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("d"), root.path().join("outdir")).unwrap();
    std::os::unix::fs::symlink(root.path().join("in.py"), root.path().join("alias.py")).unwrap();
    let t = CgiTarget::Files(root.path().to_path_buf());
    let ok = |a: &str, b: &str| Ok((a.to_owned(), b.to_owned()));
    assert_eq!(split_under(&t, "*.py", "/in.py", 0), ok("/in.py", ""));
    assert_eq!(split_under(&t, "*.py", "/alias.py", 0), ok("/alias.py", ""));
    assert_eq!(split_under(&t, "*.py", "/out.py", 0), Err(404));
    assert_eq!(split_under(&t, "*.py", "/outdir/p.py", 0), Err(404));
}
