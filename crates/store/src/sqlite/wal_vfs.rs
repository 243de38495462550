//! A VFS over SQLite's default one that hands each commit's WAL writes to the kernel in one call.
//!
//! SQLite writes a WAL frame as two `pwrite` calls, a 24-byte header and then the page, and frames
//! are 4,120 bytes long, so each call goes through the filesystem's write path for one or two
//! 4 KiB blocks. A refresh-token commit carries ~40 frames: 80 calls, 27 % of the writer thread's
//! time (`perf`, 2026-12-01). Here the writer's WAL file keeps consecutive writes in memory and
//! passes them on in one `pwrite` (per 124 KiB) before anything that could observe them: a sync (every commit,
//! `synchronous=FULL`), a read, a size query, a truncation, a file control, and close. Nothing else
//! sees the WAL through this file: readers and the checkpointer open it through the default VFS
//! and read only frames that a commit has made visible, which it does (the wal-index header) after
//! its sync. A crash loses only frames that no commit had synced, as without the buffer.
//!
//! Only the WAL is wrapped; the database file and any temporary file are the default VFS's own.

use rusqlite::ffi;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::OnceLock;

/// The name connections open with (`Connection::open_with_flags_and_vfs`).
pub const NAME: &CStr = c"mailgrant-wal";

/// The most that one write hands to the default VFS: its `unixWrite` passes at most 128 KiB - 1
/// bytes to each `pwrite` (`nBuf &= 0x1ffff`), so a larger write loses its multiples of 128 KiB.
/// Pieces of 31 pages keep under it.
const WRITE_PIECE: usize = 31 * 4096;

/// A buffer that grows past this is written out at once (a commit of thousands of pages).
const MAX_GATHERED: usize = 8 << 20;

/// What the wrapped WAL file keeps beside the default VFS's file object.
struct Gathered {
    real: &'static ffi::sqlite3_io_methods,
    start: i64,
    bytes: Vec<u8>,
}

/// Our file object: the default VFS's own, unchanged, at offset 0 (so its methods can be called
/// with our pointer), then a pointer to [`Gathered`] (null for files that are not wrapped).
struct Layout {
    real_size: usize,
}

impl Layout {
    fn slot(&self, file: *mut ffi::sqlite3_file) -> *mut *mut Gathered {
        // SAFETY (of the callers): `file` points to `Layout::total()` bytes that SQLite allocated
        // for a file of this VFS, so the slot lies inside it and is pointer-aligned.
        unsafe { file.cast::<u8>().add(self.real_size).cast() }
    }

    fn total(&self) -> usize {
        self.real_size + std::mem::size_of::<*mut Gathered>()
    }
}

struct Registered {
    default: &'static ffi::sqlite3_vfs,
    layout: Layout,
    /// The wrapped methods, built from the first WAL file's real ones.
    methods: OnceLock<(usize, &'static ffi::sqlite3_io_methods)>,
}

// SAFETY: the default VFS and the method tables are immutable, process-wide SQLite objects.
unsafe impl Send for Registered {}
unsafe impl Sync for Registered {}

static REGISTERED: OnceLock<Result<Registered, c_int>> = OnceLock::new();

/// Register the VFS with SQLite (once per process); `Err` carries SQLite's result code.
pub fn register() -> Result<(), c_int> {
    REGISTERED
        .get_or_init(|| {
            // SAFETY: sqlite3_vfs_find initialises SQLite and returns the default VFS, which lives
            // for the whole process; the copy we register is leaked, so it does too.
            unsafe {
                let default = ffi::sqlite3_vfs_find(std::ptr::null());
                let Some(default) = default.as_ref() else {
                    return Err(ffi::SQLITE_ERROR);
                };
                let layout = Layout {
                    real_size: (default.szOsFile as usize).next_multiple_of(8),
                };
                let mut ours = *default;
                ours.zName = NAME.as_ptr();
                ours.pNext = std::ptr::null_mut();
                ours.szOsFile = layout.total() as c_int;
                ours.xOpen = Some(open);
                let rc = ffi::sqlite3_vfs_register(Box::leak(Box::new(ours)), 0);
                if rc != ffi::SQLITE_OK {
                    return Err(rc);
                }
                Ok(Registered {
                    default,
                    layout,
                    methods: OnceLock::new(),
                })
            }
        })
        .as_ref()
        .map(|_| ())
        .map_err(|rc| *rc)
}

fn registered() -> &'static Registered {
    match REGISTERED.get() {
        Some(Ok(r)) => r,
        // SQLite calls `open` only for a VFS that `register` registered.
        _ => unreachable!("mailgrant-wal VFS used before it was registered"),
    }
}

