//! SQLite in WAL mode with `synchronous=FULL`: every commit is durable.
//!
//! All writes go through one writer thread that takes whatever writes are waiting (up to
//! [`MAX_BATCH`]) and commits them in one transaction: group commit. One failing write does not
//! undo the others (see [`run_batch`]), and no caller hears back before the shared commit is on
//! disk. Reads use a small pool of connections on blocking threads.

mod authz;
mod queries;
mod registration;
mod signal;
mod wal_vfs;

use crate::migrations::{Dialect, CREATE_TABLE, MIGRATIONS};
use crate::{StoreError, StoreResult};
use rusqlite::{Connection, OpenFlags};
use signal::RevocationSignal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

const MAX_BATCH: usize = 256;
/// How often the checkpointer runs while commits keep coming, and how far it backs off (doubling)
/// while none do: an idle server wakes it 25 times a second, not 100. No further, because the
/// first checkpoint after a quiet spell copies everything written since the last one, and one
/// large database flush holds up every commit behind it.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(10);
const CHECKPOINT_IDLE_MAX: Duration = Duration::from_millis(40);
/// WAL frames (4 KiB pages) after which the writer restarts the WAL from its beginning: 32 MiB,
/// half of `journal_size_limit`, so that once the WAL file has grown it is overwritten in place
/// (no growth and no truncation, which a flush would also have to journal).
const RESTART_WAL_AFTER_FRAMES: i64 = 8_192;
/// A commit slower than this is logged at debug level (the disk's own stalls show up here).
const SLOW_COMMIT: Duration = Duration::from_millis(5);
const MAX_IDLE_READERS: usize = 8;

type Job = Box<dyn PendingWrite>;

/// A write waiting for the writer thread: run (perhaps twice, see [`run_batch`]), then told
/// how the shared commit went.
trait PendingWrite: Send {
    /// Run the write; in its own savepoint when `isolated` and it has more than one statement.
    /// False when it failed.
    fn run(&mut self, conn: &Connection, isolated: bool) -> bool;
    /// Whether a failure may have left part of the write behind (more than one statement).
    fn partial_on_failure(&self) -> bool;
    fn finish(self: Box<Self>, commit: Result<(), String>);
}

/// A write for the writer thread, and where its answer will arrive.
fn pending<T, F>(write: F, one_statement: bool) -> (Job, oneshot::Receiver<StoreResult<T>>)
where
    T: Send + 'static,
    F: Fn(&Connection) -> StoreResult<T> + Send + 'static,
{
    let (reply, answer) = oneshot::channel();
    let job: Job = Box::new(Pending {
        write,
        one_statement,
        result: None,
        reply,
    });
    (job, answer)
}

struct Pending<T, F> {
    write: F,
    one_statement: bool,
    result: Option<StoreResult<T>>,
    reply: oneshot::Sender<StoreResult<T>>,
}

impl<T, F> PendingWrite for Pending<T, F>
where
    T: Send,
    F: Fn(&Connection) -> StoreResult<T> + Send,
{
    fn run(&mut self, conn: &Connection, isolated: bool) -> bool {
        let result = if isolated && !self.one_statement {
            in_savepoint(conn, &self.write)
        } else {
            (self.write)(conn)
        };
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn partial_on_failure(&self) -> bool {
        !self.one_statement
    }

    fn finish(self: Box<Self>, commit: Result<(), String>) {
        let result = self.result.unwrap_or_else(|| Err(writer_gone()));
        let _ = self
            .reply
            .send(commit.map_err(StoreError::Backend).and(result));
    }
}

pub struct SqliteStore {
    writer: mpsc::Sender<Job>,
    readers: Arc<ReaderPool>,
    /// A read connection kept for [`SqliteStore::revocations_head`], which runs inline, and the
    /// signal value and head it last read.
    head: Mutex<HeadReader>,
    signal: Arc<RevocationSignal>,
}

#[derive(Default)]
struct HeadReader {
    conn: Option<Connection>,
    last: Option<(u64, i64)>,
}

struct ReaderPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl ReaderPool {
    fn take(&self) -> StoreResult<Connection> {
        if let Some(conn) = self.idle.lock().ok().and_then(|mut idle| idle.pop()) {
            return Ok(conn);
        }
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(backend)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(backend)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        // No memory map for readers: a read transaction that starts after any commit drops the
        // whole map (and its page cache), so under writes every lookup paid an munmap and a
        // flush of every core's TLB (~5 % of a refresh). pread into the OS page cache is cheaper.
        conn.execute_batch("PRAGMA mmap_size = 0;")
            .map_err(backend)?;
        Ok(conn)
    }

    /// Run `f` on an idle read connection (opening one if none is idle), then put it back.
    fn with<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let conn = self.take()?;
        let result = f(&conn);
        self.give_back(conn);
        result
    }

    fn give_back(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < MAX_IDLE_READERS {
                idle.push(conn);
            }
        }
    }
}

