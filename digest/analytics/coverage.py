"""How far the page views reached: how many candidate stories they matched, and when none, why.

A popular section drawn from an export that matched nothing is a list ordered by comments and
chance; the editor should hear that, with the likely cause, instead of finding out from readers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from msgspec import Struct

from digest.analytics.pages import PageViews


class Coverage(Struct, frozen=True):
    candidates: int
    matched: int
    rows: int
    other_rows: int  # rows for pages that are no candidate (older stories, the home page…)
    warnings: tuple[str, ...] = ()

    def line(self) -> str:
        return (
            f"analytics: {self.matched} of {self.candidates} candidates matched,"
            f" {self.rows:,} rows read, {self.other_rows:,} for other pages"
        )

    def as_dict(self) -> dict[str, int]:
        return {
            "candidates": self.candidates,
            "matched": self.matched,
            "rows": self.rows,
            "other_rows": self.other_rows,
        }


def _why_none(views: PageViews, keys: Sequence[str | None]) -> str:
    if not views.rows:
        return "the export has no rows"
    if views.unresolved == views.rows:
        return "its pages are paths and newsletter.url is not set to resolve them against"
    theirs = {key.split("/", 1)[0] for key in views.views}
    ours = {key.split("/", 1)[0] for key in keys if key is not None}
    if theirs and not theirs & ours:
        shown = ", ".join(sorted(theirs)[:3])
        return f"its pages are on {shown}, the stories on {', '.join(sorted(ours)[:3])} (sources.site_urls?)"
    return "none of this issue's stories is in it (an export of another period?)"


def coverage(views: PageViews, urls: Sequence[str], window: tuple[dt.date, dt.date]) -> Coverage:
    """What `views` did for the stories at `urls`, the candidates of an issue covering `window`."""
    keys = [views.site.key(url) for url in urls]  # each candidate's page, worked out once
    matched = sum(1 for key in keys if key is not None and key in views.views)
    ours = set(keys)
    other = views.unresolved + sum(n for key, n in views.rows_by_page.items() if key not in ours)
    warnings = []
    if urls and views.rows and not matched:
        warnings.append(f"analytics: no story got page views: {_why_none(views, keys)}")
    for label, start, end in views.periods:
        if end < window[0] or start > window[1]:
            warnings.append(
                f"analytics: {label} covers {start} to {end}; this issue covers {window[0]} to {window[1]}"
            )
    return Coverage(len(urls), matched, views.rows, other, tuple(warnings))
