"""The state database: one SQLite file in the state folder, the project's only database.

Only this module opens it. The schema is versioned (`PRAGMA user_version`) and
migrated forward one step at a time; a database from a newer digest, a corrupt
file or one locked by another process is refused with a clear error and never
overwritten.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from msgspec import Struct

from digest import __version__
from digest.errors import StateError
from digest.models import (
    DELIVERED,
    Feed,
    FeedbackEvent,
    History,
    Issue,
    IssueSummary,
    PastIssue,
    SendStatus,
    Suppression,
    SuppressionReason,
    SuppressionSource,
    feed_from_dict,
    feed_to_dict,
)

DB_NAME = "digest.sqlite"
BUSY_TIMEOUT = 5.0  # seconds to wait for another process's write to finish


def _one_key_per_address(db: sqlite3.Connection) -> None:
    """Addresses at an internationalised domain were kept with the domain in Unicode; they are
    kept under `address_key` now (the ASCII form their tokens and bounces carry). Where both
    forms are there, the row already under the key wins (the ledger's latest, the first suppression)."""
    from digest.addresses import key_or_none

    for table in ("suppressions", "sends", "feedback"):
        rows = db.execute(f"SELECT rowid, email FROM {table}").fetchall()
        for rowid, email in rows:
            key = key_or_none(email) if not email.isascii() else None
            if key and key != email:
                db.execute(f"UPDATE OR IGNORE {table} SET email = ? WHERE rowid = ?", (key, rowid))
                db.execute(f"DELETE FROM {table} WHERE rowid = ? AND email = ?", (rowid, email))


# Each entry takes the schema from version N-1 to N: SQL, or a function for what SQL cannot do.
# Append; never edit a released step.
MIGRATIONS: tuple[str | Callable[[sqlite3.Connection], None], ...] = (
    """
    CREATE TABLE feed_cache (
        url            TEXT PRIMARY KEY,
        etag           TEXT,
        last_modified  TEXT,
        digest_version TEXT NOT NULL,
        feed_json      TEXT NOT NULL
    );
    """,
    """
    CREATE TABLE issues (
        number       INTEGER PRIMARY KEY,
        date         TEXT NOT NULL UNIQUE,
        slug         TEXT NOT NULL,
        subject      TEXT NOT NULL,
        window_start TEXT NOT NULL,
        window_end   TEXT NOT NULL,
        folder       TEXT NOT NULL
    );
    CREATE TABLE issue_items (
        issue_number  INTEGER NOT NULL REFERENCES issues (number) ON DELETE CASCADE,
        item_id       TEXT NOT NULL,
        canonical_url TEXT NOT NULL,
        url           TEXT NOT NULL,
        title         TEXT NOT NULL,
        section       TEXT NOT NULL,
        rank          INTEGER NOT NULL,
        PRIMARY KEY (issue_number, item_id)
    );
    CREATE INDEX issue_items_canonical ON issue_items (canonical_url);
    """,
    """
    CREATE TABLE sends (
        issue_number INTEGER NOT NULL,
        email        TEXT NOT NULL,
        status       TEXT NOT NULL
                     CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'unconfirmed', 'assumed_sent')),
        attempts     INTEGER NOT NULL DEFAULT 0,
        reply        TEXT,
        PRIMARY KEY (issue_number, email)
    );
    """,
    # When a message may have gone out (set as its data starts, cleared if it did not go): the
    # daily limit counts these across issues, and warm-up counts days from the first.
    """
    ALTER TABLE sends ADD COLUMN sent_at TEXT;
    CREATE INDEX sends_sent_at ON sends (sent_at);
    """,
    # The suppression list, and 'suppressed' in the ledger (a CHECK is changed by copying the table).
    """
    CREATE TABLE suppressions (
        email  TEXT PRIMARY KEY,
        reason TEXT NOT NULL CHECK (reason IN
               ('unsubscribed', 'hard_bounce', 'soft_bounces', 'complaint', 'manual', 'imported')),
        source TEXT NOT NULL CHECK (source IN ('endpoint', 'mailbox', 'command', 'file')),
        at     TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE sends_new (
        issue_number INTEGER NOT NULL,
        email        TEXT NOT NULL,
        status       TEXT NOT NULL CHECK (status IN
                     ('queued', 'sending', 'sent', 'failed', 'unconfirmed', 'assumed_sent', 'suppressed')),
        attempts     INTEGER NOT NULL DEFAULT 0,
        reply        TEXT,
        sent_at      TEXT,
        PRIMARY KEY (issue_number, email)
    );
    INSERT INTO sends_new SELECT issue_number, email, status, attempts, reply, sent_at FROM sends;
    DROP TABLE sends;
    ALTER TABLE sends_new RENAME TO sends;
    CREATE INDEX sends_sent_at ON sends (sent_at);
    """,
    # Temporary failures, one a recipient and issue: enough on different issues suppress.
    """
    CREATE TABLE soft_bounces (
        email        TEXT NOT NULL,
        issue_number INTEGER NOT NULL,
        at           TEXT NOT NULL,
        detail       TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (email, issue_number)
    );
    """,
    # What came back for each issue (bounces, complaints, mailed unsubscribes), for its rates and
    # for soft bounces counted on different issues; issue 0 when there is none to count it for.
    """
    CREATE TABLE feedback (
        issue_number INTEGER NOT NULL,
        email        TEXT NOT NULL,
        kind         TEXT NOT NULL
                     CHECK (kind IN ('hard_bounce', 'soft_bounce', 'complaint', 'unsubscribe')),
        at           TEXT NOT NULL,
        detail       TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (issue_number, email, kind)
    );
    INSERT INTO feedback SELECT issue_number, email, 'soft_bounce', at, detail FROM soft_bounces;
    DROP TABLE soft_bounces;
    """,
    _one_key_per_address,
)
SCHEMA_VERSION = len(MIGRATIONS)


class CachedFeed(Struct, frozen=True):
    etag: str | None
    last_modified: str | None
    feed: Feed


class State:
    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self.path = path

    # --- feed cache (conditional GET)

    def cached_feed(self, url: str) -> CachedFeed | None:
        """What was fetched from `url` last time, if this version of digest made it."""
        row = self._db.execute(
            "SELECT etag, last_modified, digest_version, feed_json FROM feed_cache WHERE url = ?",
            (url,),
        ).fetchone()
        if row is None or row[2] != __version__:  # normalization may have changed: fetch afresh
            return None
        return CachedFeed(row[0], row[1], feed_from_dict(json.loads(row[3])))

    def remember_feed(self, url: str, etag: str | None, last_modified: str | None, feed: Feed) -> None:
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO feed_cache VALUES (?, ?, ?, ?, ?)",
                (
                    url,
                    etag,
                    last_modified,
                    __version__,
                    json.dumps(feed_to_dict(feed), ensure_ascii=False),
                ),
            )

    # --- the suppression list

    def suppress(self, entries: Iterable[Suppression]) -> int:
        """Add addresses to the suppression list; one already there keeps its first provenance (so
        reading the same feedback twice changes nothing). Returns how many were new."""
        with self._db:
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR IGNORE INTO suppressions VALUES (?, ?, ?, ?, ?)",
                ((e.email, e.reason, e.source, e.at.isoformat(), e.detail) for e in entries),
            )
            return self._db.total_changes - before

    def unsuppress(self, emails: Iterable[str]) -> int:
        with self._db:
            before = self._db.total_changes
            self._db.executemany("DELETE FROM suppressions WHERE email = ?", ((e,) for e in emails))
            return self._db.total_changes - before

    def suppressions(self) -> Iterator[Suppression]:
        """The suppression list, oldest first."""
        rows = self._db.execute(
            "SELECT email, reason, source, at, detail FROM suppressions ORDER BY at, email"
        )
        for email, reason, source, at, detail in rows:
            yield Suppression(
                email,
                SuppressionReason(reason),
                SuppressionSource(source),
                dt.datetime.fromisoformat(at),
                detail,
            )

    def record_feedback(self, event: FeedbackEvent) -> int:
        """Record what came back (once an issue, address and kind: reading the same mail again
        changes nothing); returns on how many issues this address has had this kind."""
        with self._db:
            self._db.execute(
                "INSERT OR IGNORE INTO feedback VALUES (?, ?, ?, ?, ?)",
                (event.issue, event.email, event.kind, event.at.isoformat(), event.detail),
            )
        return int(
            self._db.execute(
                "SELECT count(*) FROM feedback WHERE email = ? AND kind = ?", (event.email, event.kind)
            ).fetchone()[0]
        )

    def mailed_addresses(self) -> Iterator[str]:
        """Every address a copy of any issue went to (or may have): whose tokens can come back."""
        for (email,) in self._db.execute(
            "SELECT DISTINCT email FROM sends WHERE sent_at IS NOT NULL OR status IN (?, ?)", DELIVERED
        ):
            yield email

    def mailed_in(self, number: int) -> Iterator[str]:
        """The addresses a copy of issue `number` went to (or may have): whose bounces can come back."""
        for (email,) in self._db.execute(
            "SELECT email FROM sends WHERE issue_number = ? AND (sent_at IS NOT NULL OR status IN (?, ?))",
            (number, *DELIVERED),
        ):
            yield email

    def last_mailed(self, email: str) -> int | None:
        """The latest issue that went (or may have gone) to `email`: what a bounce without a
        Message-ID of ours is counted for."""
        row = self._db.execute(
            "SELECT max(issue_number) FROM sends"
            " WHERE email = ? AND (sent_at IS NOT NULL OR status IN (?, ?))",
            (email, *DELIVERED),
        ).fetchone()
        return int(row[0]) if row[0] is not None else None

    # --- issues

    def ledger(self, number: int) -> Ledger:
        return Ledger(self._db, number)

    def issue_folder(self, which: str | None) -> tuple[int, Path]:
        """An issue's number and folder: by number, by date, or the latest when `which` is None."""
        if which is None:
            row = self._db.execute("SELECT number, folder FROM issues ORDER BY date DESC LIMIT 1").fetchone()
        elif which.isdigit() and len(which) > 9:  # no number digest gives, nor SQLite's integer
            row = None
        elif which.isdigit():
            row = self._db.execute(
                "SELECT number, folder FROM issues WHERE number = ?", (int(which),)
            ).fetchone()
        else:
            row = self._db.execute("SELECT number, folder FROM issues WHERE date = ?", (which,)).fetchone()
        if row is None:
            wanted = f"issue {which}" if which else "any issue"
            raise StateError(f"{wanted} was never built here: run digest build first", path=str(self.path))
        return row[0], Path(row[1])

    def history(self, date: dt.date) -> History:
        """Earlier issues as seen by the issue dated `date` (a rebuild of it keeps its number)."""
        day = date.isoformat()
        same = self._db.execute("SELECT number FROM issues WHERE date = ?", (day,)).fetchone()
        latest = self._db.execute("SELECT max(number) FROM issues").fetchone()[0] or 0
        previous = self._db.execute(
            "SELECT number, date, window_end FROM issues WHERE date < ? ORDER BY date DESC LIMIT 1", (day,)
        ).fetchone()
        used: dict[str, int] = {}
        rows = self._db.execute(
            "SELECT i.item_id, i.canonical_url, i.issue_number FROM issue_items i"
            " JOIN issues s ON s.number = i.issue_number WHERE s.date < ? ORDER BY s.date",
            (day,),
        )
        for item_id, canonical, number in rows:
            used[item_id] = used[canonical] = number
        return History(
            number=same[0] if same else latest + 1,
            previous=PastIssue(
                previous[0], dt.date.fromisoformat(previous[1]), dt.datetime.fromisoformat(previous[2])
            )
            if previous
            else None,
            used=used,
        )

    def past_issues(self) -> list[IssueSummary]:
        """Every issue built here, newest first, with its story count and how far its send got."""
        rows = self._db.execute(
            "SELECT s.number, s.date, s.subject, s.folder,"
            " (SELECT count(*) FROM issue_items i WHERE i.issue_number = s.number),"
            " (SELECT count(*) FROM sends d"
            "  WHERE d.issue_number = s.number AND d.status IN (?, ?)),"
            " (SELECT count(*) FROM sends d WHERE d.issue_number = s.number),"
            " (SELECT count(*) FROM sends d WHERE d.issue_number = s.number AND d.status = 'suppressed'),"
            " (SELECT count(DISTINCT email) FROM feedback f"
            "  WHERE f.issue_number = s.number AND f.kind IN ('hard_bounce', 'soft_bounce')),"
            " (SELECT count(*) FROM feedback f WHERE f.issue_number = s.number AND f.kind = 'complaint')"
            " FROM issues s ORDER BY s.date DESC",
            DELIVERED,
        )
        return [
            IssueSummary(number, dt.date.fromisoformat(date), subject, Path(folder), *counts)
            for number, date, subject, folder, *counts in rows
        ]

    def record_issue(self, issue: Issue, folder: Path) -> None:
        """The issue and the stories it used, in one transaction; a rebuild replaces its row."""
        with self._db:
            self._db.execute(
                "DELETE FROM issues WHERE date = ? OR number = ?", (issue.date.isoformat(), issue.number)
            )
            self._db.execute(
                "INSERT INTO issues VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    issue.number,
                    issue.date.isoformat(),
                    issue.slug,
                    issue.rendered.subject,
                    issue.window.start.isoformat(),
                    issue.window.end.isoformat(),
                    str(folder),
                ),
            )
            self._db.executemany(
                "INSERT INTO issue_items VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        issue.number,
                        p.item.id,
                        p.item.canonical,
                        p.item.url,
                        p.item.title,
                        p.section.value,
                        p.rank,
                    )
                    for p in issue.selection.picks
                ],
            )