/// `execute` and `query_row` through the connection's statement cache: SQLite parses each
/// statement once per connection instead of on every call (parsing was ~6 % of a refresh).
pub(crate) trait CachedStatements {
    fn exec<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
    fn row<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>;
}

impl CachedStatements for Connection {
    fn exec<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    fn row<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    {
        self.prepare_cached(sql)?.query_row(params, f)
    }
}

/// Statements kept parsed per connection; the store has about 80 distinct ones.
const STATEMENT_CACHE: usize = 128;

pub(crate) fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Map a unique-constraint failure to a conflict about `what`.
pub(crate) fn conflict_as(what: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |e| match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) if e.to_string().contains("UNIQUE") => {
            StoreError::Conflict(what)
        }
        Some(rusqlite::ErrorCode::ConstraintViolation) if e.to_string().contains("PRIMARY KEY") => {
            StoreError::Conflict(what)
        }
        _ => backend(e),
    }
}

/// How long a connection waits for another process's lock (the CLI writing while a server runs).
const WRITER_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

fn configure(conn: &Connection) -> StoreResult<()> {
    conn.busy_timeout(WRITER_BUSY_TIMEOUT).map_err(backend)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // The writer reads the database through a memory map instead of read() calls, and keeps a
    // small page cache (1 MiB): durability is unchanged (WAL, FULL). Small on purpose: when an
    // index page splits, SQLite's balance_nonroot() swaps page numbers through the never-used
    // "pending byte" page (number 262,145), so at commit the cache's largest key is far past the
    // end of the database and pcache1Truncate() walks every bucket of its hash table. With a
    // 16 MiB cache that walk was 22 % of the writer's time (perf, then gdb on pcache1Truncate);
    // with 256 buckets it is ~1 %, and the pages a commit touches (the right edges of the
    // B-trees) stay cached.
    // A write that runs in its own savepoint (a batch's second pass, see `run_batch`) keeps the
    // old content of each page it touches in a statement journal: in memory, not in a temp file
    // (which cost two pwrite calls per page, as many as the WAL itself).
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA cache_size = -1024;
         PRAGMA temp_store = MEMORY;
         PRAGMA mmap_size = 268435456;",
    )
    .map_err(backend)
}

/// The writer's connection: through [`wal_vfs`], which hands each commit's WAL frames to the
/// kernel in one write; through the default VFS if that cannot be registered.
fn open_writer(path: &Path) -> StoreResult<Connection> {
    match wal_vfs::register() {
        Ok(()) => Connection::open_with_flags_and_vfs(path, OpenFlags::default(), wal_vfs::NAME)
            .map_err(backend),
        Err(rc) => {
            tracing::warn!(
                rc,
                "sqlite did not register the WAL-gathering VFS; using the default"
            );
            Connection::open(path).map_err(backend)
        }
    }
}

fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(backend)?;
    tx.execute_batch(CREATE_TABLE).map_err(backend)?;
    for m in MIGRATIONS {
        let done: i64 = tx
            .query_row(
                "SELECT COUNT(*) FROM schema_migrations WHERE version = ?1",
                [m.version],
                |r| r.get(0),
            )
            .map_err(backend)?;
        if done == 0 {
            tx.execute_batch(&m.sql_for(Dialect::Sqlite))
                .map_err(backend)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, strftime('%s','now'))",
                rusqlite::params![m.version, m.name],
            )
            .map_err(backend)?;
        }
    }
    tx.commit().map_err(backend)
}

impl SqliteStore {
    /// Open (creating if needed) the database at `path` and bring its schema up to date.
    pub fn open(path: &str) -> StoreResult<Self> {
        let path = PathBuf::from(path);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Backend(e.to_string()))?;
        }
        let mut conn = open_writer(&path)?;
        configure(&conn)?;
        migrate(&mut conn)?;
        // Checkpoints run on their own thread (below), not inside the writer's commits; the
        // writer only restarts the WAL when asked (see `checkpoint_loop`), and keeps its file at
        // 64 MiB at most when it does.
        conn.execute_batch("PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 67108864;")
            .map_err(backend)?;
        let checkpointer = Connection::open(&path).map_err(backend)?;
        configure(&checkpointer)?;
        // Both connections that copy pages into the database file (passive checkpoints, and the
        // writer's RESTART) grow it a chunk at a time.
        grow_in_chunks(&conn);
        grow_in_chunks(&checkpointer);
        let database_file =
            std::fs::File::open(&path).map_err(|e| StoreError::Backend(e.to_string()))?;
        let signal = Arc::new(
            RevocationSignal::open(&path).map_err(|e| StoreError::Backend(e.to_string()))?,
        );
        let writer_signal = signal.clone();
        let restart_wal = Arc::new(AtomicBool::new(false));
        let writer_restart = restart_wal.clone();
        let (tx, rx) = mpsc::channel(4096);
        let alive = Arc::new(());
        let weak = Arc::downgrade(&alive);
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                writer_loop(conn, rx, &writer_signal, &writer_restart);
                drop(alive);
            })
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpoint_loop(checkpointer, &database_file, weak, &restart_wal))
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(Self {
            writer: tx,
            readers: Arc::new(ReaderPool {
                path,
                idle: Mutex::new(Vec::new()),
            }),
            head: Mutex::new(HeadReader::default()),
            signal,
        })
    }

    /// The newest revocation `seq`, as of a moment no earlier than the call: every revocation
    /// completed before it, by this process or any other (the CLI), is counted. Read inline, no
    /// thread hop: one `pread` of the revocation signal, and a B-tree probe of the log only when
    /// the signal moved.
    pub fn revocations_head(&self) -> StoreResult<i64> {
        let mut reader = self
            .head
            .lock()
            .map_err(|_| StoreError::Backend("head connection poisoned".into()))?;
        // Read before the log, so that a revocation landing in between is seen now or next time.
        let signal = self.signal.read().ok();
        if let (Some(now), Some((seen, head))) = (signal, reader.last) {
            if now == seen {
                return Ok(head);
            }
        }
        if reader.conn.is_none() {
            reader.conn = Some(self.readers.take()?);
        }
        let conn = reader
            .conn
            .as_ref()
            .ok_or_else(|| StoreError::Backend("no head connection".into()))?;
        let head = conn
            .row("SELECT COALESCE(MAX(seq), 0) FROM revocations", [], |r| {
                r.get(0)
            })
            .map_err(backend)?;
        reader.last = signal.map(|s| (s, head));
        Ok(head)
    }

    pub fn path(&self) -> &Path {
        &self.readers.path
    }

    /// Run `f` in the writer's next transaction; returns once that transaction is committed.
    /// `f` may run twice (see [`run_batch`]): it must depend only on what it captured and on
    /// the database.
    pub(crate) async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.submit(f, false).await
    }

    /// [`SqliteStore::write`] for `f` that runs exactly one statement: SQLite undoes a failed
    /// statement by itself, so it never needs a savepoint.
    pub(crate) async fn write_one_statement<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.submit(f, true).await
    }

    async fn submit<T, F>(&self, write: F, one_statement: bool) -> StoreResult<T>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (job, answer) = pending(write, one_statement);
        self.writer.send(job).await.map_err(|_| writer_gone())?;
        answer.await.map_err(|_| writer_gone())?
    }

    /// A lookup by key, run on the calling thread: it reads a handful of B-tree pages, nearly
    /// always from the OS page cache, in a few microseconds, while the hop to a blocking-pool
    /// thread and back (two wake-ups, two context switches) cost more than the lookup itself
    /// (`finish_task_switch` led the refresh-token profile). Scans and lists still go through
    /// [`SqliteStore::read`]. In WAL mode a reader does not wait for the writer's transactions.
    pub(crate) async fn lookup<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(&Connection) -> StoreResult<T>,
    {
        self.readers.with(f)
    }

    pub(crate) async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let pool = self.readers.clone();
        tokio::task::spawn_blocking(move || pool.with(f))
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))?
    }
}

