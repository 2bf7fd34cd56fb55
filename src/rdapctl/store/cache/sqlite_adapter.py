"""The only code that reads or writes diskcache's tables with plain SQLite.

Why: a lookup answered from the cache, and a warm batch worker, must not pay for
importing and opening diskcache; a batch read must write nothing (its LRU access time
and hit/miss counts are written later, in one transaction per chunk); and a scan for
``doctor``, ``stats`` or ``purge`` must change neither LRU order nor hit counts.

It relies on the table layout of diskcache 5.6 (``Cache``: rowid, key, raw,
store_time, expire_time, access_time, access_count, tag, size, mode, filename, value;
``Settings``: key, value with the ``statistics``, ``hits`` and ``misses`` keys),
pinned by tests/test_cache_sqlite_adapter.py. Values are taken only as the bytes
rdapctl stores (inline, diskcache's raw mode), never unpickled, and no file a row
names is ever opened.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from rdapctl.store.cache.codec import FOREIGN

# diskcache's inline value mode (diskcache.core.MODE_RAW): the only one rdapctl writes.
MODE_RAW = 1
# Batch reads refresh an entry's LRU access time only when it is at least this old.
LRU_GRANULARITY_S = 60.0
# Batch reads of a thread share a read transaction for at most this many reads or
# seconds: a SELECT in its own transaction takes and drops the WAL read lock and
# checks the WAL header every time. Entries written by others meanwhile are seen at
# the next snapshot; a miss until then is fetched.
SNAPSHOT_READS = 64
SNAPSHOT_S = 0.02
_READER_MMAP_BYTES = 2**26  # as diskcache's own connections
# The live entry for a key, as diskcache's own get finds it (wall-clock expiry).
_SELECT_FRESH = (
    "SELECT rowid, mode, filename, value, access_time FROM Cache"
    " WHERE key = ? AND raw = 1 AND (expire_time IS NULL OR expire_time > ?)"
)
# Rows rdapctl did not write (the parameter: the rejected counter's key). IS, not =:
# a NULL mode, raw or key must not make the condition NULL (row kept).
_DELETE_FOREIGN = (
    "DELETE FROM Cache WHERE NOT (mode IS 1 AND raw IS 1 AND filename IS NULL AND ("
    "(typeof(key) = 'blob' AND typeof(value) = 'blob')"
    " OR (key IS ? AND typeof(value) = 'integer')))"
)
# SQLite primary result codes that mean the file itself is damaged (not a full disk).
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26


def connect(db: Path, mode: str = "rw", **options: Any) -> sqlite3.Connection:
    """A connection to ``db`` that never creates it (``mode``: "rw" or "ro"): SQLite
    would make a missing file with the umask's permissions instead of 0600."""
    con: sqlite3.Connection = sqlite3.connect(
        f"{db.absolute().as_uri()}?mode={mode}", uri=True, **options
    )
    return con


def looks_like_sqlite(db: Path) -> bool:
    """Whether ``db`` starts with the SQLite header (cheap; no database opened)."""
    try:
        with db.open("rb") as fh:
            return fh.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def is_corruption(exc: BaseException) -> bool:
    """Whether a store error means the database file is damaged. A full or read-only
    disk, a lock or an I/O error is not: the store is kept as it is."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
        text = str(exc)
        return "malformed" in text or "not a database" in text
    return False


def stored_bytes(mode: object, filename: object, value: object) -> bytes:
    """A row's value as rdapctl stores it: bytes in the row itself. Any other row (a
    value file, another mode or type) is ``FOREIGN``: its filename is never opened,
    and diskcache's reading of other modes would unpickle what a tampered row holds."""
    if mode == MODE_RAW and filename is None and type(value) is bytes:
        return value
    return FOREIGN


def write_bookkeeping(
    con: sqlite3.Connection, touched: Mapping[int, float], hits: int, misses: int
) -> None:
    """The writes of diskcache's ``get``, for reads made without it, in one transaction:
    LRU access times (rowid -> time), and hit and miss counts if the store keeps them."""
    con.execute("BEGIN IMMEDIATE")
    try:
        if touched:
            con.executemany(
                "UPDATE Cache SET access_time = ? WHERE rowid = ?",
                [(when, rowid) for rowid, when in touched.items()],
            )
        counting = con.execute("SELECT value FROM Settings WHERE key = 'statistics'").fetchone()
        if counting == (1,) and (hits or misses):
            con.execute("UPDATE Settings SET value = value + ? WHERE key = 'hits'", (hits,))
            con.execute("UPDATE Settings SET value = value + ? WHERE key = 'misses'", (misses,))
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            con.execute("ROLLBACK")
        raise


