"""SQLite connections and the threads that own them.

One writer connection on its own thread (SQLite has one writer at a time anyway; queueing in-process is
cheaper than contending for the file lock) and a few reader connections, each on its own thread. WAL lets
the readers run while the writer commits. Every store operation is one job: a plain function that runs all
its statements on the thread's connection and returns the result to the event loop — one hop per
operation, never one per row or statement. Each connection is created, used and closed by its own thread
(`check_same_thread` stays on). One more reader connection belongs to the event-loop thread, for reads
short enough that the hop would cost more than the read (`read_inline`, bounded by a step budget).

sqlite3 errors are translated into the error tree on the way out: locked/busy → StoreUnavailable
(retryable), a damaged file → StoreCorrupt, anything else → StoreError.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from cellstream.errors import StoreCorrupt, StoreError, StoreUnavailable

T = TypeVar("T")
Job = Callable[[sqlite3.Connection], Any]
_STOP = None
BUSY_TIMEOUT_MS = 5_000
# How much an inline read may do before it is stopped and handed to a reader thread, in SQLite virtual
# machine steps, checked every INLINE_STEP_CHECK steps. Steps, not time: a busy machine must not make the
# same read inline one moment and threaded the next. Measured on the 1M-event bench file: a 50-row page by
# an index is ~1,000 steps (~50 µs); one that filters ~1,800 rows to find its 50 is ~9,000 (~0.24 ms).
INLINE_STEP_CHECK = 1_000
INLINE_BUDGET_STEPS = 40_000


def translate(exc: sqlite3.Error, path: Path) -> StoreError:
    text = str(exc)
    lowered = text.lower()
    if "locked" in lowered or "busy" in lowered:
        return StoreUnavailable(f"SQLite database {path} is busy: {text}")
    if isinstance(exc, sqlite3.DatabaseError) and ("malformed" in lowered or "not a database" in lowered):
        return StoreCorrupt(f"SQLite database {path} is damaged: {text}")
    return StoreError(f"SQLite error on {path}: {text}")


def connect(path: Path, cache_kib: int, *, writer: bool) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit) with Cellstream's PRAGMAs."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    if writer:
        conn.execute("PRAGMA journal_mode=WAL")  # persistent: stored in the file
    for pragma in (f"busy_timeout={BUSY_TIMEOUT_MS}", "synchronous=NORMAL", f"cache_size=-{cache_kib}",
                   "temp_store=MEMORY", "foreign_keys=ON"):
        conn.execute(f"PRAGMA {pragma}")
    if not writer:
        conn.execute("PRAGMA query_only=ON")
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection, *, write: bool = True) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE (take the write lock up front) … COMMIT, or ROLLBACK on any exception. Inside an
    open transaction, a savepoint instead: the inner part can fail alone (an optimistic append retried)
    and the outer transaction still decides for everything (a domain change with its events)."""
    nested = conn.in_transaction
    conn.execute("SAVEPOINT nested" if nested else "BEGIN IMMEDIATE" if write else "BEGIN")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction and nested:
            conn.execute("ROLLBACK TO nested")
            conn.execute("RELEASE nested")
        elif conn.in_transaction:  # SQLite may have rolled back already (e.g. on SQLITE_FULL)
            conn.execute("ROLLBACK")
        raise
    conn.execute("RELEASE nested" if nested else "COMMIT")


class TooSlowInline(Exception):
    """Raised by a job run inline when it finds it would do more than a short read."""


class InlineBudgetSpent(TooSlowInline):
    """An inline read was stopped after INLINE_BUDGET_STEPS virtual-machine steps."""


class _StepBudget:
    """The inline connection's progress handler: interrupts the statement running when the budget runs
    out, once. Only once, so that the ROLLBACK which follows the interrupted statement is never stopped
    too (an inline connection left inside a transaction would keep serving an old snapshot)."""

    __slots__ = ("left", "spent")

    def __init__(self) -> None:
        self.left = 0
        self.spent = False

    def arm(self, checks: int) -> None:
        self.left, self.spent = checks, False

    def __call__(self) -> int:
        self.left -= 1
        if self.left == 0:
            self.spent = True
            return 1
        return 0