fn writer_gone() -> StoreError {
    StoreError::Backend("the write was not committed".into())
}

/// Run one cached statement that takes no parameters (savepoint bookkeeping: parsed once).
fn run_cached(conn: &Connection, sql: &str) -> StoreResult<()> {
    conn.prepare_cached(sql)
        .and_then(|mut st| st.execute([]))
        .map(drop)
        .map_err(backend)
}

fn in_savepoint<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> StoreResult<T>,
) -> StoreResult<T> {
    run_cached(conn, "SAVEPOINT op")?;
    let result = f(conn);
    if result.is_err() {
        run_cached(conn, "ROLLBACK TO op")?;
    }
    run_cached(conn, "RELEASE op")?;
    result
}

/// Copy the WAL back into the database every 10 ms while the writer lives and commits. PASSIVE: it
/// never blocks the writer or readers. Often and small, because each checkpoint ends with an fsync
/// of the database file, and the WAL flushes of the commits made meanwhile wait behind the pages
/// it wrote: every 200 ms put token p99 at 6.5–7.9 ms, every 50 ms at 3.6 ms, at the same
/// throughput. From 50 to 10 ms (2026-12-02, refresh rotations, eleven alternating 8 s runs each):
/// commits over 2 ms 82 → 33 in a run, refresh p99 median 7.2 → 5.8 ms, the same req/s.
///
/// Under a steady stream of commits that is not enough to keep the WAL small: SQLite starts the WAL
/// over only when a write begins while every frame is already copied, and with a commit every half
/// millisecond the writer has always appended more by the time a checkpoint finishes. The WAL then
/// grew without end (1.4 M frames, 6 GB, in a 10-minute bench) and commits stalled for hundreds of
/// milliseconds. So once the WAL passes [`RESTART_WAL_AFTER_FRAMES`], this thread asks the writer,
/// right after a passive checkpoint, to run a RESTART checkpoint between two batches: it copies only
/// what was appended during the passive one, and the next commit writes from the WAL's beginning.
///
/// Under load a passive checkpoint never reaches the WAL's end, and SQLite then leaves the copied
/// pages unsynced in the OS page cache; the writer's RESTART had to flush all of them (4–5 ms, with
/// every token waiting). So this thread flushes the database file itself after each checkpoint,
/// off the writer's path: nothing waits for it, and the RESTART's own flush finds little to do.
fn checkpoint_loop(
    conn: Connection,
    database_file: &std::fs::File,
    writer_alive: std::sync::Weak<()>,
    restart_wal: &AtomicBool,
) {
    yield_the_cpu_to_requests();
    let mut last = None;
    let mut pause = CHECKPOINT_EVERY;
    while writer_alive.strong_count() > 0 {
        std::thread::sleep(pause);
        let Some((wal_frames, copied)) = passive_checkpoint(&conn) else {
            continue;
        };
        // Only when this checkpoint copied pages: an idle server does not flush.
        let moved = last != Some((wal_frames, copied));
        if copied > 0 && moved {
            if let Err(e) = database_file.sync_data() {
                tracing::warn!(error = %e, "could not flush the database file after a checkpoint");
            }
        }
        pause = next_checkpoint_pause(pause, moved);
        last = Some((wal_frames, copied));
        if wal_frames > RESTART_WAL_AFTER_FRAMES {
            restart_wal.store(true, Ordering::Release);
        }
    }
}

