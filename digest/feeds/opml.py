"""OPML subscription lists, read with listparser: a list expands into the feeds it names."""

from __future__ import annotations

from msgspec import Struct

from digest.errors import SourceError
from digest.urls import safe_url


class Subscription(Struct, frozen=True):
    url: str
    title: str


def looks_like_opml(data: bytes) -> bool:
    head = data[:2048].lower()
    return b"<opml" in head


def read_opml(data: bytes, label: str) -> list[Subscription]:
    # Bytes, never a URL: listparser would fetch a URL itself, outside our limits.
    import listparser  # with requests under it: only when a list is read

    parsed = listparser.parse(data)
    subscriptions: list[Subscription] = []
    seen: set[str] = set()
    for feed in parsed.get("feeds") or []:
        url = safe_url(feed.get("url"))
        if url and url not in seen:
            seen.add(url)
            subscriptions.append(Subscription(url, (feed.get("title") or "").strip()))
    if not subscriptions:
        problem = parsed.get("bozo_exception")
        detail = f" ({' '.join(str(problem).split())[:160]})" if problem else ""
        raise SourceError(f"an OPML list with no feed URLs in it{detail}", path=label)
    return subscriptions
