"""What came back for each issue: bounces, complaints, mailed unsubscribes."""

from __future__ import annotations

from digest.models import (
    FeedbackEvent,
)
from digest.state.db import Table


class Events(Table):
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