class Ledger:
    """The send ledger of one issue: for each recipient, queued, sending, sent or failed.

    A message's 'sending' is committed before its data goes out, together with the outcomes
    recorded since (`record`, then `commit`): a crash leaves at most the messages in flight as
    'sending', which the next run finds (then 'unconfirmed': reported, never resent on its own).

    A run's recipients are streamed into a temporary table (`take_list`), so a list of any size
    costs the run no memory: what is pending, and the counts, are read back in SQL.
    """

    BATCH = 1000

    def __init__(self, db: sqlite3.Connection, number: int) -> None:
        self._db, self.number = db, number

    def take_list(self, recipients: Iterable[tuple[str, str, str]]) -> int:
        """This run's recipients, (key, address, name) in list order: remembered for the run, and
        queued when the ledger does not know them yet. Returns how many there are (one a key)."""
        db = self._db
        db.execute("DROP TABLE IF EXISTS temp.run_list")
        db.execute(
            "CREATE TEMP TABLE run_list (seq INTEGER PRIMARY KEY, key TEXT UNIQUE, address TEXT, name TEXT)"
        )
        rows = iter(recipients)
        with db:
            while batch := list(itertools.islice(rows, self.BATCH)):
                db.executemany(
                    "INSERT OR IGNORE INTO temp.run_list (key, address, name) VALUES (?, ?, ?)", batch
                )
            db.execute(
                "INSERT OR IGNORE INTO sends (issue_number, email, status)"
                " SELECT ?, key, 'queued' FROM temp.run_list",
                (self.number,),
            )
            # The suppression list as it is now: suppressed ones are never mailed; one taken off
            # the list since is queued again.
            db.execute(
                "UPDATE sends SET status = 'suppressed' WHERE issue_number = ? AND status = 'queued'"
                " AND email IN (SELECT email FROM suppressions)",
                (self.number,),
            )
            db.execute(
                "UPDATE sends SET status = 'queued' WHERE issue_number = ? AND status = 'suppressed'"
                " AND email NOT IN (SELECT email FROM suppressions)",
                (self.number,),
            )
        return int(db.execute("SELECT count(*) FROM temp.run_list").fetchone()[0])

    def pending(self, after: int = 0, limit: int = BATCH) -> list[tuple[int, str, str, str]]:
        """The next queued recipients of this run after position `after`: (seq, key, address, name)."""
        return self._db.execute(
            "SELECT r.seq, r.key, r.address, r.name FROM temp.run_list r"
            " JOIN sends s ON s.issue_number = ? AND s.email = r.key"
            " WHERE s.status = 'queued' AND r.seq > ? ORDER BY r.seq LIMIT ?",
            (self.number, after, limit),
        ).fetchall()

    def counts(self) -> dict[SendStatus, int]:
        """How many of this run's recipients are in each status."""
        rows = self._db.execute(
            "SELECT s.status, count(*) FROM temp.run_list r"
            " JOIN sends s ON s.issue_number = ? AND s.email = r.key GROUP BY s.status",
            (self.number,),
        )
        return {SendStatus(status): count for status, count in rows}

    def examples(self, status: SendStatus, limit: int) -> list[tuple[str, str]]:
        """Some of this run's recipients in `status`, with the server's reply: for the report."""
        return self._db.execute(
            "SELECT s.email, coalesce(s.reply, '') FROM temp.run_list r"
            " JOIN sends s ON s.issue_number = ? AND s.email = r.key"
            " WHERE s.status = ? ORDER BY s.reply IS NULL, r.seq LIMIT ?",
            (self.number, status, limit),
        ).fetchall()

    def record(
        self,
        email: str,
        status: SendStatus,
        reply: str | None = None,
        *,
        attempt: bool = False,
        at: dt.datetime | None = None,
    ) -> None:
        """Write `status` in the open transaction, for the next `commit`; `at`: the message's data
        starts now (the daily limit counts it)."""
        went = status in (SendStatus.SENDING, SendStatus.SENT, SendStatus.UNCONFIRMED)
        self._db.execute(
            "UPDATE sends SET status = ?, reply = coalesce(?, reply), attempts = attempts + ?,"
            " sent_at = CASE WHEN ? THEN coalesce(?, sent_at) END"
            " WHERE issue_number = ? AND email = ?",
            (status, reply, int(attempt), went, at.isoformat() if at else None, self.number, email),
        )

    def commit(self) -> None:
        self._db.commit()

    def interrupted(self) -> int:
        """Messages a dead run was sending: the server may or may not have them. Never resent
        silently: they become 'unconfirmed' until the editor decides."""
        with self._db:
            return self._db.execute(
                "UPDATE sends SET status = 'unconfirmed', reply = 'the sending run stopped during delivery'"
                " WHERE issue_number = ? AND status = 'sending'",
                (self.number,),
            ).rowcount

    def settle_unconfirmed(self, status: SendStatus) -> int:
        with self._db:
            return self._db.execute(
                "UPDATE sends SET status = ?, sent_at = CASE WHEN ? = 'assumed_sent' THEN sent_at END"
                " WHERE issue_number = ? AND status = 'unconfirmed'",
                (status, status, self.number),
            ).rowcount

    def sent_since(self, moment: dt.datetime) -> int:
        """Messages that went out (or may have) after `moment`, from any issue: the daily limit's count."""
        return int(
            self._db.execute(
                "SELECT count(*) FROM sends WHERE sent_at > ?", (moment.isoformat(),)
            ).fetchone()[0]
        )

    def suppressed_now(self, email: str) -> bool:
        """On the suppression list at this moment (the endpoint may add one while a run goes on)."""
        return self._db.execute("SELECT 1 FROM suppressions WHERE email = ?", (email,)).fetchone() is not None

    def first_sent(self) -> dt.datetime | None:
        """When this state database first sent anything: warm-up counts days from there."""
        first = self._db.execute("SELECT min(sent_at) FROM sends").fetchone()[0]
        return dt.datetime.fromisoformat(first) if first else None


