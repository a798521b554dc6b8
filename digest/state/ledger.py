"""The send ledger: for each issue and recipient, queued, sending, sent or failed."""

from __future__ import annotations

import datetime as dt
import itertools
import sqlite3
from collections.abc import Iterable, Iterator

from digest.models import (
    DELIVERED,
    SendStatus,
)
from digest.state.db import Table

# A copy that went, or may have (its data started, or the editor said to assume it): whose
# tokens, bounces and complaints can come back. Its parameters are DELIVERED.
_MAILED = "(sent_at IS NOT NULL OR status IN (?, ?))"


class Sends(Table):
    """What the ledger of every issue says about an address."""

    def mailed_addresses(self) -> Iterator[str]:
        """Every address a copy of any issue went to (or may have): whose tokens can come back."""
        for (email,) in self._db.execute(f"SELECT DISTINCT email FROM sends WHERE {_MAILED}", DELIVERED):
            yield email

    def mailed_in(self, number: int) -> Iterator[str]:
        """The addresses a copy of issue `number` went to (or may have): whose bounces can come back."""
        for (email,) in self._db.execute(
            f"SELECT email FROM sends WHERE issue_number = ? AND {_MAILED}",
            (number, *DELIVERED),
        ):
            yield email

    def last_mailed(self, email: str) -> int | None:
        """The latest issue that went (or may have gone) to `email`: what a bounce without a
        Message-ID of ours is counted for."""
        row = self._db.execute(
            f"SELECT max(issue_number) FROM sends WHERE email = ? AND {_MAILED}",
            (email, *DELIVERED),
        ).fetchone()
        return int(row[0]) if row[0] is not None else None

    def ledger(self, number: int) -> Ledger:
        return Ledger(self._db, number)


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

    def take_list(self, recipients: Iterable[tuple[str, str, str, str]]) -> int:
        """This run's recipients, (key, address, name, variant) in list order: remembered for the
        run, and queued when the ledger does not know them yet. Returns how many there are (one
        a key)."""
        db = self._db
        db.execute("DROP TABLE IF EXISTS temp.run_list")
        db.execute(
            "CREATE TEMP TABLE run_list"
            " (seq INTEGER PRIMARY KEY, key TEXT UNIQUE, address TEXT, name TEXT, variant TEXT)"
        )
        rows = iter(recipients)
        with db:
            while batch := list(itertools.islice(rows, self.BATCH)):
                db.executemany(
                    "INSERT OR IGNORE INTO temp.run_list (key, address, name, variant) VALUES (?, ?, ?, ?)",
                    batch,
                )
            db.execute(
                "INSERT OR IGNORE INTO sends (issue_number, email, status, variant)"
                " SELECT ?, key, 'queued', variant FROM temp.run_list",
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

    def pending(self, after: int = 0, limit: int = BATCH) -> list[tuple[int, str, str, str, str]]:
        """The next queued recipients of this run after position `after`: (seq, key, address,
        name, the variant they get: as the ledger first queued them, so a rerun sends the same)."""
        return self._db.execute(
            "SELECT r.seq, r.key, r.address, r.name, s.variant FROM temp.run_list r"
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