unsafe extern "C" fn open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let reg = registered();
    let slot = reg.layout.slot(file);
    // SAFETY: SQLite gave us `Layout::total()` bytes at `file`; the default VFS fills in the first
    // `szOsFile` of them, exactly as it would for its own connections.
    unsafe {
        slot.write(std::ptr::null_mut());
        let default = reg.default as *const ffi::sqlite3_vfs as *mut ffi::sqlite3_vfs;
        let Some(default_open) = reg.default.xOpen else {
            return ffi::SQLITE_ERROR;
        };
        let rc = default_open(default, name, file, flags, out_flags);
        if rc != ffi::SQLITE_OK || flags & ffi::SQLITE_OPEN_WAL == 0 {
            return rc;
        }
        let Some(real) = (*file).pMethods.as_ref() else {
            return rc;
        };
        let (real_at, wrapped) = *reg
            .methods
            .get_or_init(|| (real as *const _ as usize, Box::leak(Box::new(wrap(real)))));
        // A file with other methods than the first (never seen on one platform) stays unwrapped.
        if real_at != real as *const _ as usize {
            return rc;
        }
        slot.write(Box::into_raw(Box::new(Gathered {
            real,
            start: 0,
            bytes: Vec::new(),
        })));
        (*file).pMethods = wrapped;
        rc
    }
}

/// The real methods, with those that must see (or flush) gathered writes replaced.
fn wrap(real: &ffi::sqlite3_io_methods) -> ffi::sqlite3_io_methods {
    ffi::sqlite3_io_methods {
        xClose: Some(close),
        xRead: Some(read),
        xWrite: Some(write),
        xTruncate: Some(truncate),
        xSync: Some(sync),
        xFileSize: Some(file_size),
        xFileControl: Some(file_control),
        ..*real
    }
}

/// The gathered state of a wrapped file.
///
/// # Safety
/// `file` is a file that [`open`] wrapped and that is not closed.
unsafe fn gathered<'a>(file: *mut ffi::sqlite3_file) -> &'a mut Gathered {
    // SAFETY: per the contract, the slot holds the Box that `open` stored; SQLite calls one
    // file's methods from one thread at a time.
    unsafe { &mut **registered().layout.slot(file) }
}

/// Hand what is gathered to the real file, in one write.
///
/// # Safety
/// As for [`gathered`].
unsafe fn flush(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: as for `gathered`; the real xWrite gets the real file (at the same address).
    unsafe {
        let g = gathered(file);
        if g.bytes.is_empty() {
            return ffi::SQLITE_OK;
        }
        let Some(real_write) = g.real.xWrite else {
            return ffi::SQLITE_IOERR_WRITE;
        };
        let mut rc = ffi::SQLITE_OK;
        let mut offset = g.start;
        for piece in g.bytes.chunks(WRITE_PIECE) {
            rc = real_write(file, piece.as_ptr().cast(), piece.len() as c_int, offset);
            if rc != ffi::SQLITE_OK {
                break;
            }
            offset += piece.len() as i64;
        }
        g.bytes.clear();
        rc
    }
}

unsafe extern "C" fn write(
    file: *mut ffi::sqlite3_file,
    data: *const c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    // SAFETY: SQLite calls this only for files `open` wrapped, with `amount` readable bytes.
    unsafe {
        let g = gathered(file);
        if !g.bytes.is_empty() && offset != g.start + g.bytes.len() as i64 {
            let rc = flush(file);
            if rc != ffi::SQLITE_OK {
                return rc;
            }
        }
        let g = gathered(file);
        if g.bytes.is_empty() {
            g.start = offset;
        }
        let amount = usize::try_from(amount).unwrap_or(0);
        g.bytes
            .extend_from_slice(std::slice::from_raw_parts(data.cast::<u8>(), amount));
        if g.bytes.len() >= MAX_GATHERED {
            return flush(file);
        }
        ffi::SQLITE_OK
    }
}

