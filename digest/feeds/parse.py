"""Bytes → a parsed document, whatever the format: RSS and Atom (feedparser), JSON Feed (our
reader), an OPML list (its subscriptions), gzip (inflated first). Anything else is refused
with a reason, and an HTML page that names its feed says which."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from digest._lazy import defer_import
from digest.errors import SourceError
from digest.feeds.fetch import gunzip, is_gzip
from digest.feeds.jsonfeed import looks_like_json, parse_json_feed
from digest.feeds.opml import Subscription, looks_like_opml, read_opml
from digest.net import Limits
from digest.urls import safe_url

_FEED_TYPES = {
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
    "application/json",
}
_SAX_POSITION = re.compile(r"^<unknown>:(\d+):(\d+): ")


class _FeedLinks(HTMLParser):
    """Collects `<link rel="alternate" type="application/rss+xml" href=...>` (feed autodiscovery)."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "link":
            return
        values = {k: (v or "") for k, v in attrs}
        rels = values.get("rel", "").lower().split()
        if "alternate" in rels and values.get("type", "").lower() in _FEED_TYPES and values.get("href"):
            self.links.append(values["href"])


def _advertised_feed(data: bytes, base: str) -> str | None:
    finder = _FeedLinks()
    try:
        finder.feed(data[:262144].decode("utf-8", errors="replace"))
    except Exception:  # a page this broken has no feed link worth reporting
        return None
    for link in finder.links:
        # Resolved when we know where the page came from; a relative one as written (local files).
        url = safe_url(link, base) or (link if re.match(r"^[\w./~-]+$", link) else None)
        if url:
            return url
    return None


def _why_not(parsed: Any, data: bytes, base: str) -> str:
    head = data[:1024].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        link = _advertised_feed(data, base)
        return f"an HTML page, not a feed (it names its feed: {link})" if link else "an HTML page, not a feed"
    problem = parsed.get("bozo_exception")
    if problem:
        text = " ".join(str(problem).split())
        text = _SAX_POSITION.sub(lambda m: f"line {m[1]}, column {m[2]}: ", text)
        return f"not a feed: {text[:200]}"
    return "not a feed: no RSS, Atom or JSON Feed found"


def parse_document(data: bytes, label: str, base: str, limits: Limits) -> dict[str, Any] | list[Subscription]:
    """A feedparser-shaped feed document, or the subscriptions of an OPML list."""
    if is_gzip(data):
        data = gunzip(data, label, limits)
    if not data.strip():
        raise SourceError("empty, not a feed", path=label)
    if looks_like_json(data):
        return parse_json_feed(data, label)
    if looks_like_opml(data):
        return read_opml(data, label)
    defer_import("chardet")  # feedparser's encoding guesser: only for a feed whose encoding fails
    import feedparser  # here: a build whose feeds are JSON Feeds or answered 304 never loads it

    # Bytes, never a URL or a path: feedparser must not fetch or open anything itself. Its HTML
    # passes are off: nh3 sanitizes every piece of HTML digest keeps (normalize.py), and an image
    # URL is resolved there; feedparser's relative-URI pass also reopened `<iframe … />` and hid
    # the rest of the entry. The whole corpus gives the same stories either way.
    parsed: dict[str, Any] = feedparser.parse(
        data,
        response_headers={"content-location": base} if base else {},
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    if not parsed.get("entries") and (parsed.get("bozo") or not parsed.get("version")):
        raise SourceError(_why_not(parsed, data, base), path=label)
    return parsed
