"""Every file of the shared feed corpus becomes a digest or is refused in one line naming it.

The corpus (real feeds nobody on this project wrote) lives beside the project in
../shared/corpus/; these tests skip, saying so, where it is absent.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import lxml.html
import msgspec
import pytest

from digest.build import read_inputs
from digest.config import Config
from digest.errors import SourceError
from digest.feeds.load import read_feed

from .conftest import CORPUS, Cli, HttpServer, Route

FEEDS = CORPUS / "feeds"
FILES = sorted(p for p in FEEDS.glob("*/*") if p.suffix != ".opml") if FEEDS.is_dir() else []
OPML = sorted(FEEDS.glob("*/*.opml")) if FEEDS.is_dir() else []
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not FEEDS.is_dir(), reason=f"the feed corpus is absent ({FEEDS})"),
]

# Files that must be refused: web pages; a JSON Feed cut off mid-way; Dave Winer's "RSS in
# JSON", which is not JSON Feed; and feeds whose entries link to no web page (a tag: URI, an
# Atom entry document, or no link at all), which a digest cannot point readers to.
NOT_FEEDS = {
    "edge/atom-with-tag-uri-links.xml",
    "edge/complexNamespaceFeed.xml",
    "realsites/ScriptingNews.json",
    "realsites/authors.json",
    "realsites/jsonfeed-extension.json",
    "realsites/DaringFireball.html",
    "realsites/YouTubeTheVolvoRocks.html",
    "realsites/coco.html",
    "realsites/furbo.html",
    "realsites/inessential.html",
    "realsites/sixcolors.html",
    "realsites/allthis-partial.json",
    "edge/notafeed.html",
}


def name(path: Path) -> str:
    return str(path.relative_to(FEEDS))


def issue_date(path: Path) -> str:
    """The day after the file's newest story, so that its stories fall in the issue's window."""
    try:
        dates = [i.published for i in read_feed(str(path)).items if i.published]
    except SourceError:
        dates = []
    return (max(dates) + dt.timedelta(days=1)).date().isoformat() if dates else "2026-01-01"


@pytest.mark.parametrize("path", FILES, ids=name)
def test_a_corpus_file_becomes_a_digest_or_is_refused_in_one_line(cli: Cli, path: Path) -> None:
    result = cli(
        "build", "--feed", str(path), "--date", issue_date(path), env={"DIGEST_SELECTION__WINDOW_DAYS": "366"}
    )
    assert "Traceback" not in result.output
    if name(path) in NOT_FEEDS:
        assert result.exit_code == 4, result.output
        [line] = result.stderr.splitlines()
        assert line.startswith(f"digest: error: no feed could be read: {path}: ")
        return
    assert result.exit_code == 0, result.stderr
    folder = Path(result.stdout.splitlines()[-1])
    html = (folder / "index.html").read_text()
    assert html.startswith("<!doctype html>") and len(html.encode()) < 100_000
    tree = lxml.html.fromstring(html)
    assert all(img.get("alt") for img in tree.xpath("//img"))
    assert all(a.get("href", "").startswith(("https://", "http://")) for a in tree.xpath("//a"))
    assert not re.search(r"<script|javascript:", html, re.IGNORECASE)
    text = (folder / "digest.txt").read_text()
    # Markup never reaches the text part (an article may still quote "<title>" as words).
    assert not re.search(r"</?(p|a|img|br|div|span|b|i|em|strong)\b[^>]*>", text)
    checked = cli("check", str(folder))
    assert checked.exit_code == 0, checked.stdout


class _ToLoopback(httpx.AsyncBaseTransport):
    """Sends every request to the test server on loopback, whatever host the URL names:
    the OPML lists name real sites, and tests never leave the machine."""

    def __init__(self, server: HttpServer) -> None:
        self.server = server
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.url = httpx.URL(self.server.url("/feed"))
        return await self.inner.handle_async_request(request)


@pytest.fixture
def feed_server(http_server: HttpServer) -> Iterator[HttpServer]:
    http_server.routes["/feed"] = Route(body=(FEEDS / "edge" / "rss2sample.xml").read_bytes())
    yield http_server


@pytest.mark.parametrize("path", OPML, ids=name)
def test_an_opml_list_from_the_corpus_expands_into_its_feeds(
    path: Path, feed_server: HttpServer, tmp_path: Path
) -> None:
    subscriptions = len(re.findall(rb"xmlUrl=", path.read_bytes(), re.IGNORECASE))
    config = msgspec.convert({"sources": {"feeds": [str(path)]}}, Config)
    inputs = read_inputs(config, transport=_ToLoopback(feed_server))
    assert len(inputs.reports) == subscriptions > 100
    assert all(r.status == "ok" and r.via == str(path) for r in inputs.reports)
    assert threading.active_count() < 50  # concurrency by coroutines, not a thread per feed
    # Every subscription names the same served feed, so its stories collapse into one set.
    assert len(inputs.items) == 4
