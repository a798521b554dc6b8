"""The normalize stage: feed entries become `Item`s: text fields, safe URLs, images, counts."""

from __future__ import annotations

import datetime as dt

import feedparser
import pytest

from digest.feeds.normalize import html_to_text, merge_duplicates, normalize_feed
from digest.models import Feed, Item
from digest.urls import canonical_url, safe_url

from .conftest import SAMPLE


def parse(item_xml: str, channel_extra: str = "") -> list[Item]:
    document = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"
     xmlns:media="http://search.yahoo.com/mrss/" xmlns:slash="http://purl.org/rss/1.0/modules/slash/">
<channel><title>T</title><link>https://site.example/</link>{channel_extra}
<item>{item_xml}</item></channel></rss>"""
    return list(normalize_feed(feedparser.parse(document.encode()), "t.rss").items)


def feed_of(source: str, *items: Item) -> Feed:
    return Feed(source=source, title=source, items=items)


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


@pytest.mark.parametrize(
    "element", ["iframe", "noscript", "noembed", "noframes", "xmp", "textarea", "template"]
)
def test_what_a_browser_does_not_show_as_text_stays_out_of_the_text(element: str) -> None:
    # An HTML parser reads these elements' content as raw text (or not at all), so their
    # fallback markup would otherwise reach the reader as "<p>…</p>" (a blog's embedded video).
    markup = (
        f"<p>Watch it.</p><{element}><p>Your browser cannot show this.</p></{element}><p>Then read on.</p>"
    )
    assert html_to_text(markup) == "Watch it.\n\nThen read on."


def test_an_iframe_closed_xml_style_keeps_the_text_after_it() -> None:
    markup = '<p>Watch it.</p><iframe src="https://video.example/1" FRAMEBORDER="0" /><p>Then read on.</p>'
    assert html_to_text(markup) == "Watch it.\n\nThen read on."


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
    [item] = parse("<link>https://site.example/m</link><description>Short post, no title.</description>")
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
        '<title>c</title><link>https://site.example/c</link><media:thumbnail url="javascript:alert(1)"/>'
    )
    assert unsafe.image is None


def test_the_feed_date_stands_in_for_a_missing_item_date_and_says_so() -> None:
    [item] = parse(
        "<title>x</title><link>https://site.example/x</link>",
        channel_extra="<lastBuildDate>Fri, 21 Nov 2025 09:30:00 +0000</lastBuildDate>",
    )
    assert item.published == dt.datetime(2025, 11, 21, 9, 30, tzinfo=dt.UTC)
    assert item.dated_by == "feed"
    [undated] = parse("<title>x</title><link>https://site.example/x</link>")
    assert (undated.published, undated.dated_by) == (None, "none")


def test_item_dates_are_timezone_aware_utc() -> None:
    [item] = parse(
        "<title>x</title><link>https://site.example/x</link>"
        "<pubDate>Fri, 21 Nov 2025 09:30:00 +0200</pubDate>"
    )
    assert item.published == dt.datetime(2025, 11, 21, 7, 30, tzinfo=dt.UTC)


def test_a_long_untitled_post_gets_a_headline_cut_at_a_word() -> None:
    text = "word " * 60
    [item] = parse(f"<link>https://site.example/m</link><description>{text}</description>")
    assert item.title.endswith("…") and len(item.title) <= 101 and "  " not in item.title


def test_the_first_image_of_the_content_is_the_items_image() -> None:
    [item] = parse(
        "<title>x</title><link>https://site.example/x</link>"
        '<description><![CDATA[<p>Hi <img src="/img/a.jpg" onerror="x()"></p>]]></description>'
    )
    assert item.image is not None and item.image.url == "https://site.example/img/a.jpg"
    assert item.summary == "Hi"


def test_comment_counts_come_from_slash_comments_or_thr_total() -> None:
    atom = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" xmlns:thr="http://purl.org/syndication/thread/1.0">
    <title>A</title><entry><title>e</title><id>urn:e</id><link href="https://a.example/e"/>
    <link rel="replies" href="https://a.example/e#c" thr:count="12"/>
    <thr:total>12</thr:total></entry></feed>"""
    [item] = normalize_feed(feedparser.parse(atom), "a.atom").items
    assert item.comments == 12


def test_language_comes_from_the_feed_when_the_item_has_none() -> None:
    [item] = parse(
        "<title>x</title><link>https://site.example/x</link>", channel_extra="<language>de</language>"
    )
    assert item.language == "de"


def test_relative_links_resolve_against_xml_base() -> None:
    atom = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://base.example/blog/">
    <title>A</title><entry><title>e</title><id>urn:e</id><link href="posts/1"/></entry></feed>"""
    [item] = normalize_feed(feedparser.parse(atom), "a.atom").items
    assert item.url == "https://base.example/blog/posts/1"


def test_the_id_is_the_guid_else_the_link() -> None:
    [with_guid] = parse("<title>x</title><link>https://site.example/x</link><guid>abc</guid>")
    [without] = parse("<title>x</title><link>https://site.example/x?utm_source=rss</link>")
    assert with_guid.id == "abc"
    assert without.id == "https://site.example/x?utm_source=rss"
    assert without.canonical == "https://site.example/x"


def test_duplicates_across_feeds_collapse_and_remember_every_source() -> None:
    a = Item(
        id="a1",
        url="https://x.example/story?utm_source=a",
        title="Story",
        summary="",
        published=None,
        sources=("a",),
    )
    b = Item(
        id="b7",
        url="https://x.example/story",
        title="Other words",
        summary="",
        published=None,
        sources=("b",),
    )
    c = Item(
        id="c3", url="https://c.example/else", title="STORY ", summary="", published=None, sources=("c",)
    )
    d = Item(
        id="a1", url="https://d.example/same-guid", title="Guid", summary="", published=None, sources=("d",)
    )
    merged = merge_duplicates([feed_of("a", a), feed_of("b", b), feed_of("c", c), feed_of("d", d)])
    assert len(merged) == 1
    assert merged[0].url == a.url and merged[0].sources == ("a", "b", "c", "d")


def test_the_same_title_twice_in_one_feed_is_two_stories() -> None:
    first = Item(
        id="1", url="https://x.example/1", title="Weekly monitor", summary="", published=None, sources=("a",)
    )
    second = Item(
        id="2", url="https://x.example/2", title="Weekly monitor", summary="", published=None, sources=("a",)
    )
    assert len(merge_duplicates([feed_of("a", first, second)])) == 2


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("HTTPS://Example.ORG:443/a?b=1&utm_source=x&fbclid=y#frag", "https://example.org/a?b=1"),
        ("http://example.org", "http://example.org/"),
        ("http://example.org:8080/x?gclid=1&mc_cid=2", "http://example.org:8080/x"),
        ("https://example.org/a?utm_campaign=&q=", "https://example.org/a?q="),
    ],
)
def test_canonical_urls_drop_tracking_and_noise(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical


@pytest.mark.parametrize(
    "link",
    ["java\nscript:alert(1)", " data:text/html,x", "JAVASCRIPT:alert(1)", "http://[::1", "https:///nohost"],
)
def test_safe_url_refuses_disguised_schemes_and_broken_urls(link: str) -> None:
    assert safe_url(link) is None
