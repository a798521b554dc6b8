"""Page views, the popularity signal behind the score, from the analytics exports sites have.

formats reads each tool's export (recognised from its content); pages resolves paths and hosts
so that a row meets the story it counts; coverage says how many stories it reached, and why none.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from digest.analytics.coverage import Coverage, coverage
from digest.analytics.formats import Export, Format, read_export
from digest.analytics.pages import PageViews, Site
from digest.config import MAX_BYTES
from digest.files import read_input_bytes

__all__ = [
    "Coverage",
    "Export",
    "Format",
    "PageViews",
    "Site",
    "coverage",
    "load_analytics",
    "page_views",
    "read_export",
    "read_exports",
]


def read_exports(files: Sequence[tuple[Path, str]], max_bytes: int = MAX_BYTES) -> list[tuple[str, bytes]]:
    """Each export's bytes, by label ((path, label) each); one over `max_bytes` is refused."""
    return [
        (label, read_input_bytes(path, label, "analytics file", max_bytes, "sources.max_bytes"))
        for path, label in files
    ]


def page_views(
    exports: Sequence[tuple[str, bytes]],
    site: Site,
    forced: Format = "auto",
    period: tuple[dt.date, dt.date] | None = None,
    max_bytes: int = MAX_BYTES,
) -> PageViews:
    """Page views from every export ((label, bytes) each), added up. `period`: the days an
    export covers when it does not say so itself; `max_bytes`: the cap on a zip's inflated pages."""
    views = PageViews(site)
    for label, data in exports:
        export = read_export(data, label, forced, max_bytes)
        views.formats.append(export.format)
        stated = export.period or period
        if stated:
            views.periods.append((label, *stated))
        for page, count in export.rows:
            views.add(page, count)
    return views


def load_analytics(files: Sequence[tuple[Path, str]], site: Site, forced: Format = "auto") -> PageViews:
    """Page views from the exports in `files` ((path, label) each), added up."""
    return page_views(read_exports(files), site, forced)
