"""The sources stage: every feed of the issue read at once, each failure kept to its own source.

Local files and URLs, RSS/Atom/JSON Feed and OPML lists (one level: a list's feeds
are read, a list inside a list is not followed). URL feeds go through the feed
cache for conditional GET: an unchanged feed costs a 304 and is not parsed again.
This is the only stage that reads inputs or touches the network.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx

from digest.errors import DigestError, InputError, SourceError, read_input
from digest.feeds.fetch import Limits, client, fetch, read_file
from digest.feeds.normalize import normalize_feed
from digest.feeds.opml import Subscription
from digest.feeds.parse import parse_document
from digest.models import Feed
from digest.state import State
from digest.urls import canonical_url, is_url

NESTED_LIST = "an OPML list inside an OPML list is not followed"
# Feeds read at once. Politeness to servers and to our own file descriptors; a feed's time
# limit starts when its turn comes, so a long OPML list does not time out in the queue.
CONCURRENCY = 16


@dataclass(frozen=True, slots=True)
class Source:
    label: str  # as the user named it: in messages and the manifest
    location: str  # the resolved path or URL
    via: str | None = None  # the OPML list that named it


@dataclass(frozen=True, slots=True)
class SourceReport:
    source: str
    status: str  # "ok", "not_modified" (served from the feed cache) or "failed"
    items: int = 0
    title: str | None = None
    error: str | None = None
    via: str | None = None
    skipped: int = 0  # entries without a usable link


@dataclass(frozen=True, slots=True)
class Loaded:
    feeds: tuple[Feed, ...]
    reports: tuple[SourceReport, ...]


@dataclass(frozen=True, slots=True)
class _Result:
    source: Source
    feed: Feed | None = None
    subscriptions: tuple[Subscription, ...] = ()
    error: str | None = None
    not_modified: bool = False
    validators: tuple[str | None, str | None] | None = None  # (ETag, Last-Modified) to remember


async def _load_one(
    source: Source,
    http: httpx.AsyncClient | None,
    limits: Limits,
    state: State | None,
    reuse: Mapping[str, Feed],
) -> _Result:
    if source.location in reuse:
        return _Result(source, feed=reuse[source.location], not_modified=True)
    try:
        if is_url(source.location) and http is not None:
            cached = state.cached_feed(source.location) if state else None
            fetched = await fetch(
                http,
                source.location,
                limits,
                etag=cached.etag if cached else None,
                last_modified=cached.last_modified if cached else None,
            )
            if fetched.not_modified and cached:
                return _Result(source, feed=cached.feed, not_modified=True)
            data, base = fetched.body, fetched.url
            validators = (fetched.etag, fetched.last_modified)
        else:
            data, base, validators = read_file(source.location, source.label, limits), "", None
        document = parse_document(data, source.label, base, limits)
        if isinstance(document, list):
            return _Result(source, subscriptions=tuple(document))
        feed = normalize_feed(document, source.label, base)
        if feed.skipped and not feed.items:
            return _Result(source, error=f"none of its {feed.skipped} entries links to a web page")
        return _Result(source, feed=feed, validators=validators)
    except DigestError as error:
        return _Result(source, error=error.message)


async def _load_all(
    sources: Sequence[Source],
    limits: Limits,
    state: State | None,
    transport: httpx.AsyncBaseTransport | None,
    reuse: Mapping[str, Feed],
) -> list[_Result]:
    slots = asyncio.Semaphore(CONCURRENCY)
    async with AsyncExitStack() as stack:
        http: httpx.AsyncClient | None = None

        async def load(batch: Sequence[Source]) -> list[_Result]:
            nonlocal http
            # The HTTP client (and its TLS context, some 20 ms) only when a URL is to be read.
            if http is None and any(is_url(s.location) for s in batch):
                http = await stack.enter_async_context(client(limits, transport))
            return await asyncio.gather(*(turn(s) for s in batch))

        async def turn(source: Source) -> _Result:
            async with slots:
                return await _load_one(source, http, limits, state, reuse)

        first = await load(sources)
        listed = [Source(sub.url, sub.url, via=r.source.label) for r in first for sub in r.subscriptions]
        second = await load(listed)
    # A list inside a list is not followed: one level keeps the fan-out bounded.
    second = [_Result(r.source, error=NESTED_LIST) if r.subscriptions else r for r in second]
    results: list[_Result] = []
    for result in first:
        results.append(result)
        results.extend(r for r in second if r.source.via == result.source.label)
    return results


def _report(result: _Result) -> SourceReport | None:
    source = result.source
    if result.subscriptions:
        return None  # an OPML list: its feeds are reported one by one
    if result.feed is None:
        return SourceReport(source.label, "failed", error=result.error, via=source.via)
    feed = result.feed
    status = "not_modified" if result.not_modified else "ok"
    return SourceReport(
        source.label, status, len(feed.items), feed.title, via=source.via, skipped=feed.skipped
    )


def load_sources(
    sources: Sequence[Source],
    *,
    limits: Limits,
    state: State | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    reuse: Mapping[str, Feed] | None = None,
) -> Loaded:
    """Read every source concurrently; a failing source is reported, never raised.

    `reuse`: feeds already read, by location, taken as they are (the preview's URL feeds).
    """
    results = asyncio.run(_load_all(sources, limits, state, transport, reuse or {}))
    if state:  # written here, in one thread, once every fetch is done
        for result in results:
            if result.feed and result.validators and any(result.validators):
                state.remember_feed(result.source.location, *result.validators, result.feed)
    reports = tuple(r for r in map(_report, results) if r is not None)
    feeds = tuple(r.feed for r in results if r.feed is not None)
    return Loaded(feeds, reports)


def read_feed(location: str, label: str | None = None, limits: Limits | None = None) -> Feed:
    """One feed (path or URL), read and normalized; a failure raises `SourceError`."""
    source = Source(label or location, location)
    loaded = load_sources([source], limits=limits or Limits())
    if len(loaded.feeds) == 1 and len(loaded.reports) == 1:
        return loaded.feeds[0]
    failed = next((r for r in loaded.reports if r.error), None)
    problem = failed.error if failed else "an OPML list, not a feed"
    raise SourceError(problem or "unreadable", path=source.label)


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
