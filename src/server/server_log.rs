//! usher's own log (what `tracing` says) on stderr, written by a thread of its own.
//!
//! stderr is whatever the operator attached: a terminal, `| logger`, journald, a Docker log
//! driver. Written from a worker, a reader that stalls would stall every connection of that
//! worker, and one that is gone (EPIPE) made tracing's fallback `eprintln!` panic. So events
//! go through a bounded queue ([`super::log_queue`]) to one writer thread that ignores write
//! failures; past the queue's bound lines are dropped and counted, and the count is written
//! once the writer gets through again, as for the access log.

use std::io::{self, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

use super::log_queue::{Dropped, LogQueue};

/// The longest [`flush`] waits for the writer.
const FLUSH_WAIT: Duration = Duration::from_secs(1);

enum Message {
    Line(Vec<u8>),
    /// Answered once everything queued before it is written.
    Flush(SyncSender<()>),
}

static QUEUE_TO_WRITER: OnceLock<LogQueue<Message>> = OnceLock::new();

/// The queue into the writer thread, started on first use. `None` only if the thread could
/// not be started; then events are written directly, as before.
fn queue() -> Option<&'static LogQueue<Message>> {
    if let Some(queue) = QUEUE_TO_WRITER.get() {
        return Some(queue);
    }
    let queue = LogQueue::start("usher-log", |queued, dropped| write_out(&queued, &dropped));
    let _ = QUEUE_TO_WRITER.set(queue.ok()?);
    QUEUE_TO_WRITER.get()
}

/// The writer `tracing_subscriber::fmt` takes: each event is formatted whole, then written
/// with one `write_all`, which becomes one queued line.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stderr;

impl<'a> MakeWriter<'a> for Stderr {
    type Writer = Stderr;

    fn make_writer(&'a self) -> Stderr {
        Stderr
    }
}

impl Write for Stderr {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        say(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Queue `bytes` (a whole line or more) for stderr, or count them dropped.
pub fn say(bytes: &[u8]) {
    let Some(queue) = queue() else {
        let _ = io::stderr().write_all(bytes);
        return;
    };
    queue.send(Message::Line(bytes.to_vec()));
}

/// Wait (at most a second) until what was queued is written: before the process exits.
pub fn flush() {
    let Some(queue) = QUEUE_TO_WRITER.get() else {
        return;
    };
    let (done, written) = sync_channel(1);
    // Not waiting for room: a writer stuck on a stalled reader would never make any.
    if queue.offer(Message::Flush(done)) {
        let _ = written.recv_timeout(FLUSH_WAIT);
    }
}

/// Write what comes, a batch at a time in as few writes as it takes, ignoring failures
/// (there is nowhere else to tell). stderr is locked for a batch only: the access log may
/// write to it too (`--access-log stderr`), and waits for the lock between batches.
fn write_out(queued: &Receiver<Message>, dropped: &Arc<Dropped>) {
    while let Ok(first) = queued.recv() {
        let mut err = io::BufWriter::with_capacity(64 * 1024, io::stderr().lock());
        let mut waiting = Vec::new();
        for message in std::iter::once(first).chain(queued.try_iter()) {
            match message {
                Message::Line(bytes) => {
                    let _ = err.write_all(&bytes);
                }
                Message::Flush(done) => waiting.push(done),
            }
        }
        let dropped = dropped.take();
        if dropped > 0 {
            let _ = writeln!(
                err,
                "usher: {dropped} log lines dropped: stderr could not keep up"
            );
        }
        let _ = err.flush();
        for done in waiting {
            let _ = done.try_send(());
        }
    }
}