/// The checkpointer runs at nice 10, below the request thread and the writer: its copies take
/// 1–8 ms of CPU at a time, and on a machine whose cores the server shares with its clients they
/// otherwise delay whichever of the two they displaced. It still gets the CPU they leave idle, and
/// on a saturated core about a tenth of the time of each thread at nice 0 (the scheduler's
/// weights); a checkpointer that falls behind lets the WAL grow, as any checkpoint that cannot keep
/// up would. (RocksDB lowers its compaction threads the same way.) Code exchanges, 3 alternating
/// rounds: 16.6k/17.6k/18.1k → 17.9k/19.3k/19.4k/s, p99 4.37/4.14/3.81 → 3.86/3.58/3.50 ms.
fn yield_the_cpu_to_requests() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain syscalls; on Linux `setpriority(PRIO_PROCESS, tid)` sets the nice value
        // of that one thread.
        let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 10) };
        if rc != 0 {
            let error = std::io::Error::last_os_error();
            tracing::debug!(%error, "could not lower the checkpointer's priority");
        }
    }
}

/// The checkpointer's next sleep: the shortest while the WAL moved since its last look, twice as
/// long (up to [`CHECKPOINT_IDLE_MAX`]) while it did not.
fn next_checkpoint_pause(pause: Duration, wal_moved: bool) -> Duration {
    if wal_moved {
        CHECKPOINT_EVERY
    } else {
        (pause * 2).min(CHECKPOINT_IDLE_MAX)
    }
}

/// Size of the steps in which the database file grows. A checkpoint that writes past the file's
/// end extends it, and a flush after that must also write the file's new size and blocks to the
/// filesystem journal: slower, and it holds up the WAL flushes of every commit queued behind it.
/// In 16 MiB steps the copies land in blocks already allocated to the file. SQLite reserves each
/// step with `posix_fallocate` (`HAVE_POSIX_FALLOCATE` in `.cargo/config.toml`). Without it, SQLite
/// writes one byte into every 4 KiB block of the step, so the next checkpoint's flush writes 16 MiB
/// of zeros: under load that was a 22-38 ms checkpoint once a second, with every commit behind it.
const GROW_DATABASE_BY: i32 = 16 << 20;

fn grow_in_chunks(conn: &Connection) {
    let mut bytes: std::os::raw::c_int = GROW_DATABASE_BY;
    // SAFETY: the handle is this live connection's; SQLITE_FCNTL_CHUNK_SIZE reads one c_int
    // through the pointer, which outlives the call.
    let rc = unsafe {
        rusqlite::ffi::sqlite3_file_control(
            conn.handle(),
            c"main".as_ptr(),
            rusqlite::ffi::SQLITE_FCNTL_CHUNK_SIZE,
            (&mut bytes as *mut std::os::raw::c_int).cast(),
        )
    };
    if rc != rusqlite::ffi::SQLITE_OK {
        tracing::warn!(rc, "sqlite did not take a chunk size for the database file");
    }
}

