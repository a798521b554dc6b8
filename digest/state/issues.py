"""The issues built: number, date, folder, and the stories each used."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from msgspec.structs import replace

from digest.errors import StateError
from digest.models import (
    DELIVERED,
    History,
    Issue,
    IssueSummary,
    PastIssue,
    Pick,
)
from digest.state.db import Table


class Issues(Table):
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

    def issue_folders(self, first: dt.date, before: dt.date) -> list[Path]:
        """The folders of the issues dated from `first` to the day before `before`, oldest first."""
        rows = self._db.execute(
            "SELECT folder FROM issues WHERE date >= ? AND date < ? ORDER BY date",
            (first.isoformat(), before.isoformat()),
        )
        return [Path(folder) for (folder,) in rows]

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
        variants: dict[int, dict[str, int]] = {}
        for number, variant, count in self._db.execute(
            "SELECT issue_number, variant, count(*) FROM sends WHERE status IN (?, ?)"
            " GROUP BY issue_number, variant",
            DELIVERED,
        ):
            variants.setdefault(number, {})[variant] = count
        summaries = (
            IssueSummary(number, dt.date.fromisoformat(date), subject, Path(folder), *counts)
            for number, date, subject, folder, *counts in rows
        )
        return [replace(summary, by_variant=variants.get(summary.number, {})) for summary in summaries]

    def record_issue(self, issue: Issue, folder: Path, variants: Sequence[Issue] = ()) -> None:
        """The issue and the stories it used (its variants' too: none is picked again for anyone),
        in one transaction; a rebuild replaces its row."""
        picks: dict[str, Pick] = {}
        for one in (issue, *variants):
            for pick in one.selection.picks:
                picks.setdefault(pick.item.id, pick)
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
                    for p in picks.values()
                ],
            )
