//! A cross-process hint that the revocations log may have grown.
//!
//! Every process that commits a revocation to this database (a server or the CLI) writes a new
//! value into a small file beside it, `<database>-revocations`, after the commit. A server reads
//! those 8 bytes (one `pread`) before trusting its cache: while they are unchanged, no revocation
//! has completed since it last read the log's head, and the read transaction that would say so
//! (which also resets the connection's page cache after every commit) is skipped. The value is a
//! nonce, not a count: readers only compare it with the last one they saw, so a lost race
//! between two writers costs at most one extra head read.
//!
//! The server reads the value through a shared memory map of the file rather than a `pread`:
//! every token request, introspection and API call reads it, and the system call was ~0.45 µs
//! of each (about 4 % of an API request's CPU). Linux keeps one page cache, so a `pwrite` by any
//! process is in the map at once. Nothing ever shortens the file (a map past the end of a file
//! faults); an operator who truncates it by hand would stop the server, so don't.

use std::cell::Cell;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

thread_local! {
    /// Set by `log_revocation` on the writer thread; the writer bumps the signal after the
    /// commit that carried it.
    static REVOKED_IN_BATCH: Cell<bool> = const { Cell::new(false) };
}

/// Note that the transaction being built appends to the revocations log.
pub(crate) fn note_revocation() {
    REVOKED_IN_BATCH.with(|r| r.set(true));
}

/// Whether the transaction just finished carried a revocation (and forget it).
pub(crate) fn take_revocation_note() -> bool {
    REVOKED_IN_BATCH.with(|r| r.replace(false))
}

pub(crate) struct RevocationSignal {
    file: File,
    /// The file's first 8 bytes, mapped shared; `None` where mapping failed (then `pread`).
    map: Option<SharedWord>,
}

impl RevocationSignal {
    pub(crate) fn open(database: &Path) -> io::Result<Self> {
        let mut name = database.as_os_str().to_owned();
        name.push("-revocations");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(name)?;
        // A map of an empty file faults on the first read; zeros read as "never written".
        if file.metadata()?.len() < 8 {
            file.set_len(8)?;
        }
        let map = SharedWord::map(&file);
        if let Err(e) = &map {
            tracing::debug!(error = %e, "revocation signal not mapped; reading it with pread");
        }
        Ok(Self {
            file,
            map: map.ok(),
        })
    }

    /// The current value; 0 for a file that was never written.
    pub(crate) fn read(&self) -> io::Result<u64> {
        if let Some(map) = &self.map {
            return Ok(u64::from_le(map.load()));
        }
        let mut bytes = [0u8; 8];
        let n = self.file.read_at(&mut bytes, 0)?;
        Ok(if n == 8 { u64::from_le_bytes(bytes) } else { 0 })
    }

    /// Tell every reader that a revocation committed.
    pub(crate) fn bump(&self) -> io::Result<()> {
        self.file.write_all_at(&nonce().to_le_bytes(), 0)
    }
}

/// The first 8 bytes of a file, mapped `MAP_SHARED` read-only.
struct SharedWord {
    page: std::ptr::NonNull<AtomicU64>,
}

// SAFETY: the mapping is process-wide and only ever read atomically.
unsafe impl Send for SharedWord {}
unsafe impl Sync for SharedWord {}

impl SharedWord {
    fn map(file: &File) -> io::Result<Self> {
        use std::os::fd::AsRawFd;
        // SAFETY: a fresh read-only shared mapping of one page of an open file; the kernel picks
        // the address, and the result is checked before use.
        let addr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                8,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if addr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        std::ptr::NonNull::new(addr.cast())
            .map(|page| Self { page })
            .ok_or_else(|| io::Error::other("mmap returned null"))
    }

    fn load(&self) -> u64 {
        // SAFETY: the page is mapped until `drop`, page-aligned (so aligned for a u64), and the
        // file is at least 8 bytes long. A `pwrite` racing the load might be seen half done;
        // that value differs from the last one seen too, so it costs one extra head read.
        unsafe { self.page.as_ref() }.load(Ordering::Acquire)
    }
}

impl Drop for SharedWord {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `map`, once.
        unsafe { libc::munmap(self.page.as_ptr().cast(), 8) };
    }
}

/// Different from every earlier value in practice: the clock in nanoseconds, mixed with the
/// process id (two processes bumping in the same nanosecond), never 0.
fn nonce() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    (nanos ^ u64::from(std::process::id()).rotate_left(40)) | 1
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_bump_is_seen_through_another_handle() {
        let dir = std::env::temp_dir().join(format!("mg-signal-{}", nonce()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("mailgrant.db");
        let writer = RevocationSignal::open(&db).unwrap();
        let reader = RevocationSignal::open(&db).unwrap();
        assert_eq!(reader.read().unwrap(), 0);
        writer.bump().unwrap();
        let first = reader.read().unwrap();
        assert_ne!(first, 0);
        writer.bump().unwrap();
        assert_ne!(reader.read().unwrap(), first);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_note_is_taken_once() {
        assert!(!take_revocation_note());
        note_revocation();
        assert!(take_revocation_note());
        assert!(!take_revocation_note());
    }
}
