"""The connection's rules: where the file is, how long to wait for a lock, and what the
database itself is blamed for (only this package opens it)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from digest.errors import StateError

DB_NAME = "digest.sqlite"
BUSY_TIMEOUT = 5.0  # seconds to wait for another process's write to finish


class Table:
    """What each table's methods share: the open connection (State is made of these)."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self.path = path


# What the database itself can be blamed for: another process's lock, a damaged or foreign file,
# a full disk, an I/O error. Anything else (a broken constraint, bad SQL) is the caller's bug.
DATABASES_FAULT = {
    sqlite3.SQLITE_BUSY,
    sqlite3.SQLITE_LOCKED,
    sqlite3.SQLITE_CORRUPT,
    sqlite3.SQLITE_NOTADB,
    sqlite3.SQLITE_FULL,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_CANTOPEN,
}


def unusable(error: sqlite3.DatabaseError, path: Path) -> StateError:
    if error.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return StateError("the state database is locked by another digest", path=str(path))
    return StateError(f"the state database is damaged ({error}); it was left as it is", path=str(path))


@contextmanager
def connected(
    folder: Path, busy_timeout: float, migrate: Callable[[sqlite3.Connection, Path], None]
) -> Iterator[tuple[sqlite3.Connection, Path]]:
    """The database file in `folder`, connected, migrated and in WAL mode; closed after the block.
    In the block, an SQLite error the database is to blame for becomes a `StateError`."""
    path = folder / DB_NAME
    try:
        folder.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=busy_timeout)
    except (OSError, sqlite3.Error) as error:
        raise StateError(f"cannot open the state database: {error}", path=str(path)) from None
    try:
        try:
            db.execute("PRAGMA foreign_keys = ON")
            migrate(db, path)
            # With WAL, NORMAL loses nothing committed when the process dies (kill -9 included); only
            # a power cut may lose the last transactions. A commit then costs no fsync: sends stay fast.
            db.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.DatabaseError as error:
            raise unusable(error, path) from None
        try:
            yield db, path
        except sqlite3.DatabaseError as error:
            if error.sqlite_errorcode & 0xFF not in DATABASES_FAULT:
                raise
            raise unusable(error, path) from None
    finally:
        db.close()