/// A RESTART checkpoint that gives up at once, instead of sleeping in the busy handler (steps of 1,
/// 2, 5, 10 … ms with every waiting commit held up), when a reader or the passive checkpointer is in
/// its way: the writer tries again after its next batch. True when the WAL will start over at the
/// next commit. With the checkpointer flushing what it copies, a RESTART takes 0.2–0.4 ms (it was
/// 3–8 ms, flushing 50 ms of copied pages).
fn restart_without_waiting(conn: &Connection) -> bool {
    if conn.busy_timeout(Duration::ZERO).is_err() {
        return false;
    }
    let started = std::time::Instant::now();
    let done = conn
        .query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0))
        .is_ok_and(|busy| busy == 0);
    tracing::debug!(
        done,
        us = started.elapsed().as_micros() as u64,
        "sqlite wal restart"
    );
    let _ = conn.busy_timeout(WRITER_BUSY_TIMEOUT);
    done
}

/// A passive checkpoint, logged; the WAL's size and how much of it is copied back (in frames),
/// `None` when it failed.
fn passive_checkpoint(conn: &Connection) -> Option<(i64, i64)> {
    let started = std::time::Instant::now();
    let result = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
    });
    match result {
        Ok((wal_frames, copied)) => {
            let ms = started.elapsed().as_millis() as u64;
            tracing::debug!(wal_frames, copied, ms, "sqlite checkpoint");
            Some((wal_frames, copied))
        }
        Err(e) => {
            tracing::warn!(error = %e, "sqlite checkpoint failed");
            None
        }
    }
}

/// Begin the batch's transaction and run its writes. First all of them back to back, with no
/// savepoints: a savepoint copies every page a write touches into a statement journal and costs
/// two statements more (together ~12 % of the writer's time in a refresh run). A failed single
/// statement undoes itself, so that pass stands unless a write of several statements failed,
/// which may have left part of itself behind: then the whole transaction is rolled back and the
/// batch runs again with each such write in its own savepoint, so that a failing write takes
/// nothing with it and takes nobody else's write down.
///
/// An error that makes SQLite roll the whole transaction back (a full disk, an I/O error) fails the
/// batch at once: the writes after it would otherwise run outside any transaction.
fn run_batch(conn: &Connection, batch: &mut [Job]) -> Result<(), String> {
    let run_all = |isolated: bool, batch: &mut [Job]| {
        conn.execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| e.to_string())?;
        let mut partial = false;
        for job in batch.iter_mut() {
            if !job.run(conn, isolated) {
                partial |= job.partial_on_failure();
                if conn.is_autocommit() {
                    return Err("the transaction was rolled back by an error".to_string());
                }
            }
        }
        Ok(partial)
    };
    if run_all(false, batch)? {
        conn.execute_batch("ROLLBACK").map_err(|e| e.to_string())?;
        run_all(true, batch)?;
    }
    Ok(())
}

