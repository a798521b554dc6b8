"""Every source of the issue read at once, each failure kept to its own source.

Local files and URLs, RSS/Atom/JSON Feed and OPML lists (one level: a list's feeds
are read, a list inside a list is not followed). URL feeds go through the feed
cache for conditional GET: an unchanged feed costs a 304 and is not parsed again.
This is the only stage that reads feeds or touches the network.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from msgspec import Struct

from digest.errors import DigestError, SourceError, parsing
from digest.feeds.fetch import client, fetch, read_file
from digest.feeds.normalize import normalize_feed
from digest.feeds.opml import Subscription
from digest.feeds.parse import parse_document
from digest.models import Feed, SourceReport, SourceStatus
from digest.net import Limits
from digest.state import State
from digest.urls import is_url

if TYPE_CHECKING:
    import httpx

NESTED_LIST = "an OPML list inside an OPML list is not followed"
# Feeds read at once. Politeness to servers and to our own file descriptors; a feed's time
# limit starts when its turn comes, so a long OPML list does not time out in the queue.
CONCURRENCY = 16


class Source(Struct, frozen=True):
    label: str  # as the user named it: in messages and the manifest
    location: str  # the resolved path or URL
    via: str | None = None  # the OPML list that named it


class RawFeed(Struct, frozen=True):
    """A source as it was read, for the issue's snapshot: its bytes (None when the feed cache
    answered, after a 304) and the HTTP validators."""

    label: str
    location: str
    data: bytes | None
    etag: str | None = None
    last_modified: str | None = None


class Loaded(Struct, frozen=True):
    feeds: tuple[Feed, ...]
    reports: tuple[SourceReport, ...]
    raw: tuple[RawFeed, ...] = ()


class _Result(Struct, frozen=True):
    source: Source
    feed: Feed | None = None
    subscriptions: tuple[Subscription, ...] = ()
    error: str | None = None
    not_modified: bool = False
    validators: tuple[str | None, str | None] | None = None  # (ETag, Last-Modified) to remember
    data: bytes | None = None  # the bytes read, when they were


def _from_bytes(
    source: Source, data: bytes, base: str, limits: Limits, validators: tuple[str | None, str | None] | None
) -> _Result:
    with parsing(source.label, "feed", SourceError):  # a feed nested too deep is the feed's fault
        document = parse_document(data, source.label, base, limits)
        if isinstance(document, list):
            return _Result(source, subscriptions=tuple(document))
        feed = normalize_feed(document, source.label, base)
    if feed.skipped and not feed.items:
        return _Result(source, error=f"none of its {feed.skipped} entries links to a web page")
    return _Result(source, feed=feed, validators=validators, data=data)


class _Reader(Struct, frozen=True):
    """What reading a round of sources needs: the limits, the feed cache (`state`), the HTTP
    transport (tests) and the feeds already read, by location (the preview's)."""

    limits: Limits
    state: State | None
    transport: httpx.AsyncBaseTransport | None
    reuse: Mapping[str, Feed]

    def round(self, sources: Sequence[Source]) -> list[_Result]:
        """Files are read one after another; when there are URLs to fetch, everything goes through
        one event loop and one HTTP client, so feeds download at once. A build of local files
        never starts a loop (asyncio and httpx: some 40 ms of a cold build)."""
        if any(self._to_fetch(s) for s in sources):
            import asyncio

            return asyncio.run(self._fetch_all(sources))
        return [self._read_local(s) for s in sources]

    def _to_fetch(self, source: Source) -> bool:
        return is_url(source.location) and source.location not in self.reuse

    def _read_local(self, source: Source) -> _Result:
        if source.location in self.reuse:
            return _Result(source, feed=self.reuse[source.location], not_modified=True)
        try:
            data = read_file(source.location, source.label, self.limits)
            return _from_bytes(source, data, "", self.limits, None)
        except DigestError as error:
            return _Result(source, error=error.message)

    async def _fetch_all(self, sources: Sequence[Source]) -> list[_Result]:
        import asyncio

        slots = asyncio.Semaphore(CONCURRENCY)
        async with client(self.limits, self.transport) as http:

            async def turn(source: Source) -> _Result:
                if not self._to_fetch(source):
                    return self._read_local(source)
                async with slots:
                    return await self._fetch_remote(source, http)

            return await asyncio.gather(*(turn(s) for s in sources))

    async def _fetch_remote(self, source: Source, http: httpx.AsyncClient) -> _Result:
        try:
            cached = self.state.cached_feed(source.location) if self.state else None
            fetched = await fetch(
                http,
                source.location,
                self.limits,
                etag=cached.etag if cached else None,
                last_modified=cached.last_modified if cached else None,
            )
            if fetched.not_modified and cached:
                return _Result(source, feed=cached.feed, not_modified=True)
            validators = (fetched.etag, fetched.last_modified)
            return _from_bytes(source, fetched.body, fetched.url, self.limits, validators)
        except DigestError as error:
            return _Result(source, error=error.message)


def _with_listed(
    sources: Sequence[Source], load_round: Callable[[Sequence[Source]], list[_Result]]
) -> list[_Result]:
    """The sources, then the feeds their OPML lists name, each after its list."""
    first = load_round(sources)
    listed = [Source(sub.url, sub.url, via=r.source.label) for r in first for sub in r.subscriptions]
    second = load_round(listed) if listed else []
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
        return SourceReport(source.label, SourceStatus.FAILED, error=result.error, via=source.via)
    feed = result.feed
    status = SourceStatus.NOT_MODIFIED if result.not_modified else SourceStatus.OK
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
    results = _with_listed(sources, _Reader(limits, state, transport, reuse or {}).round)
    if state:  # written here, in one thread, once every fetch is done
        for result in results:
            if result.feed and result.validators and any(result.validators):
                state.remember_feed(result.source.location, *result.validators, result.feed)
    reports = tuple(r for r in map(_report, results) if r is not None)
    feeds = tuple(r.feed for r in results if r.feed is not None)
    raw = tuple(
        RawFeed(r.source.label, r.source.location, r.data, *(r.validators or (None, None)))
        for r in results
        if r.feed is not None
    )
    return Loaded(feeds, reports, raw)


def read_feed(location: str, label: str | None = None, limits: Limits | None = None) -> Feed:
    """One feed (path or URL), read and normalized; a failure raises `SourceError`."""
    source = Source(label or location, location)
    loaded = load_sources([source], limits=limits or Limits())
    if len(loaded.feeds) == 1 and len(loaded.reports) == 1:
        return loaded.feeds[0]
    failed = next((r for r in loaded.reports if r.error), None)
    problem = failed.error if failed else "an OPML list, not a feed"
    raise SourceError(problem or "unreadable", path=source.label)
