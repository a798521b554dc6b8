"""Which page a row of an analytics export is about, so that it meets the story it counts.

Exports name pages by path (GA4, Plausible, Umami, Fathom) or by URL (Matomo, a site's own),
on whichever host the reader used. A page's identity here is its host and path: a path is
resolved against `newsletter.url`; the hosts in `sources.site_urls` are the same site; `www.`
makes no difference; nor do the scheme, the query string, the fragment or a trailing slash.
Percent-encoding, IDN hosts and the like are normalised by w3lib (Scrapy's URL library).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from urllib.parse import urljoin, urlsplit


def canonicalize_url(url: str) -> str:
    from w3lib.url import canonicalize_url as canonical  # only when there are page views to match

    return str(canonical(url))


def _host(url: str) -> str:
    host = (urlsplit(canonicalize_url(url)).hostname or "").lower()
    return host.removeprefix("www.")


class Site:
    """The site whose pages the exports count: where paths resolve, and which hosts are it."""

    def __init__(self, base: str | None = None, aliases: tuple[str, ...] = ()) -> None:
        self.base = base  # newsletter.url: where paths are resolved
        main = _host(base) if base else ""
        # sources.site_urls: other hosts that serve the same pages
        self._hosts = {_host(alias): main for alias in aliases}

    def key(self, page: str) -> str | None:
        """The page's identity, "host/path"; None for a path when there is no base to resolve it."""
        page = page.strip()
        if "://" not in page:
            if not self.base:
                return None
            page = urljoin(self.base, page if page.startswith("/") else "/" + page)
        parts = urlsplit(canonicalize_url(page))
        host = (parts.hostname or "").lower().removeprefix("www.")
        host = self._hosts.get(host, host)
        return f"{host}{parts.path.rstrip('/') or '/'}"


class PageViews(Mapping[str, int]):
    """Page views by page, looked up by any URL of that page (a story's, say)."""

    def __init__(self, site: Site | None = None) -> None:
        self.site = site or Site()
        self.views: dict[str, int] = {}  # by key
        self.rows = 0  # rows read, over every file
        self.unresolved = 0  # paths with no newsletter.url to resolve them against
        self.formats: list[str] = []  # what each file was read as
        self.rows_by_page: dict[str, int] = {}  # rows read for each key
        self.periods: list[tuple[str, dt.date, dt.date]] = []  # (file, start, end)

    def add(self, page: str, views: int) -> None:
        self.rows += 1
        key = self.site.key(page)
        if key is None:
            self.unresolved += 1
        else:
            self.views[key] = self.views.get(key, 0) + views
            self.rows_by_page[key] = self.rows_by_page.get(key, 0) + 1

    def __getitem__(self, url: str) -> int:
        key = self.site.key(url)
        if key is None or key not in self.views:
            raise KeyError(url)
        return self.views[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.views)

    def __len__(self) -> int:
        return len(self.views)