def scan_rows(db: Path, rejected_key: str) -> tuple[list[tuple[bytes, bytes]], int]:
    """Every (cache key, stored value) and the ``rejected_key`` counter, read-only, so
    that neither LRU order nor hit counts change. A row naming a file is ``FOREIGN``."""
    conn = connect(db, "ro")
    try:
        rows = conn.execute("SELECT key, raw, mode, filename, value FROM Cache").fetchall()
    finally:
        conn.close()
    out: list[tuple[bytes, bytes]] = []
    rejected = 0
    for key, raw, mode, filename, value in rows:
        if key == rejected_key and isinstance(value, int):
            rejected = value
            continue
        if not raw or not isinstance(key, bytes):
            continue  # not a cache key (purge deletes such rows)
        out.append((bytes(key), stored_bytes(mode, filename, value)))
    return out, rejected


def delete_foreign_rows(db: Path, rejected_key: str) -> int:
    """Delete (no file removed) every row rdapctl did not write: anything but an inline
    bytes value under a bytes key, or the ``rejected_key`` counter; returns how many."""
    con = connect(db, timeout=60.0, isolation_level=None)
    try:
        return con.execute(_DELETE_FOREIGN, (rejected_key,)).rowcount
    finally:
        con.close()


class DirectReader:
    """Reads of one store without diskcache: a single lookup's read (with its
    bookkeeping written at once), and batch reads (bookkeeping deferred to
    :meth:`flush`, each thread in its own read snapshot).

    ``ensure_store`` makes diskcache create, set up or move aside the store; it is
    called only when the file is missing, not a database, or has no tables yet.
    ``store_is_open`` tells whether this process has the store open already.
    """

    def __init__(
        self, db: Path, ensure_store: Callable[[], object], store_is_open: Callable[[], bool]
    ) -> None:
        self._db = db
        self._ensure_store = ensure_store
        self._store_is_open = store_is_open
        # Deferred bookkeeping: rowids read since the last flush, and hit/miss counts.
        self._touched: dict[int, float] = {}
        self._hits = 0
        self._misses = 0
        self._snapshot = threading.local()  # this thread's reader: con, reads left, until
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._bookkeeper: sqlite3.Connection | None = None  # flush's writes
        self._bookkeeper_lock = threading.Lock()

    def read_once(
        self,
        cache_key: bytes,
        fallback: Callable[[bytes], Any],
        on_write_error: Callable[[BaseException], None],
    ) -> Any:
        """diskcache's ``get`` (LRU access time, hit/miss counters included) done with
        one plain SQLite connection. A missing, damaged or unset store goes to
        ``fallback`` (diskcache's own get); unwritten bookkeeping to ``on_write_error``."""
        db = self._db
        if not db.exists():
            return fallback(cache_key)  # a first run: create the store, count the miss
        now = time.time()  # diskcache's own expiry is on wall-clock time
        try:
            con = connect(db, timeout=10.0, isolation_level=None)
        except sqlite3.Error:
            return fallback(cache_key)
        try:
            try:
                row = con.execute(_SELECT_FRESH, (sqlite3.Binary(cache_key), now)).fetchone()
            except sqlite3.DatabaseError as exc:
                if not is_corruption(exc) and "no such table" not in str(exc):
                    raise  # a full or read-only disk, a lock: the caller reports it
                # Damaged or not set up: let diskcache's open move it aside or set it up.
                con.close()
                return fallback(cache_key)
            if row is None:
                blob, touched, hits = None, {}, 0
            else:
                rowid, mode, filename, value, _accessed = row
                blob = stored_bytes(mode, filename, value)  # FOREIGN: the caller deletes it
                touched, hits = ({rowid: now} if blob is not FOREIGN else {}), 1
            try:
                write_bookkeeping(con, touched, hits, 1 - hits)
            except sqlite3.Error as exc:
                # LRU time and counters unwritten (a full or read-only disk): still served.
                on_write_error(exc)
            return blob
        finally:
            con.close()

    def read(self, cache_key: bytes) -> bytes | None:
        """diskcache's ``get`` without its writes (access time, counters): one SELECT,
        in this thread's read snapshot; the writes are owed until :meth:`flush`."""
        now = time.time()  # diskcache's own expiry is on wall-clock time
        con = self._snapshot_reader(time.monotonic())
        try:
            row = con.execute(_SELECT_FRESH, (sqlite3.Binary(cache_key), now)).fetchone()
        except sqlite3.Error:
            self.end_reads()
            raise
        if row is None:
            self._misses += 1
            return None
        rowid, mode, filename, value, accessed = row
        blob = stored_bytes(mode, filename, value)
        self._hits += 1
        if blob is FOREIGN:  # not something rdapctl stored: the caller deletes the row
            return blob
        # LRU order to the minute: rewriting the access time of an entry used moments ago
        # (the warm run after a cold one) is a scattered page write per hit for nothing.
        if type(accessed) not in (float, int) or now - accessed >= LRU_GRANULARITY_S:
            self._touched[rowid] = now
        return blob

    def _snapshot_reader(self, now: float) -> sqlite3.Connection:
        """This thread's reader connection, inside a read transaction that is at most
        ``SNAPSHOT_READS`` reads and ``SNAPSHOT_S`` seconds old."""
        snap = self._snapshot
        con: sqlite3.Connection | None = getattr(snap, "con", None)
        if con is not None:
            if snap.left > 0 and now < snap.until:
                snap.left -= 1
                return con
            self.end_reads()
        else:
            con = getattr(snap, "reader", None)
            if con is None:
                con = snap.reader = self._open_reader()
        con.execute("BEGIN")
        snap.con, snap.left, snap.until = con, SNAPSHOT_READS - 1, now + SNAPSHOT_S
        return con

    def _open_reader(self) -> sqlite3.Connection:
        # The store's own connection of this thread must stay free for diskcache's
        # writes (a write cannot start inside this read transaction); a second one
        # just for reading keeps the two apart. Closed by close(), from another thread.
        db = self._db
        # Only while this process has no connection to the file: closing any descriptor
        # of it (as looks_like_sqlite does) drops every SQLite lock the process holds.
        if not self._store_is_open() and not looks_like_sqlite(db):
            self._ensure_store()  # new, empty or damaged: diskcache creates or moves it
        con = self._connect_reader(db)
        if con is None:
            self._ensure_store()  # a database without diskcache's tables: set them up
            con = self._connect_reader(db)
            if con is None:
                raise sqlite3.DatabaseError("the cache store has no Cache table")
        with self._readers_lock:
            self._readers.append(con)
        return con

    @staticmethod
    def _connect_reader(db: Path) -> sqlite3.Connection | None:
        """A read-only connection to ``db``; None when it has no Cache table yet."""
        con = connect(db, timeout=60.0, isolation_level=None, check_same_thread=False)
        try:
            con.execute("PRAGMA query_only = 1")
            con.execute(f"PRAGMA mmap_size = {_READER_MMAP_BYTES}")
            con.execute("SELECT 1 FROM Cache LIMIT 0")
        except sqlite3.OperationalError as exc:
            con.close()
            if "no such table" in str(exc):
                return None
            raise
        except sqlite3.Error:
            con.close()
            raise
        return con

    def end_reads(self) -> None:
        """End this thread's read snapshot (it then holds no old snapshot, nor the WAL)."""
        snap = self._snapshot
        con = getattr(snap, "con", None)
        if con is not None:
            snap.con = None
            with contextlib.suppress(sqlite3.Error):
                con.execute("COMMIT")

    def flush(self) -> None:
        """Write what deferred reads owe: LRU access times and hit/miss counts."""
        touched, self._touched = self._touched, {}
        hits, misses, self._hits, self._misses = self._hits, self._misses, 0, 0
        if not touched and not hits and not misses:
            return
        with self._bookkeeper_lock:
            con = self._bookkeeper
            if con is None:
                # Its own connection, like the readers': diskcache is not needed.
                con = self._bookkeeper = connect(
                    self._db, timeout=60.0, isolation_level=None, check_same_thread=False
                )
            write_bookkeeping(con, touched, hits, misses)

    def close_readers(self) -> None:
        """Close every thread's reader (call once the threads are done)."""
        with self._readers_lock:
            readers, self._readers = self._readers, []
        for con in readers:
            with contextlib.suppress(sqlite3.Error):
                con.close()

    def close_bookkeeper(self) -> None:
        """Close the connection :meth:`flush` writes with."""
        with self._bookkeeper_lock:
            bookkeeper, self._bookkeeper = self._bookkeeper, None
        if bookkeeper is not None:
            with contextlib.suppress(sqlite3.Error):
                bookkeeper.close()
