"""Feed figures: load + normalize throughput against feedparser alone; a slow feed among twenty."""

from __future__ import annotations

import datetime as dt
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import feedparser
import msgspec

from digest.build import build
from digest.config import Config
from digest.feeds.load import Source, load_sources
from digest.models import issue_moment
from digest.net import Limits
from digest.resources import sample_dir

ITEMS = 20_000
START = dt.datetime(2025, 11, 23, 12, tzinfo=dt.UTC)


def generated_feed(items: int) -> bytes:
    """An RSS 2.0 feed shaped like a news site's: categories, authors, HTML summaries, images."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:media="http://search.yahoo.com/mrss/"><channel><title>Bench</title>'
        "<link>https://bench.example/</link><language>en</language>"
    ]
    for n in range(items):
        when = format_datetime(START - dt.timedelta(minutes=7 * n))
        parts.append(
            f"<item><title>Story number {n}: a headline of ordinary length &amp; punctuation</title>"
            f"<link>https://bench.example/news/{n}?utm_source=rss</link><guid>bench-{n}</guid>"
            f"<pubDate>{when}</pubDate><dc:creator>Reporter {n % 37}</dc:creator>"
            f"<category>{('News', 'Analysis', 'Opinion')[n % 3]}</category>"
            '<description><![CDATA[<p>A first paragraph with <a href="/x">a link</a> and <b>bold</b> '
            "text, long enough to need an excerpt.</p><p>A second paragraph.</p>]]></description>"
            f'<media:content url="https://bench.example/img/{n}.jpg" medium="image" width="1200"/>'
            "</item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode()


def best_of(runs: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def throughput() -> None:
    data = generated_feed(ITEMS)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.rss"
        path.write_bytes(data)
        limits = Limits(max_bytes=len(data) + 1)
        parse_only = best_of(3, lambda: feedparser.parse(data))
        ours = best_of(3, lambda: load_sources([Source("big.rss", str(path))], limits=limits))
        loaded = load_sources([Source("big.rss", str(path))], limits=limits)
    assert len(loaded.feeds[0].items) == ITEMS
    print(f"feed of {ITEMS:,} items ({len(data) / 2**20:.1f} MiB), best of 3:")
    print(f"  {'feedparser.parse alone':<44} {parse_only:7.2f} s  {ITEMS / parse_only:9,.0f} items/s")
    print(
        f"  {'digest load + normalize (feedparser inside)':<44} {ours:7.2f} s  {ITEMS / ours:9,.0f} items/s"
    )
    print(f"  {'our overhead on top of feedparser':<44} {ours / parse_only:7.2f} x")


@contextmanager
def feed_server(slow_path: str, delay: float) -> Iterator[str]:
    body = (sample_dir() / "news.rss").read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == slow_path:
                time.sleep(delay)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def slow_feed_among_twenty() -> None:
    delay = 3.0
    with feed_server("/feed/0", delay) as base, tempfile.TemporaryDirectory() as folder:
        out = Path(folder)

        def build_from(paths: list[str]) -> float:
            config = msgspec.convert({"sources": {"feeds": [base + p for p in paths]}}, Config)
            start = time.perf_counter()
            build(config, issue_moment(dt.date(2025, 11, 24)), out / "issues", out / "state")
            return time.perf_counter() - start

        all_twenty = build_from([f"/feed/{n}" for n in range(20)])
        fast_nineteen = build_from([f"/feed/{n}" for n in range(1, 20)])
    print(f"build from 20 loopback feeds, one answering after {delay:g} s:")
    print(f"  {'all 20 (one slow)':<44} {all_twenty:7.2f} s")
    print(f"  {'the 19 fast ones alone':<44} {fast_nineteen:7.2f} s")
    print(f"  {'added by the slow feed':<44} {all_twenty - fast_nineteen:7.2f} s (others read meanwhile)")
