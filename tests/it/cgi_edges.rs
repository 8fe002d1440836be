//! CGI programs at the edges: a program that dies after its head has its answer cut, not
//! ended; the fields a program may not set; the fields of the request it is not given.

use std::io::Read as _;

use super::cgi::{get, send_get, site};
use crate::support::{head_value, split_head};

/// A program that writes its head and part of its answer, then ends as `end` says.
fn partial(end: &str) -> String {
    format!(
        "import os, signal, sys\n\
         sys.stdout.write('Content-Type: text/plain\\n\\npartial\\n')\n\
         sys.stdout.flush()\n{end}\n"
    )
}

/// An answer whose end only the last chunk tells is cut (no last chunk, the connection
/// closed) when its program is killed or exits with a failure status after its head: a
/// client or cache must not take it for whole (RFC 9112 §7.1). One that exits with success
/// is ended as usual.
#[test]
fn a_program_that_dies_after_its_head_has_its_answer_cut() {
    let (_dir, p) = site(&[
        ("killed.py", &partial("os.kill(os.getpid(), signal.SIGKILL)")),
        ("failed.py", &partial("sys.exit(3)")),
        ("fine.py", &partial("sys.exit(0)")),
    ]);
    for (script, whole) in [("killed.py", false), ("failed.py", false), ("fine.py", true)] {
        let mut s = send_get(p.addrs[0], &format!("/cgi-bin/{script}"));
        let mut got = Vec::new();
        // EOF, or a reset when the connection is cut.
        let _ = s.read_to_end(&mut got);
        let (head, body) = split_head(&got);
        assert!(head.starts_with("HTTP/1.1 200 "), "{script}: {head}");
        assert_eq!(head_value(&head, "transfer-encoding"), Some("chunked"));
        let body = String::from_utf8_lossy(body);
        assert!(body.starts_with("8\r\npartial\n\r\n"), "{script}: {body:?}");
        assert_eq!(body.ends_with("\r\n0\r\n\r\n"), whole, "{script}: {body:?}");
    }
    // What the program wrote before it died still arrived above; and the server goes on.
    assert!(get(p.addrs[0], "/a.txt").ends_with("alpha\n"));
}