class ConnectionThreads:
    """`count` threads, each owning one connection, taking jobs from one queue.

    A job whose caller was cancelled still runs (a thread cannot be interrupted); its result is dropped.
    """

    def __init__(self, name: str, path: Path, count: int, cache_kib: int, *, writer: bool) -> None:
        self._path = path
        self._cache_kib = cache_kib
        self._writer = writer
        self._jobs: queue.SimpleQueue[tuple[Job, asyncio.Future[Any]] | None] = queue.SimpleQueue()
        self._ready = [threading.Event() for _ in range(count)]
        self._threads = [threading.Thread(target=self._serve, args=(ready,), name=f"{name}-{i}", daemon=True)
                         for i, ready in enumerate(self._ready)]
        self._failures: list[BaseException] = []

    def start(self) -> None:
        """Start the threads and wait until each has opened its connection (raising if one could not)."""
        for thread in self._threads:
            thread.start()
        for ready in self._ready:
            ready.wait()
        if self._failures:
            self.stop()
            error = self._failures[0]
            if isinstance(error, sqlite3.Error):
                raise translate(error, self._path) from None
            raise error

    def _serve(self, ready: threading.Event) -> None:
        try:
            conn = connect(self._path, self._cache_kib, writer=self._writer)
        except BaseException as exc:
            self._failures.append(exc)
            return
        finally:
            ready.set()
        try:
            while (item := self._jobs.get()) is not _STOP:
                job, future = item
                loop = future.get_loop()
                try:
                    result = job(conn)
                except sqlite3.Error as exc:
                    loop.call_soon_threadsafe(_fail, future, translate(exc, self._path))
                except BaseException as exc:
                    loop.call_soon_threadsafe(_fail, future, exc)
                else:
                    loop.call_soon_threadsafe(_succeed, future, result)
        finally:
            conn.close()

    async def run(self, job: Callable[[sqlite3.Connection], T]) -> T:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._jobs.put((job, future))
        return await future

    def stop(self) -> None:
        """Let every thread finish the jobs queued before this, close its connection and exit."""
        for _ in self._threads:
            self._jobs.put(_STOP)
        for thread in self._threads:
            if thread.is_alive():
                thread.join()


def _succeed(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():
        future.set_result(result)


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


class SqliteDatabase:
    """The database file, its writer thread and its reader threads."""

    def __init__(self, path: Path, *, cache_mb: int, readers: int = 3) -> None:
        self.path = path
        # The cache budget is shared: half for the writer (index pages it updates), half among the readers.
        cache_kib = max(1024, cache_mb * 1024 // 2)
        self._writer = ConnectionThreads("sqlite-writer", path, 1, cache_kib, writer=True)
        self._readers = ConnectionThreads("sqlite-reader", path, readers, max(1024, cache_kib // readers),
                                          writer=False)
        self._reader_cache_kib = max(1024, cache_kib // readers)
        self._inline: sqlite3.Connection | None = None
        self._budget = _StepBudget()
        self.inline_budget_steps = INLINE_BUDGET_STEPS
        self._open = False

    async def open(self) -> None:
        await asyncio.to_thread(self._start)
        self._open = True

    def _start(self) -> None:
        self._writer.start()  # first: it switches the file to WAL before readers attach
        try:
            self._readers.start()
        except BaseException:
            self._writer.stop()
            raise

    async def write(self, job: Callable[[sqlite3.Connection], T]) -> T:
        self._check_open()
        return await self._writer.run(job)

    async def read(self, job: Callable[[sqlite3.Connection], T]) -> T:
        self._check_open()
        return await self._readers.run(job)

    def read_inline(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run a read job on the calling (event-loop) thread. Only for jobs expected to take well under a
        millisecond: handing a short job to a reader thread costs more than the job, because the thread
        and the event loop then contend for the GIL (measured: ~1 ms of CPU per list request instead of
        ~0.1 ms). The job may raise `TooSlowInline` to be re-run on a reader thread; past
        `inline_budget_steps` SQLite steps it is stopped and `InlineBudgetSpent` raised, so a read that
        turns out long blocks the event loop for a bounded time only."""
        self._check_open()
        conn = self._inline
        if conn is None:
            conn = self._inline = connect(self.path, self._reader_cache_kib, writer=False)
            conn.set_progress_handler(self._budget, INLINE_STEP_CHECK)
        budget = self._budget
        budget.arm(max(1, self.inline_budget_steps // INLINE_STEP_CHECK))
        try:
            return job(conn)
        except sqlite3.Error as exc:
            if budget.spent:
                raise InlineBudgetSpent(f"over {self.inline_budget_steps} steps") from None
            raise translate(exc, self.path) from None
        finally:
            budget.arm(-1)  # disarmed: counts down from -1, never reaching 0
            if conn.in_transaction:  # a job stopped part-way must not keep its snapshot for the next
                conn.execute("ROLLBACK")

    def _check_open(self) -> None:
        if not self._open:
            raise StoreError(f"SQLite database {self.path} is closed")

    async def close(self) -> None:
        if not self._open:
            return
        self._open = False
        if self._inline is not None:
            self._inline.close()
            self._inline = None
        await asyncio.to_thread(self._stop)

    def _stop(self) -> None:
        self._readers.stop()
        self._writer.stop()