def _migrate(db: sqlite3.Connection, path: Path) -> None:
    # Read before anything writes: a database we will refuse must stay byte for byte as it was.
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StateError(
            f"made by a newer digest (schema {version}, this one knows {SCHEMA_VERSION}); upgrade digest",
            path=str(path),
        )
    db.execute("PRAGMA journal_mode = WAL")  # readers never wait for the writer
    for number in range(version, SCHEMA_VERSION):
        # Each step and its version bump in one transaction: a crash leaves the old schema.
        step = MIGRATIONS[number]
        if isinstance(step, str):
            db.executescript(f"BEGIN; {step} PRAGMA user_version = {number + 1}; COMMIT;")
            continue
        db.execute("BEGIN")
        try:
            step(db)
            db.execute(f"PRAGMA user_version = {number + 1}")
        except BaseException:
            db.rollback()
            raise
        db.commit()


# What the database itself can be blamed for: another process's lock, a damaged or foreign file,
# a full disk, an I/O error. Anything else (a broken constraint, bad SQL) is the caller's bug.
_THE_DATABASES_FAULT = {
    sqlite3.SQLITE_BUSY,
    sqlite3.SQLITE_LOCKED,
    sqlite3.SQLITE_CORRUPT,
    sqlite3.SQLITE_NOTADB,
    sqlite3.SQLITE_FULL,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_CANTOPEN,
}


