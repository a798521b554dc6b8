"""The sources stage: the only place that reads feeds and input files (and the network).

It returns raw inputs for `normalize`; nothing else in the pipeline does I/O on inputs.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import feedparser
import httpx

from digest import __version__
from digest.config import is_url
from digest.errors import InputError, SourceError
from digest.models import Feed
from digest.normalize import normalize_feed

# A feed larger than this is refused, not parsed: a news feed is well under 5 MB, and
# feedparser holds the whole document in memory several times over.
MAX_FEED_BYTES = 20 * 1024 * 1024
USER_AGENT = f"digest/{__version__} (newsletter digest generator)"
TIMEOUT = httpx.Timeout(20.0, connect=5.0)


def _read_file(path: str, label: str) -> bytes:
    try:
        with Path(path).open("rb") as handle:
            data = handle.read(MAX_FEED_BYTES + 1)
    except FileNotFoundError:
        raise SourceError("no such file", path=label) from None
    except IsADirectoryError:
        raise SourceError("is a folder, not a feed file", path=label) from None
    except OSError as error:
        raise SourceError(f"cannot read: {error.strerror or error}", path=label) from None
    if len(data) > MAX_FEED_BYTES:
        raise SourceError(f"larger than {MAX_FEED_BYTES // 2**20} MB, refused", path=label)
    return data


def _read_url(url: str) -> tuple[bytes, str]:
    """The body and the final URL (after redirects), read with a size cap."""
    headers = {"User-Agent": USER_AGENT, "Accept": "application/rss+xml, application/atom+xml, */*"}
    try:
        with (
            httpx.Client(timeout=TIMEOUT, follow_redirects=True, max_redirects=5) as client,
            client.stream("GET", url, headers=headers) as response,
        ):
            if response.status_code >= 400:
                raise SourceError(f"HTTP {response.status_code} {response.reason_phrase}", path=url)
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_FEED_BYTES:
                    raise SourceError(
                        f"larger than {MAX_FEED_BYTES // 2**20} MB, refused", path=url
                    )
            return bytes(body), str(response.url)
    except httpx.TooManyRedirects:
        raise SourceError("too many redirects", path=url) from None
    except httpx.TimeoutException:
        raise SourceError("timed out", path=url) from None
    except httpx.HTTPError as error:
        raise SourceError(f"cannot fetch: {error}", path=url) from None


def load_feed(source: str, location: str) -> Feed:
    """Read and parse one feed.

    `source` is the name the user gave (used in messages); `location` the resolved path or URL.
    """
    if is_url(location):
        data, base = _read_url(location)
    else:
        data, base = _read_file(location, source), ""
    if not data.strip():
        raise SourceError("empty file, not a feed", path=source)
    # Parsing bytes (never a URL or path) keeps feedparser itself off the network and the disk.
    parsed = feedparser.parse(data, response_headers={"content-location": base} if base else None)
    if not parsed.get("entries") and (parsed.get("bozo") or not parsed.get("version")):
        problem = parsed.get("bozo_exception")
        detail = f": {_one_line(str(problem))}" if problem else ""
        raise SourceError(f"not a feed{detail}", path=source)
    return normalize_feed(parsed, source)


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]


_URL_COLUMNS = ("url", "page", "page url", "page path", "path", "landing page")
_VIEW_COLUMNS = ("pageviews", "page views", "views", "screenpageviews", "visits")


def load_analytics(path: str, label: str) -> dict[str, int]:
    """Page views by URL from a CSV export with a header row (common column names accepted)."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError("analytics file not found", path=label) from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read analytics: {error}", path=label) from None
    reader = csv.DictReader(io.StringIO(text))
    columns = {name.strip().lower(): name for name in reader.fieldnames or ()}
    url_column = next((columns[c] for c in _URL_COLUMNS if c in columns), None)
    view_column = next((columns[c] for c in _VIEW_COLUMNS if c in columns), None)
    if url_column is None or view_column is None:
        raise InputError("needs a 'url' and a 'pageviews' column", path=label)
    views: dict[str, int] = {}
    for row in reader:
        url = (row.get(url_column) or "").strip()
        raw = (row.get(view_column) or "").strip().replace(",", "")
        if not url:
            continue
        try:
            count = int(raw)
        except ValueError:
            line = reader.line_num
            raise InputError(
                f"line {line}: page views {raw!r} is not a whole number", path=label
            ) from None
        views[url] = views.get(url, 0) + count
    return views
