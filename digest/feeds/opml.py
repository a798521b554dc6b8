"""OPML subscription lists, read with listparser: a list expands into the feeds it names."""

from __future__ import annotations

from msgspec import Struct

from digest.errors import SourceError
from digest.urls import safe_url

# Feeds one list may name: a reader's whole subscription list is a few hundred. More would keep
# a build fetching for hours (16 at a time, each up to `sources.timeout`).
MAX_SUBSCRIPTIONS = 1000


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
            if len(seen) == MAX_SUBSCRIPTIONS:
                raise SourceError(
                    f"an OPML list of more than {MAX_SUBSCRIPTIONS:,} feeds, refused", path=label
                )
            seen.add(url)
            subscriptions.append(Subscription(url, (feed.get("title") or "").strip()))
    if not subscriptions:
        problem = parsed.get("bozo_exception")
        detail = f" ({' '.join(str(problem).split())[:160]})" if problem else ""
        raise SourceError(f"an OPML list with no feed URLs in it{detail}", path=label)
    return subscriptions