fn writer_loop(
    conn: Connection,
    mut jobs: mpsc::Receiver<Job>,
    signal: &RevocationSignal,
    restart_wal: &AtomicBool,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = jobs.blocking_recv() {
        if restart_wal.load(Ordering::Acquire) && restart_without_waiting(&conn) {
            restart_wal.store(false, Ordering::Release);
        }
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let executing = std::time::Instant::now();
        if let Err(e) = run_batch(&conn, &mut batch) {
            tracing::error!(error = %e, "sqlite writer could not run a batch");
            let _ = conn.execute_batch("ROLLBACK");
            // Dropping the jobs tells every waiter that nothing was committed.
            batch.clear();
            continue;
        }
        let committing = std::time::Instant::now();
        let outcome = conn.execute_batch("COMMIT").map_err(|e| e.to_string());
        let took = committing.elapsed();
        tracing::trace!(
            writes = batch.len(),
            execute_us = (committing - executing).as_micros() as u64,
            commit_us = took.as_micros() as u64,
            "sqlite commit"
        );
        if took > SLOW_COMMIT {
            let ms = took.as_millis() as u64;
            tracing::debug!(ms, writes = batch.len(), "slow sqlite commit");
        }
        if outcome.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        // After the commit, before anyone hears back: a revocation is signalled once visible.
        if signal::take_revocation_note() && outcome.is_ok() {
            if let Err(e) = signal.bump() {
                tracing::warn!(error = %e, "could not signal a revocation to other processes");
            }
        }
        for job in batch.drain(..) {
            job.finish(outcome.clone());
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod writer_tests {
    use super::*;

    fn insert(c: &Connection, k: i64) -> StoreResult<()> {
        c.exec("INSERT INTO t (k) VALUES (?1)", [k])
            .map(drop)
            .map_err(backend)
    }

    #[test]
    fn a_failing_write_of_several_statements_takes_nothing_with_it_and_nobody_down() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (k INTEGER PRIMARY KEY)")
            .unwrap();
        insert(&conn, 0).unwrap();
        let (good, good_answer) = pending(|c| insert(c, 1).and_then(|()| insert(c, 2)), false);
        // Its first insert succeeds, its second collides with row 0: the first must go too.
        let (bad, bad_answer) = pending(|c| insert(c, 3).and_then(|()| insert(c, 0)), false);
        let (bad_single, bad_single_answer) = pending(|c| insert(c, 0), true);
        let (single, single_answer) = pending(|c| insert(c, 4), true);
        let mut batch = vec![good, bad, bad_single, single];
        run_batch(&conn, &mut batch).unwrap();
        conn.execute_batch("COMMIT").unwrap();
        for job in batch {
            job.finish(Ok(()));
        }
        assert!(good_answer.blocking_recv().unwrap().is_ok());
        assert!(bad_answer.blocking_recv().unwrap().is_err());
        assert!(bad_single_answer.blocking_recv().unwrap().is_err());
        assert!(single_answer.blocking_recv().unwrap().is_ok());
        let rows: Vec<i64> = conn
            .prepare("SELECT k FROM t ORDER BY k")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows, vec![0, 1, 2, 4]);
    }

    #[test]
    fn a_write_whose_error_ends_the_transaction_fails_the_batch_before_the_next_write_runs() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (k INTEGER PRIMARY KEY)")
            .unwrap();
        let (first, _first_answer) = pending(|c| insert(c, 1), true);
        // As SQLite does on a full disk: the whole transaction is rolled back under the write.
        let (ending, _ending_answer) = pending(
            |c| {
                c.execute_batch("ROLLBACK").map_err(backend)?;
                Err::<(), _>(StoreError::Backend("disk full".into()))
            },
            true,
        );
        let (after, _after_answer) = pending(|c| insert(c, 2), true);
        let mut batch = vec![first, ending, after];
        assert!(run_batch(&conn, &mut batch).is_err());
        assert!(conn.is_autocommit());
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
    }

    #[test]
    fn the_checkpointer_backs_off_while_idle_and_returns_at_once_to_its_pace() {
        let mut pause = CHECKPOINT_EVERY;
        for _ in 0..10 {
            pause = next_checkpoint_pause(pause, false);
        }
        assert_eq!(pause, CHECKPOINT_IDLE_MAX);
        assert_eq!(next_checkpoint_pause(pause, true), CHECKPOINT_EVERY);
        assert_eq!(
            next_checkpoint_pause(CHECKPOINT_EVERY, false),
            CHECKPOINT_EVERY * 2
        );
    }

    #[test]
    fn a_batch_whose_only_failures_are_single_statements_runs_once() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (k INTEGER PRIMARY KEY); INSERT INTO t VALUES (0);")
            .unwrap();
        let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = runs.clone();
        let (good, _good_answer) = pending(
            move |c| {
                counted.fetch_add(1, Ordering::SeqCst);
                insert(c, 1).and_then(|()| insert(c, 2))
            },
            false,
        );
        let (bad_single, _bad_answer) = pending(|c| insert(c, 0), true);
        let mut batch = vec![good, bad_single];
        run_batch(&conn, &mut batch).unwrap();
        conn.execute_batch("COMMIT").unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }
}
