"""Fetching over HTTP against a real server on loopback: every read is bounded in size and time."""

from __future__ import annotations

import asyncio
import gzip
import time
from pathlib import Path

import pytest

from digest.errors import SourceError
from digest.feeds.fetch import Fetched, client, fetch, gunzip, read_file
from digest.net import Limits, user_agent

from .conftest import SAMPLE, HttpServer, Route

FEED = (SAMPLE / "news.rss").read_bytes()


def get(url: str, limits: Limits | None = None, **validators: str) -> Fetched:
    limits = limits or Limits()

    async def run() -> Fetched:
        async with client(limits) as http:
            return await fetch(http, url, limits, **validators)

    return asyncio.run(run())


def error_of(url: str, limits: Limits | None = None) -> str:
    with pytest.raises(SourceError) as caught:
        get(url, limits)
    message = str(caught.value)
    assert message.startswith(f"{url}: ") and "\n" not in message
    return message.removeprefix(f"{url}: ")


def test_a_feed_is_fetched_with_our_user_agent(http_server: HttpServer) -> None:
    http_server.routes["/rss"] = Route(
        body=FEED, headers={"ETag": '"x"', "Last-Modified": "Mon, 24 Nov 2025"}
    )
    fetched = get(http_server.url("/rss"))
    assert fetched.body == FEED
    assert (fetched.etag, fetched.last_modified) == ('"x"', "Mon, 24 Nov 2025")
    headers = http_server.requests[0][1]
    assert headers["User-Agent"] == user_agent()
    assert user_agent().startswith("newsletter-digest/")  # the distribution's name, not another tool's
    assert "application/rss+xml" in headers["Accept"]


def test_redirects_are_followed_and_the_final_url_kept(http_server: HttpServer) -> None:
    http_server.routes["/old"] = Route(301, headers={"Location": "/new"})
    http_server.routes["/new"] = Route(body=FEED)
    assert get(http_server.url("/old")).url == http_server.url("/new")


def test_a_redirect_loop_is_cut_off(http_server: HttpServer) -> None:
    http_server.routes["/a"] = Route(302, headers={"Location": "/b"})
    http_server.routes["/b"] = Route(302, headers={"Location": "/a"})
    assert error_of(http_server.url("/a"), Limits(max_redirects=3)) == "more than 3 redirects"
    assert len(http_server.requests) == 4


def test_a_gzip_body_is_inflated(http_server: HttpServer) -> None:
    http_server.routes["/gz"] = Route(body=gzip.compress(FEED), headers={"Content-Encoding": "gzip"})
    assert get(http_server.url("/gz")).body == FEED


def test_a_server_error_names_the_status(http_server: HttpServer) -> None:
    http_server.routes["/500"] = Route(500, b"oops")
    assert error_of(http_server.url("/500")) == "HTTP 500 Internal Server Error"
    assert error_of(http_server.url("/missing")) == "HTTP 404 Not Found"


def test_a_server_that_never_answers_is_given_up_on(http_server: HttpServer) -> None:
    http_server.routes["/hang"] = Route(body=FEED, delay=60)
    start = time.monotonic()
    message = error_of(http_server.url("/hang"), Limits(timeout=1.0))
    assert time.monotonic() - start < 5
    assert "1 s" in message


def test_a_server_that_drips_one_byte_a_second_is_cut_off(http_server: HttpServer) -> None:
    http_server.routes["/drip"] = Route(body=FEED, drip=1.0)
    start = time.monotonic()
    message = error_of(http_server.url("/drip"), Limits(timeout=2.5))
    assert time.monotonic() - start < 6
    assert "no complete answer within 2.5 s" in message


def test_nothing_listening_is_a_clear_error() -> None:
    message = error_of("http://127.0.0.1:9/feed")  # the discard port: nothing listens there
    assert message.startswith("cannot fetch:")


def test_a_body_over_the_size_cap_is_refused(http_server: HttpServer) -> None:
    http_server.routes["/big"] = Route(body=b"x" * 5000)
    assert "size cap of 4,096 bytes" in error_of(http_server.url("/big"), Limits(max_bytes=4096))


def test_a_gzip_bomb_stops_at_the_size_cap(http_server: HttpServer) -> None:
    bomb = gzip.compress(b"<" * 50_000_000)  # 50 MB inflated from about 50 KB
    http_server.routes["/bomb"] = Route(body=bomb, headers={"Content-Encoding": "gzip"})
    assert "size cap" in error_of(http_server.url("/bomb"), Limits(max_bytes=1_000_000))
    with pytest.raises(SourceError, match="size cap"):
        gunzip(bomb, "bomb.xml", Limits(max_bytes=1_000_000))


def test_a_file_over_the_size_cap_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.rss"
    path.write_bytes(b"x" * 5000)
    with pytest.raises(SourceError, match="size cap of 4,096 bytes"):
        read_file(str(path), "big.rss", Limits(max_bytes=4096))


def test_a_folder_is_not_a_feed(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="is a folder"):
        read_file(str(tmp_path), "x", Limits())
