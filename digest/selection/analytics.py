"""The analytics export: page views by page, the popularity signal behind the score.

CSV with a header row (common column names accepted) or JSON; rows for the same page
are added up. Pages are keyed by canonical URL, so tracking parameters do not split them.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from digest.errors import InputError, read_input
from digest.urls import canonical_url, is_url

_URL_COLUMNS = ("url", "page", "page url", "page path", "path", "landing page")
_VIEW_COLUMNS = ("pageviews", "page views", "views", "screenpageviews", "visits")


def _column(names: Iterable[str], wanted: tuple[str, ...]) -> str | None:
    found = {name.strip().lower(): name for name in names}
    return next((found[w] for w in wanted if w in found), None)


def _count(raw: object, where: str, label: str) -> int:
    text = str(raw).strip().replace(",", "")
    try:
        count = int(text)
    except ValueError:
        raise InputError(f"{where}: page views {text!r} is not a whole number", path=label) from None
    if count < 0:
        raise InputError(f"{where}: page views {count} is negative", path=label)
    return count


def _rows_from_json(text: str, label: str) -> Iterator[tuple[str, object, str]]:
    """{"https://…": 120, …} or [{"url": "https://…", "pageviews": 120}, …]."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"invalid JSON at line {error.lineno}: {error.msg}", path=label) from None
    if isinstance(data, dict):
        for url, views in data.items():
            yield url, views, f"key {url!r}"
        return
    if not isinstance(data, list):
        raise InputError("expected an object of URL → page views, or a list of rows", path=label)
    for number, row in enumerate(data, start=1):
        if not isinstance(row, dict):
            raise InputError(f"row {number}: expected an object", path=label)
        url_key, view_key = _column(row, _URL_COLUMNS), _column(row, _VIEW_COLUMNS)
        if url_key is None or view_key is None:
            raise InputError(f"row {number}: needs a 'url' and a 'pageviews' field", path=label)
        yield str(row[url_key]), row[view_key], f"row {number}"


def _rows_from_csv(text: str, label: str) -> Iterator[tuple[str, object, str]]:
    reader = csv.DictReader(io.StringIO(text))
    url_column = _column(reader.fieldnames or (), _URL_COLUMNS)
    view_column = _column(reader.fieldnames or (), _VIEW_COLUMNS)
    if url_column is None or view_column is None:
        raise InputError("needs a 'url' and a 'pageviews' column", path=label)
    for row in reader:
        yield row.get(url_column) or "", row.get(view_column) or "", f"line {reader.line_num}"


def load_analytics(path: str, label: str) -> dict[str, int]:
    """Page views by canonical URL from an analytics export: CSV with a header row (common column
    names accepted) or JSON. Rows for the same page are added up."""
    text = read_input(Path(path), label, "analytics file")
    is_json = path.lower().endswith(".json") or text.lstrip()[:1] in ("{", "[")
    rows = _rows_from_json(text, label) if is_json else _rows_from_csv(text, label)
    views: dict[str, int] = {}
    for raw_url, raw_views, where in rows:
        url = raw_url.strip()
        if not url:
            continue
        key = canonical_url(url) if is_url(url) else url
        views[key] = views.get(key, 0) + _count(raw_views, where, label)
    return views
