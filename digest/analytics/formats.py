"""Analytics exports as the tools write them, recognised from their content: rows of (page, views).

A page is a full URL or a path (`pages` resolves paths against the site). Each reader follows its
tool's documented shape:

- Google Analytics 4: the "Pages and screens" CSV download (`#` preamble with the dates, then
  `Page path and screen class,Views,…`, a totals row), and the Data API's `runReport` JSON
  (dimension `pagePath`, metric `screenPageViews`, values as strings);
- Plausible: the dashboard export's zip (`pages.csv`: `name,visitors,pageviews,…`) and the Stats
  API v2 JSON (`results` of `dimensions` and `metrics`, named in `query`);
- Matomo: `Actions.getPageUrls` with `flat=1` as CSV or TSV (UTF-16LE with a BOM by default) or
  JSON: `label`, `nb_hits`, and `url` when asked for;
- Umami: the metrics API (`[{"x": "/path", "y": 450}]`) and the data export's raw event rows
  (`url_path`, `event_type` 1 for a page view), counted;
- Fathom: the aggregation API grouped by `pathname` (`pageviews`, as strings);
- anything else with a page column and a views column (`url,pageviews`), or `{"url": views}`.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Literal

from msgspec import Struct

from digest.config import MAX_BYTES
from digest.errors import InputError, parsing
from digest.files import read_member

Format = Literal["auto", "ga4", "plausible", "matomo", "umami", "fathom", "generic"]
Row = tuple[str, object, str]  # page, views as written, where (for messages)


class Export(Struct, frozen=True):
    format: str  # what it was read as: "ga4 csv", "plausible zip", …
    rows: list[tuple[str, int]]  # (page, views); totals rows left out
    period: tuple[dt.date, dt.date] | None = None  # the dates the export says it covers


_PAGE_COLUMNS = ("url", "page", "page url", "page path", "path", "landing page", "pathname", "label", "name")
_VIEW_COLUMNS = ("pageviews", "page views", "views", "screenpageviews", "nb_hits", "visits")
_GA4_PAGE = ("page path and screen class", "page path", "page path + query string", "page location")
_TOTALS = re.compile(r"^(grand )?totals?$", re.IGNORECASE)


def _column(names: Iterable[str], wanted: Iterable[str]) -> str | None:
    found = {name.strip().lower(): name for name in names}
    return next((found[w] for w in wanted if w in found), None)


def count(raw: object, where: str, label: str) -> int:
    """A view count as tools write it: 1234, "1234", "1,234", "1 234", 1234.0."""
    text = re.sub(r"[,\s\u00a0\u202f']", "", str(raw))
    try:
        value = float(text) if "." in text else int(text)
    except ValueError:
        raise InputError(f"{where}: page views {str(raw)!r} is not a number", path=label) from None
    if value < 0 or value != int(value):
        raise InputError(f"{where}: page views {str(raw)!r} is not a whole number", path=label)
    return int(value)


def decode(data: bytes, label: str) -> str:
    """Text in UTF-8 or UTF-16 (Matomo's default CSV), a byte-order mark or not."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(f"not UTF-8 or UTF-16 text (byte {error.start})", path=label) from None


# --- CSV and TSV


def _ga4_period(preamble: list[str]) -> tuple[dt.date, dt.date] | None:
    """GA4's preamble: "# Start date: 20251117" and "# End date: 20251123"."""
    found = {}
    for line in preamble:
        match = re.match(r"#\s*(Start|End) date:\s*(\d{8})", line, re.IGNORECASE)
        if match:
            found[match.group(1).lower()] = dt.datetime.strptime(match.group(2), "%Y%m%d").date()
    return (found["start"], found["end"]) if len(found) == 2 else None


def _table(text: str) -> tuple[list[str], csv.DictReader[str], int]:
    """The `#` comment lines before the header, and the rows (comma or tab separated)."""
    lines = text.splitlines(keepends=True)
    skip = 0
    while skip < len(lines) and (lines[skip].startswith("#") or not lines[skip].strip()):
        skip += 1
    header = lines[skip] if skip < len(lines) else ""
    delimiter = "\t" if header.count("\t") > header.count(",") else ","
    reader = csv.DictReader(io.StringIO("".join(lines[skip:])), delimiter=delimiter)
    return [line.strip() for line in lines[:skip]], reader, skip


def _from_table(text: str, label: str, forced: Format) -> Export:
    preamble, reader, skipped = _table(text)
    names = reader.fieldnames or []
    lowered = {n.strip().lower() for n in names}
    ga4_page = _column(names, _GA4_PAGE)
    page: str | None
    views: str | None
    if forced in ("ga4", "auto") and ga4_page and _column(names, ("views", "screenpageviews")):
        kind, page, views = "ga4 csv", ga4_page, _column(names, ("views", "screenpageviews"))
    elif forced in ("umami", "auto") and {"url_path", "event_type"} <= lowered:
        return _umami_events(reader)
    elif forced in ("matomo", "auto") and {"label", "nb_hits"} <= lowered:
        kind, views = "matomo csv", _column(names, ("nb_hits",))
        page = _column(names, ("url",)) or _column(names, ("label",))
    elif forced in ("plausible", "auto") and {"name", "pageviews"} <= lowered:
        kind, page, views = "plausible csv", _column(names, ("name",)), _column(names, ("pageviews",))
    else:
        kind, page, views = "csv", _column(names, _PAGE_COLUMNS), _column(names, _VIEW_COLUMNS)
    if page is None or views is None:
        raise InputError(
            f"no page column and page-view column found in {', '.join(names) or 'an empty header'}"
            " (a GA4, Plausible, Matomo or Umami export, or url,pageviews)",
            path=label,
        )
    rows: list[Row] = []
    for row in reader:
        cell = (row.get(page) or "").strip()
        if not cell or _TOTALS.match(cell):
            continue  # GA4 puts a totals row first, with an empty page or "Grand total"
        rows.append((cell, row.get(views) or "0", f"line {reader.line_num + skipped}"))
    return Export(kind, _counted(rows, label), _ga4_period(preamble) if kind == "ga4 csv" else None)


def _umami_events(reader: csv.DictReader[str]) -> Export:
    """Umami's raw event rows: each page view (event_type 1) is one view of its url_path."""
    views: dict[str, int] = {}
    for row in reader:
        if (row.get("event_type") or "1").strip() in ("1", "") and (
            path := (row.get("url_path") or "").strip()
        ):
            views[path] = views.get(path, 0) + 1
    return Export("umami events", list(views.items()))


def _counted(rows: Iterable[Row], label: str) -> list[tuple[str, int]]:
    return [(page, count(views, where, label)) for page, views, where in rows]


# --- JSON


def _ga4_report(data: Mapping[str, Any]) -> Iterator[Row]:
    dimensions = [d.get("name") for d in data.get("dimensionHeaders", [])]
    metrics = [m.get("name") for m in data.get("metricHeaders", [])]
    page = next(
        (
            dimensions.index(n)
            for n in ("pagePath", "pagePathPlusQueryString", "fullPageUrl", "pageLocation")
            if n in dimensions
        ),
        None,
    )
    views = next((metrics.index(n) for n in ("screenPageViews", "views") if n in metrics), None)
    if page is None or views is None:
        raise ValueError("a runReport answer without pagePath and screenPageViews")
    for number, row in enumerate(data.get("rows", []), start=1):
        yield row["dimensionValues"][page]["value"], row["metricValues"][views]["value"], f"row {number}"


def _plausible(data: Mapping[str, Any]) -> Iterator[Row]:
    metrics = list(data.get("query", {}).get("metrics", ["visitors"]))
    index = metrics.index("pageviews") if "pageviews" in metrics else 0
    for number, row in enumerate(data.get("results", []), start=1):
        yield row["dimensions"][0], row["metrics"][index], f"result {number}"


def _plausible_period(data: Mapping[str, Any]) -> tuple[dt.date, dt.date] | None:
    found = data.get("query", {}).get("date_range")
    if isinstance(found, list) and len(found) == 2:
        return dt.date.fromisoformat(str(found[0])[:10]), dt.date.fromisoformat(str(found[1])[:10])
    return None


def _records(data: list[Any], page_keys: Iterable[str], view_keys: Iterable[str]) -> Iterator[Row]:
    pages, views = tuple(page_keys), tuple(view_keys)
    for number, row in enumerate(data, start=1):
        if not isinstance(row, dict):
            raise ValueError(f"row {number} is not an object")
        page, view = _column(row, pages), _column(row, views)
        if page is None or view is None:
            raise ValueError(f"row {number} has no page and page-view fields")
        yield str(row[page]), row[view], f"row {number}"


def _json_reader(data: Any, forced: Format) -> tuple[str, Callable[[], Iterator[Row]]]:
    """Which tool wrote `data`, and how to read its rows."""
    if isinstance(data, dict) and "dimensionHeaders" in data and forced in ("ga4", "auto"):
        return "ga4 runReport json", lambda: _ga4_report(data)
    if isinstance(data, dict) and "results" in data and forced in ("plausible", "auto"):
        return "plausible api json", lambda: _plausible(data)
    if isinstance(data, dict) and forced in ("generic", "auto"):
        return "json", lambda: ((str(k), v, f"key {k!r}") for k, v in data.items())
    if not isinstance(data, list):
        raise ValueError("expected a list of rows, an object of page → views, or a known report")
    first = data[0] if data and isinstance(data[0], dict) else {}
    if {"x", "y"} <= first.keys() and forced in ("umami", "auto"):
        return "umami metrics json", lambda: _records(data, ("x",), ("y",))
    if "nb_hits" in first and forced in ("matomo", "auto"):
        return "matomo json", lambda: _records(data, ("url", "label"), ("nb_hits",))
    if "pathname" in first and forced in ("fathom", "auto"):
        return "fathom json", lambda: _records(data, ("pathname",), ("pageviews", "visits"))
    return "json", lambda: _records(data, _PAGE_COLUMNS, _VIEW_COLUMNS)


def _from_json(text: str, label: str, forced: Format) -> Export:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"invalid JSON at line {error.lineno}: {error.msg}", path=label) from None
    try:
        kind, rows = _json_reader(data, forced)
        counted = _counted(rows(), label)
    except (ValueError, KeyError, IndexError, TypeError) as error:
        raise InputError(f"not an analytics export digest knows: {error}", path=label) from None
    period = _plausible_period(data) if kind == "plausible api json" else None
    return Export(kind, counted, period)


