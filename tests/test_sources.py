"""The sources stage: many feeds at once, every format, each failure kept to its own source."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from digest.errors import SourceError
from digest.feeds.load import Source, load_sources, read_feed
from digest.net import Limits
from digest.state import open_state

from .conftest import SAMPLE, HttpServer, Route

FEED = (SAMPLE / "news.rss").read_bytes()

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom one</title><id>urn:a</id>
<updated>2025-11-20T10:00:00Z</updated>
<entry><title>From Atom</title><id>urn:a:1</id><link href="https://a.example/1"/>
<updated>2025-11-20T10:00:00Z</updated><summary>Hello</summary></entry></feed>"""

JSON_FEED = json.dumps(
    {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "JSON one",
        "items": [{"id": "j1", "url": "https://j.example/1", "title": "From JSON", "content_text": "Hi"}],
    }
).encode()


def test_the_sample_feed_reads_as_thirty_items() -> None:
    feed = read_feed(str(SAMPLE / "news.rss"), "news.rss")
    assert feed.title == "CommonGround"
    assert feed.language == "en"
    assert len(feed.items) == 30
    assert all(item.sources == ("news.rss",) for item in feed.items)


def test_rss_atom_and_json_feed_files_read_side_by_side(tmp_path: Path) -> None:
    (tmp_path / "a.atom").write_bytes(ATOM)
    (tmp_path / "j.json").write_bytes(JSON_FEED)
    sources = [Source(name, str(tmp_path / name)) for name in ("a.atom", "j.json")]
    sources.insert(0, Source("news.rss", str(SAMPLE / "news.rss")))
    loaded = load_sources(sources, limits=Limits())
    assert [f.title for f in loaded.feeds] == ["CommonGround", "Atom one", "JSON one"]
    assert [(r.source, r.status, r.items) for r in loaded.reports] == [
        ("news.rss", "ok", 30),
        ("a.atom", "ok", 1),
        ("j.json", "ok", 1),
    ]


def test_one_failing_source_does_not_sink_the_others(tmp_path: Path, http_server: HttpServer) -> None:
    http_server.routes["/ok"] = Route(body=ATOM)
    http_server.routes["/broken"] = Route(500, b"oops")
    sources = [
        Source("missing.rss", str(tmp_path / "missing.rss")),
        Source("broken", http_server.url("/broken")),
        Source("ok", http_server.url("/ok")),
    ]
    loaded = load_sources(sources, limits=Limits())
    assert [f.title for f in loaded.feeds] == ["Atom one"]
    assert [(r.source, r.status, r.error) for r in loaded.reports] == [
        ("missing.rss", "failed", "no such file"),
        ("broken", "failed", "HTTP 500 Internal Server Error"),
        ("ok", "ok", None),
    ]


def test_feeds_are_fetched_concurrently(http_server: HttpServer) -> None:
    for n in range(5):
        http_server.routes[f"/slow{n}"] = Route(body=ATOM, delay=1.0)
    start = time.monotonic()
    loaded = load_sources([Source(f"s{n}", http_server.url(f"/slow{n}")) for n in range(5)], limits=Limits())
    elapsed = time.monotonic() - start
    assert len(loaded.feeds) == 5
    assert elapsed < 4.0, f"five 1-second feeds took {elapsed:.1f} s: they were read one after another"


def test_an_opml_list_expands_into_its_feeds(tmp_path: Path, http_server: HttpServer) -> None:
    http_server.routes["/a"] = Route(body=ATOM)
    http_server.routes["/j"] = Route(body=JSON_FEED)
    opml = f"""<?xml version="1.0"?><opml version="2.0"><head><title>Mine</title></head><body>
      <outline text="A" xmlUrl="{http_server.url("/a")}"/>
      <outline text="Folder"><outline text="J" xmlUrl="{http_server.url("/j")}"/></outline>
      <outline text="Gone" xmlUrl="{http_server.url("/gone")}"/>
    </body></opml>"""
    (tmp_path / "subs.opml").write_text(opml)
    loaded = load_sources([Source("subs.opml", str(tmp_path / "subs.opml"))], limits=Limits())
    assert [f.title for f in loaded.feeds] == ["Atom one", "JSON one"]
    assert [(r.source, r.status, r.via) for r in loaded.reports] == [
        (http_server.url("/a"), "ok", "subs.opml"),
        (http_server.url("/j"), "ok", "subs.opml"),
        (http_server.url("/gone"), "failed", "subs.opml"),
    ]


def test_an_opml_list_inside_a_list_is_not_followed(tmp_path: Path, http_server: HttpServer) -> None:
    inner = b'<opml version="2.0"><body><outline xmlUrl="http://127.0.0.1:9/x"/></body></opml>'
    http_server.routes["/inner.opml"] = Route(body=inner)
    outer = f'<opml version="2.0"><body><outline xmlUrl="{http_server.url("/inner.opml")}"/></body></opml>'
    (tmp_path / "outer.opml").write_text(outer)
    loaded = load_sources([Source("outer.opml", str(tmp_path / "outer.opml"))], limits=Limits())
    assert loaded.feeds == ()
    [report] = loaded.reports
    assert report.error == "an OPML list inside an OPML list is not followed"
    assert http_server.hits("/x") == 0


def test_an_unchanged_feed_costs_a_304_and_comes_from_the_cache(
    tmp_path: Path, http_server: HttpServer
) -> None:
    http_server.routes["/rss"] = Route(body=FEED, etag='"v1"')
    source = [Source("rss", http_server.url("/rss"))]
    with open_state(tmp_path / "state") as state:
        first = load_sources(source, limits=Limits(), state=state)
    with open_state(tmp_path / "state") as state:
        second = load_sources(source, limits=Limits(), state=state)
    assert [r.status for r in first.reports + second.reports] == ["ok", "not_modified"]
    assert second.feeds == first.feeds
    assert http_server.requests[1][1].get("If-None-Match") == '"v1"'
    # A changed feed is fetched and parsed again.
    http_server.routes["/rss"] = Route(body=ATOM, etag='"v2"')
    with open_state(tmp_path / "state") as state:
        third = load_sources(source, limits=Limits(), state=state)
    assert [f.title for f in third.feeds] == ["Atom one"]


def test_last_modified_is_sent_back_as_if_modified_since(tmp_path: Path, http_server: HttpServer) -> None:
    stamp = "Mon, 24 Nov 2025 06:00:00 GMT"
    http_server.routes["/rss"] = Route(body=FEED, headers={"Last-Modified": stamp})
    with open_state(tmp_path) as state:
        load_sources([Source("rss", http_server.url("/rss"))], limits=Limits(), state=state)
        load_sources([Source("rss", http_server.url("/rss"))], limits=Limits(), state=state)
    assert http_server.requests[1][1].get("If-Modified-Since") == stamp


def test_read_feed_raises_for_a_failing_source(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as caught:
        read_feed(str(tmp_path / "gone.rss"), "feeds/gone.rss")
    assert str(caught.value) == "feeds/gone.rss: no such file"
