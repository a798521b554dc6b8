"""JSON Feed 1.0 and 1.1, read by our own reader into the shape the normalize stage takes."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from digest.errors import SourceError
from digest.feeds.jsonfeed import parse_json_feed
from digest.feeds.normalize import normalize_feed


def feed(items: list[Any], version: str = "https://jsonfeed.org/version/1.1", **extra: Any) -> bytes:
    return json.dumps({"version": version, "title": "J", "items": items, **extra}).encode()


def items_of(data: bytes) -> list[Any]:
    return list(normalize_feed(parse_json_feed(data, "j.json"), "j.json").items)


def test_a_full_1_1_item() -> None:
    [item] = items_of(
        feed(
            [
                {
                    "id": "1",
                    "url": "https://j.example/a",
                    "title": "A & B",
                    "content_html": "<p>One <script>x()</script>two</p>",
                    "summary": "Plain & simple",
                    "image": "https://j.example/a.png",
                    "date_published": "2025-11-20T10:30:00+01:00",
                    "authors": [{"name": "Ann"}, {"name": "Bo"}],
                    "tags": ["News", "Editor's choice"],
                    "language": "fr",
                }
            ],
            language="en",
        )
    )
    assert item.id == "1" and item.url == "https://j.example/a"
    assert item.title == "A & B"
    assert item.summary == "Plain & simple"  # a plain-text summary is not read as HTML
    assert item.published == dt.datetime(2025, 11, 20, 9, 30, tzinfo=dt.UTC)
    assert item.author == "Ann, Bo"
    assert item.categories == ("News", "Editor's choice")
    assert item.image is not None and item.image.url == "https://j.example/a.png"
    assert item.language == "fr"


def test_a_1_0_item_with_html_content_only_and_a_numeric_id() -> None:
    [item] = items_of(
        feed(
            [
                {
                    "id": 7,
                    "url": "https://j.example/b",
                    "content_html": "<p>Hi <b>there</b>.</p>",
                    "author": {"name": "C"},
                }
            ],
            version="https://jsonfeed.org/version/1",
        )
    )
    assert item.id == "7"
    assert item.summary == "Hi there."
    assert item.title == "Hi there."  # untitled (a microblog post): the summary's first sentence
    assert item.author == "C"


def test_items_breaking_the_spec_are_skipped_not_the_feed() -> None:
    good = {"id": "g", "url": "https://j.example/g", "title": "Good"}
    items = items_of(
        feed([good, "not an object", {"title": "no id, no url"}, {"id": "x", "url": "javascript:alert(1)"}])
    )
    assert [i.title for i in items] == ["Good"]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": [', "invalid JSON at line 1"),
        (b'{"title": "no version", "items": []}', "JSON without a JSON Feed version"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": {}}', "needs an 'items' list"),
        (b'["a list"]', "JSON without a JSON Feed version"),
        (b'{"version": "\xff\xfe"}', "JSON that is not UTF-8"),
    ],
)
def test_broken_json_feeds_are_refused_with_a_reason(data: bytes, expected: str) -> None:
    with pytest.raises(SourceError) as caught:
        parse_json_feed(data, "j.json")
    assert str(caught.value).startswith("j.json: not a feed: ")
    assert expected in str(caught.value)
