"""The schema, versioned (`PRAGMA user_version`) and migrated forward one step at a time; a
database from a newer digest is refused before anything is written to it."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from digest.errors import StateError


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
    # Which variant of the issue (topics, language) each reader was queued for: history counts them.
    "ALTER TABLE sends ADD COLUMN variant TEXT NOT NULL DEFAULT '';",
)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(db: sqlite3.Connection, path: Path) -> None:
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
