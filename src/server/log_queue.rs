//! A bounded queue of lines into a writer thread of its own, for the server's log and the
//! access log: a worker hands a line over and goes on, and never waits for the disk, a
//! terminal or a pipe. Past the bound, lines are dropped and counted, and the writer tells
//! the count once it gets through again (nginx's bargain too: its logs never hold back an
//! answer).

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

/// Messages waiting for a writer at most (16,384); past it they are dropped.
pub const BOUND: usize = 16 * 1024;

/// The sending side: lines in, a count of those dropped.
pub struct LogQueue<T> {
    sender: SyncSender<T>,
    dropped: Arc<Dropped>,
}

/// How many messages were dropped since the writer last asked.
#[derive(Debug, Default)]
pub struct Dropped(AtomicU64);

impl Dropped {
    /// The count since the last call, reset.
    pub fn take(&self) -> u64 {
        self.0.swap(0, Ordering::Relaxed)
    }
}

impl<T: Send + 'static> LogQueue<T> {
    /// A queue of [`BOUND`] messages into a thread `name` running `write` on what comes (it
    /// returns when every sender is gone), with the count of dropped messages to tell.
    pub fn start(
        name: &str,
        write: impl FnOnce(Receiver<T>, Arc<Dropped>) + Send + 'static,
    ) -> io::Result<Self> {
        let (sender, receiver) = sync_channel(BOUND);
        let dropped = Arc::new(Dropped::default());
        let told = Arc::clone(&dropped);
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || write(receiver, told))?;
        Ok(LogQueue { sender, dropped })
    }

    /// Queue `message`, or count it dropped when the writer cannot keep up.
    pub fn send(&self, message: T) {
        if let Err(TrySendError::Full(_)) = self.sender.try_send(message) {
            self.dropped.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Queue `message` if there is room, without counting it otherwise (a request to be told
    /// when the writer is through, which a stuck writer would never answer anyway).
    pub fn offer(&self, message: T) -> bool {
        self.sender.try_send(message).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Messages reach the writer in order; past the bound, with the writer stuck, they are
    /// dropped and counted, and the count is taken once.
    #[test]
    fn a_stuck_writer_costs_dropped_lines_not_waits() {
        let (unblock, blocked) = sync_channel::<()>(0);
        let (out, got) = sync_channel::<(Vec<u32>, u64)>(1);
        let queue = LogQueue::start("test-log", move |lines: Receiver<u32>, dropped| {
            let _ = blocked.recv();
            let seen: Vec<u32> = lines.try_iter().collect();
            let _ = out.send((seen, dropped.take()));
        })
        .unwrap();
        for n in 0..(BOUND as u32 + 10) {
            queue.send(n);
        }
        assert!(!queue.offer(0), "no room");
        unblock.send(()).unwrap();
        let (seen, dropped) = got.recv().unwrap();
        assert_eq!(seen, (0..BOUND as u32).collect::<Vec<_>>());
        assert_eq!(dropped, 10);
    }
}
