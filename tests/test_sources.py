"""The sources stage: feeds from files and from a loopback HTTP server; the analytics export."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from digest.errors import InputError, SourceError
from digest.sources import USER_AGENT, load_analytics, load_feed

from .conftest import SAMPLE, HttpServer, Route

FEED = (SAMPLE / "news.rss").read_bytes()


def test_the_sample_feed_reads_as_thirty_items() -> None:
    feed = load_feed("news.rss", str(SAMPLE / "news.rss"))
    assert feed.title == "CommonGround"
    assert feed.language == "en"
    assert len(feed.items) == 30
    assert all(item.feed == "news.rss" for item in feed.items)


def test_a_missing_file_names_the_feed(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as caught:
        load_feed("feeds/gone.rss", str(tmp_path / "gone.rss"))
    assert str(caught.value) == "feeds/gone.rss: no such file"


def test_a_folder_is_not_a_feed(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="is a folder"):
        load_feed("x", str(tmp_path))


@pytest.mark.parametrize(
    "body",
    [b"", b"\x00\x01\x02garbage\xff" * 100, b"<html><body><p>Hello</p></body></html>", b"{}"],
    ids=["empty", "binary", "html-page", "json"],
)
def test_something_that_is_not_a_feed_is_refused_in_one_line(tmp_path: Path, body: bytes) -> None:
    path = tmp_path / "feed.xml"
    path.write_bytes(body)
    with pytest.raises(SourceError) as caught:
        load_feed("feed.xml", str(path))
    assert str(caught.value).startswith("feed.xml: ")
    assert "not a feed" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_feed_over_the_size_cap_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("digest.sources.MAX_FEED_BYTES", 1000)
    path = tmp_path / "big.rss"
    path.write_bytes(FEED)
    with pytest.raises(SourceError, match="larger than"):
        load_feed("big.rss", str(path))


def test_a_url_feed_is_fetched_with_our_user_agent(http_server: HttpServer) -> None:
    http_server.routes["/rss"] = Route(body=FEED, headers={"Content-Type": "application/rss+xml"})
    feed = load_feed(http_server.url("/rss"), http_server.url("/rss"))
    assert len(feed.items) == 30
    assert http_server.requests[0][1]["User-Agent"] == USER_AGENT


def test_a_url_feed_follows_a_redirect_and_reads_gzip(http_server: HttpServer) -> None:
    http_server.routes["/old"] = Route(301, headers={"Location": "/new"})
    http_server.routes["/new"] = Route(
        body=gzip.compress(FEED), headers={"Content-Encoding": "gzip"}
    )
    assert len(load_feed("old", http_server.url("/old")).items) == 30


def test_a_redirect_loop_is_refused(http_server: HttpServer) -> None:
    http_server.routes["/a"] = Route(302, headers={"Location": "/b"})
    http_server.routes["/b"] = Route(302, headers={"Location": "/a"})
    with pytest.raises(SourceError, match="too many redirects"):
        load_feed(http_server.url("/a"), http_server.url("/a"))


def test_an_http_error_names_the_url_and_status(http_server: HttpServer) -> None:
    http_server.routes["/broken"] = Route(500, b"oops")
    url = http_server.url("/broken")
    with pytest.raises(SourceError) as caught:
        load_feed(url, url)
    assert str(caught.value) == f"{url}: HTTP 500 Internal Server Error"


def test_analytics_are_page_views_by_url() -> None:
    views = load_analytics(str(SAMPLE / "analytics.csv"), "analytics.csv")
    gaza = "https://www.commonground.example/news/2025/11/un-security-council-gaza-peace-plan"
    assert views[gaza] == 18400


def test_analytics_accept_common_column_names_and_thousands_separators(tmp_path: Path) -> None:
    path = tmp_path / "ga.csv"
    path.write_text('\ufeffPage URL,Views\nhttps://x.example/a,"1,234"\nhttps://x.example/a,6\n')
    assert load_analytics(str(path), "ga.csv") == {"https://x.example/a": 1240}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("address,count\nhttps://x.example/a,3\n", "needs a 'url' and a 'pageviews' column"),
        (
            "url,pageviews\nhttps://x.example/a,lots\n",
            "line 2: page views 'lots' is not a whole number",
        ),
    ],
)
def test_a_malformed_analytics_export_names_the_file(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "a.csv"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        load_analytics(str(path), "a.csv")
    assert str(caught.value) == f"a.csv: {expected}"
