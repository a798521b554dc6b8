"""The normalize stage: feed entries become `Item`s: text fields, safe URLs, images, counts."""

from __future__ import annotations

import datetime as dt

import feedparser
import pytest

from digest.models import Item
from digest.normalize import html_to_text, normalize_feed, safe_url

from .conftest import SAMPLE


def parse(item_xml: str, channel_extra: str = "") -> list[Item]:
    document = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"
     xmlns:media="http://search.yahoo.com/mrss/" xmlns:slash="http://purl.org/rss/1.0/modules/slash/">
<channel><title>T</title><link>https://site.example/</link>{channel_extra}
<item>{item_xml}</item></channel></rss>"""
    return list(normalize_feed(feedparser.parse(document.encode()), "t.rss").items)


def sample_items() -> dict[str, Item]:
    parsed = feedparser.parse((SAMPLE / "news.rss").read_bytes())
    return {item.title: item for item in normalize_feed(parsed, "news.rss").items}


def test_a_sample_story_carries_everything_the_theme_shows() -> None:
    lead = sample_items()["EU - Azerbaijan Security Dialogue held in Brussels"]
    assert lead.id == "commonground-eu-azerbaijan-security-dialogue"
    assert lead.url.endswith("/news/2025/11/eu-azerbaijan-security-dialogue")
    assert lead.published == dt.datetime(2025, 11, 21, 9, 30, tzinfo=dt.UTC)
    assert lead.categories == ("News",)
    assert lead.author == "Staff reporter"
    assert lead.source_line == "commonground.example with agencies"
    assert lead.image is not None
    assert lead.image.credit == "X/@VaqifS"
    assert (lead.image.width, lead.image.height) == (1200, 675)
    assert lead.comments == 14
    assert lead.summary.startswith("The 6th round of the Security Dialogue")
    assert "\n\n" in lead.summary  # paragraphs survive as blank-line breaks
    assert "&amp;" not in lead.summary and "&" in lead.summary


def test_a_story_with_no_summary_keeps_an_empty_one() -> None:
    item = sample_items()["Baku hosts regional conference on mine clearance"]
    assert item.summary == ""
    assert item.image is None


def test_html_becomes_plain_text_without_scripts_or_entities() -> None:
    markup = "<p>One &amp; <b>two</b></p><script>alert(1)</script><p>Three&nbsp;&ldquo;4&rdquo;</p>"
    assert html_to_text(markup) == "One & two\n\nThree “4”"


def test_markup_in_a_plain_text_title_stays_text() -> None:
    [item] = parse("<title>Use &lt;b&gt; for bold</title><link>https://site.example/a</link>")
    assert item.title == "Use <b> for bold"


@pytest.mark.parametrize(
    "link", ["javascript:alert(1)", "data:text/html,hi", "vbscript:msgbox", "ftp://x.example/a"]
)
def test_an_item_whose_only_link_is_unsafe_is_dropped(link: str) -> None:
    assert parse(f"<title>x</title><link>{link}</link>") == []


def test_relative_links_resolve_against_the_site() -> None:
    [item] = parse("<title>x</title><link>/news/a</link>")
    assert item.url == "https://site.example/news/a"


def test_safe_url_keeps_only_absolute_http() -> None:
    assert safe_url("https://a.example/x?y=1") == "https://a.example/x?y=1"
    assert safe_url(" JavaScript:alert(1)") is None
    assert safe_url("//a.example/x") is None
    assert safe_url(None) is None


def test_an_untitled_entry_takes_the_start_of_its_summary() -> None:
    [item] = parse(
        "<link>https://site.example/m</link><description>Short post, no title.</description>"
    )
    assert item.title == "Short post, no title."


def test_images_come_from_media_thumbnail_or_an_image_enclosure() -> None:
    [thumb] = parse(
        "<title>a</title><link>https://site.example/a</link>"
        '<media:thumbnail url="https://site.example/t.jpg" width="150" height="100"/>'
    )
    assert thumb.image is not None and thumb.image.url == "https://site.example/t.jpg"
    [enclosed] = parse(
        "<title>b</title><link>https://site.example/b</link>"
        '<enclosure url="https://site.example/e.png" type="image/png" length="10"/>'
    )
    assert enclosed.image is not None and enclosed.image.url == "https://site.example/e.png"
    [unsafe] = parse(
        "<title>c</title><link>https://site.example/c</link>"
        '<media:thumbnail url="javascript:alert(1)"/>'
    )
    assert unsafe.image is None