def _unusable(error: sqlite3.DatabaseError, path: Path) -> StateError:
    if error.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return StateError("the state database is locked by another digest", path=str(path))
    return StateError(f"the state database is damaged ({error}); it was left as it is", path=str(path))


@contextmanager
def open_state(folder: Path, busy_timeout: float = BUSY_TIMEOUT) -> Iterator[State]:
    """The state database, opened and migrated; closed when the block ends.

    A damaged, locked or newer database is a `StateError` when it is opened. In the block, only
    what the database itself can be blamed for is (locked past the busy timeout, a damaged page,
    a full disk); a constraint or a statement the caller got wrong propagates as the bug it is.
    """
    path = folder / DB_NAME
    try:
        folder.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=busy_timeout)
    except (OSError, sqlite3.Error) as error:
        raise StateError(f"cannot open the state database: {error}", path=str(path)) from None
    try:
        try:
            db.execute("PRAGMA foreign_keys = ON")
            _migrate(db, path)
            # With WAL, NORMAL loses nothing committed when the process dies (kill -9 included); only
            # a power cut may lose the last transactions. A commit then costs no fsync: sends stay fast.
            db.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.DatabaseError as error:
            raise _unusable(error, path) from None
        try:
            yield State(db, path)
        except sqlite3.DatabaseError as error:
            if error.sqlite_errorcode & 0xFF not in _THE_DATABASES_FAULT:
                raise
            raise _unusable(error, path) from None
    finally:
        db.close()


def past_issues(folder: Path) -> list[IssueSummary]:
    """Every issue built with the state folder `folder`, newest first (`digest history`)."""
    with open_state(folder) as state:
        return state.past_issues()