# --- the front


def read_export(data: bytes, label: str, forced: Format = "auto", max_bytes: int = MAX_BYTES) -> Export:
    """An export's rows, whatever tool wrote it (or as `forced` says); a zip's member is inflated
    up to `max_bytes` (`sources.max_bytes`) and no further."""
    with parsing(label, "analytics export"):
        if data.startswith(b"PK\x03\x04"):
            return _from_zip(data, label, forced, max_bytes)
        text = decode(data, label)
        if text.lstrip()[:1] in ("{", "["):
            return _from_json(text, label, forced)
        return _from_table(text, label, forced)


def _from_zip(data: bytes, label: str, forced: Format, max_bytes: int) -> Export:
    """Plausible's dashboard export: a zip of CSVs, of which pages.csv has the page views."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            # The dashboard's export has pages.csv; the site-settings export, imported_pages_….csv.
            name = next((n for n in archive.namelist() if _is_pages(n.rsplit("/", 1)[-1])), None)
            if name is None:
                raise InputError("a zip without pages.csv (a Plausible export has one)", path=label)
            inner = read_member(archive, name, label, max_bytes, "sources.max_bytes")
    except zipfile.BadZipFile as error:
        raise InputError(f"a damaged zip: {error}", path=label) from None
    export = _from_table(decode(inner, label), f"{label}/pages.csv", forced)
    return Export("plausible zip", export.rows, _period_in_name(label))


def _is_pages(name: str) -> bool:
    return name == "pages.csv" or (name.startswith("imported_pages") and name.endswith(".csv"))


def _period_in_name(label: str) -> tuple[dt.date, dt.date] | None:
    """Plausible names its export after the site and the dates: example_org_20251117_20251123.zip."""
    dates = re.findall(r"(?<!\d)(\d{8})(?!\d)", label.rsplit("/", 1)[-1])
    try:
        if len(dates) == 2:
            start, end = (dt.datetime.strptime(d, "%Y%m%d").date() for d in dates)
            return start, end
    except ValueError:
        return None
    return None
