"""The suppression list: who is never mailed again, and why."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

from digest.models import (
    Suppression,
    SuppressionReason,
    SuppressionSource,
)
from digest.state.db import Table


class Suppressions(Table):
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