/// A method that first flushes, then runs the real one.
macro_rules! flush_then {
    ($name:ident, $method:ident, ($($arg:ident: $ty:ty),*)) => {
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file, $($arg: $ty),*) -> c_int {
            // SAFETY: SQLite calls this only for files `open` wrapped and not yet closed.
            unsafe {
                let rc = flush(file);
                if rc != ffi::SQLITE_OK {
                    return rc;
                }
                match gathered(file).real.$method {
                    Some(real) => real(file, $($arg),*),
                    None => ffi::SQLITE_IOERR,
                }
            }
        }
    };
}

flush_then!(read, xRead, (data: *mut c_void, amount: c_int, offset: i64));
flush_then!(truncate, xTruncate, (size: i64));
flush_then!(sync, xSync, (flags: c_int));
flush_then!(file_size, xFileSize, (size: *mut i64));
flush_then!(file_control, xFileControl, (op: c_int, arg: *mut c_void));

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite closes a file once; after the real close nothing reads the slot again.
    unsafe {
        let flushed = flush(file);
        let slot = registered().layout.slot(file);
        let g = Box::from_raw(slot.read());
        slot.write(std::ptr::null_mut());
        let closed = match g.real.xClose {
            Some(real) => real(file),
            None => ffi::SQLITE_OK,
        };
        if flushed != ffi::SQLITE_OK {
            flushed
        } else {
            closed
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rusqlite::{Connection, OpenFlags};

    /// A new database in a temporary folder, its writer opened through this VFS.
    fn open_wrapped() -> (tempfile::TempDir, std::path::PathBuf, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        register().unwrap();
        let conn = Connection::open_with_flags_and_vfs(&path, OpenFlags::default(), NAME).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA wal_autocheckpoint = 0;",
        )
        .unwrap();
        (dir, path, conn)
    }

    /// The rows of `t` as a connection through the default VFS finds them, after checking the
    /// database's integrity.
    fn rows_after_reopening(path: &std::path::Path) -> i64 {
        let again = Connection::open(path).unwrap();
        assert_eq!(
            again
                .query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))
                .unwrap(),
            "ok"
        );
        again
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn commits_through_the_buffer_are_seen_by_other_connections_and_survive_reopening() {
        let (_dir, path, writer) = open_wrapped();
        writer
            .execute_batch("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB NOT NULL)")
            .unwrap();
        // A plain connection (the default VFS), as the server's readers are.
        let reader = Connection::open(&path).unwrap();
        for round in 0..50i64 {
            let tx = writer.unchecked_transaction().unwrap();
            for i in 0..20i64 {
                tx.execute(
                    "INSERT INTO t (k, v) VALUES (?1, randomblob(300))",
                    [round * 20 + i],
                )
                .unwrap();
            }
            tx.commit().unwrap();
            let n: i64 = reader
                .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
                .unwrap();
            assert_eq!(n, (round + 1) * 20);
        }
        drop(reader);
        drop(writer);
        assert_eq!(rows_after_reopening(&path), 1000);
    }

    #[test]
    fn a_transaction_that_spills_its_cache_to_the_wal_reads_its_own_pages_back() {
        let (_dir, path, writer) = open_wrapped();
        // A tiny cache: the transaction spills dirty pages into the WAL and reads them back.
        writer
            .execute_batch(
                "PRAGMA cache_size = 10; CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB NOT NULL);",
            )
            .unwrap();
        let tx = writer.unchecked_transaction().unwrap();
        for i in 0..5_000i64 {
            tx.execute("INSERT INTO t (k, v) VALUES (?1, zeroblob(500))", [i])
                .unwrap();
        }
        let n: i64 = tx
            .query_row("SELECT COUNT(*) FROM t WHERE length(v) = 500", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(n, 5_000);
        tx.commit().unwrap();
        writer
            .execute_batch("PRAGMA wal_checkpoint(RESTART);")
            .unwrap();
        drop(writer);
        assert_eq!(rows_after_reopening(&path), 5_000);
    }
}
