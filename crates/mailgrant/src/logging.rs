//! Where log lines go: stderr, through a shared 64 KiB buffer.
//!
//! Every issued token is logged, so the log is on the hot path. Writing each line straight to
//! stderr costs a system call per request; handing it to a logging thread costs a wake-up per
//! request. Here a request only copies its line into the buffer (under a lock held for a
//! `memcpy`); a background thread writes the buffer out every 50 ms, and a full buffer or the
//! end of the process writes it out at once. A crash can lose the last 50 ms of lines.

use std::io::{self, BufWriter, Stderr, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing_subscriber::fmt::MakeWriter;

const CAPACITY: usize = 64 * 1024;
const FLUSH_EVERY: Duration = Duration::from_millis(50);

#[derive(Clone)]
pub struct BufferedStderr {
    buffer: Arc<Mutex<BufWriter<Stderr>>>,
}

/// Writes out what is buffered when dropped (at the end of `main`).
pub struct FlushOnDrop(BufferedStderr);

impl Drop for FlushOnDrop {
    fn drop(&mut self) {
        self.0.flush();
    }
}

impl BufferedStderr {
    /// The writer, and a guard to keep until exit. Starts the flushing thread.
    pub fn start() -> (Self, FlushOnDrop) {
        let writer = Self {
            buffer: Arc::new(Mutex::new(BufWriter::with_capacity(CAPACITY, io::stderr()))),
        };
        let flusher = writer.clone();
        // If the thread cannot start, lines are still written when the buffer fills and at exit.
        let _ = std::thread::Builder::new()
            .name("log-flush".into())
            .spawn(move || loop {
                std::thread::sleep(FLUSH_EVERY);
                flusher.flush();
            });
        (writer.clone(), FlushOnDrop(writer))
    }

    fn flush(&self) {
        if let Ok(mut buffer) = self.buffer.lock() {
            let _ = buffer.flush();
        }
    }
}

pub struct Line<'a>(&'a BufferedStderr);

impl Line<'_> {
    fn buffer(&self) -> io::Result<std::sync::MutexGuard<'_, BufWriter<Stderr>>> {
        self.0
            .buffer
            .lock()
            .map_err(|_| io::Error::other("the log buffer is poisoned"))
    }
}

impl Write for Line<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer()?.write(bytes)
    }

    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        // One lock per line, so that lines from different threads never interleave.
        self.buffer()?.write_all(bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BufferedStderr {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        Line(self)
    }
}
