//! Fuzz `handlers::stderr_log::StderrLog`, which cuts a program's error output (untrusted)
//! into log lines: it never panics; however the bytes are split into reads, the lines are
//! the same; no line holds a line end or control byte (but tab) or is longer than `MAX_LINE`
//! bytes of input (each at most 4 bytes out: `\xHH`); and the log gets at most `BUDGET` bytes
//! of lines plus the one line saying the rest was dropped.
#![no_main]

use libfuzzer_sys::fuzz_target;
use usher::handlers::stderr_log::{BUDGET, MAX_LINE, StderrLog};

fn lines(chunks: &[&[u8]]) -> Vec<String> {
    let mut out = Vec::new();
    let mut log = StderrLog::default();
    let mut emit = |line: &str| out.push(line.to_owned());
    for chunk in chunks {
        log.feed(chunk, &mut emit);
    }
    log.finish(&mut emit);
    out
}

fuzz_target!(|data: &[u8]| {
    // The first byte chooses where the output is split into two reads.
    let Some((&pick, output)) = data.split_first() else {
        return;
    };
    let at = usize::from(pick).min(output.len());
    let whole = lines(&[output]);
    let split = lines(&[&output[..at], &output[at..]]);
    assert_eq!(whole, split, "the lines depend on how the output was read");
    let mut logged = 0;
    for line in &whole {
        assert!(
            !line.chars().any(|c| c.is_control() && c != '\t'),
            "a control character inside {line:?}"
        );
        assert!(line.len() <= 4 * MAX_LINE, "a line of {} bytes", line.len());
        if !line.contains("more error output dropped") {
            logged += line.len();
        }
    }
    assert!(logged <= BUDGET, "{logged} bytes logged");
});
