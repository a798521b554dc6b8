"""The normalize stage: parsed feeds become typed `Item`s, and duplicates across feeds become one.

Everything that leaves this stage is safe to render: text fields are plain text
(HTML is sanitized with nh3's allowlist before its text is taken), and every URL
is absolute http(s).
"""

from __future__ import annotations

import calendar
import datetime as dt
import html
import re
from collections.abc import Iterable, Mapping
from typing import Any

import nh3
from msgspec.structs import replace

from digest.models import DatedBy, Feed, Image, Item
from digest.urls import safe_url

_BLOCK_TAGS = {"p", "br", "div", "li", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "img"}
_BLOCK_BREAK = re.compile(r"</?(?:p|div|li|blockquote|h[1-6])>|<br\s*/?>")
_TAG = re.compile(r"<[^>]+>")
_IMG_SRC = re.compile(r'<img\b[^>]*\bsrc="([^"]+)"')
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u200b]+")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s")
_HTML_TYPES = ("text/html", "application/xhtml+xml")
TITLE_LENGTH = 100
# Where a feed's text meets a header (the subject) or a layout: longer is cut at a word, with "…".
# A headline of a megabyte without a space otherwise costs gigabytes when the subject is folded.
MAX_TITLE = 300
MAX_LINE = 200  # author, source line, a category
MAX_SUMMARY = 20_000  # characters of a story's text: the templates show an excerpt of it
MAX_ID = 2_000
MAX_CATEGORIES = 50


# Elements whose content goes with them: never shown as text (script, style, template), or
# read by an HTML parser as raw text, so that their fallback markup would reach the reader as
# "<p>…</p>" (an embedded video's iframe, noscript).
_HIDDEN_TAGS = {"script", "style", "template", "iframe", "noscript", "noembed", "noframes", "xmp", "textarea"}
# Written XML-style by feeds' XHTML serializers (Blogger: `<iframe … />`), which an HTML parser
# does not read as closed: the rest of the entry would become the element's hidden content.
_SELF_CLOSED = re.compile(rf"<({'|'.join(sorted(_HIDDEN_TAGS))})\b([^>]*?)\s*/>", re.IGNORECASE)


def _sanitize(markup: str) -> str:
    # Only a few attribute-free block tags (and <img src> for the first image) survive.
    return nh3.clean(
        _SELF_CLOSED.sub(r"<\1\2></\1>", markup),
        tags=_BLOCK_TAGS,
        clean_content_tags=_HIDDEN_TAGS,
        attributes={"img": {"src"}},
        url_schemes={"http", "https"},
    )


def html_to_text(markup: str) -> str:
    """Readable plain text from feed HTML: paragraphs separated by a blank line, entities decoded."""
    if "<" not in markup and "&" not in markup:
        return _tidy(markup)
    text = _TAG.sub("", _BLOCK_BREAK.sub("\n", _sanitize(markup)))
    return _tidy(html.unescape(text))


def _tidy(text: str) -> str:
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    paragraphs: list[str] = []
    current: list[str] = []
    for line in lines:
        if line:
            current.append(line)
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    return "\n\n".join(paragraphs)


def _as_text(value: str, kind: str) -> str:
    return html_to_text(value) if kind in _HTML_TYPES else _tidy(value)


def _text_field(entry: Mapping[str, Any], key: str) -> str:
    value = entry.get(key) or ""
    kind = (entry.get(f"{key}_detail") or {}).get("type", "text/plain")
    # feedparser already decoded entities in plain-text fields; a "<" in them stays text.
    return " ".join(_as_text(str(value), kind).split())


def _title_from(summary: str) -> str:
    """A headline for an untitled entry (microblogs): the first sentence, cut at a word."""
    first = _SENTENCE_END.split(summary.split("\n\n")[0], maxsplit=1)[0]
    if len(first) <= TITLE_LENGTH:
        return first
    return first[:TITLE_LENGTH].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"


def cut(text: str, limit: int) -> str:
    """`text` at most `limit` characters: cut at the last space before it, else at the limit."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    at_word = head.rsplit(" ", 1)[0] if " " in head[limit // 2 :] else head
    return at_word.rstrip(" ,;:") + "…"


def checked(item: Item) -> Item | None:
    """An item as every later stage may trust it, whatever made it (a feed, or a snapshot edited
    by hand): links absolute http(s), text within the lengths the layout and headers take. None
    when its link is no link to a web page."""
    url = safe_url(item.url)
    if url is None:
        return None
    image = item.image
    if image is not None and safe_url(image.url) != image.url:
        image = None
    lines = (item.author or "", item.source_line or "", image.credit if image and image.credit else "")
    if (
        url == item.url
        and image is item.image
        and len(item.title) <= MAX_TITLE
        and len(item.summary) <= MAX_SUMMARY
        and len(item.id) <= MAX_ID
        and len(item.categories) <= MAX_CATEGORIES
        and all(len(line) <= MAX_LINE for line in (*lines, *item.categories))
    ):
        return item  # the usual case: nothing to cut, nothing made anew
    if image is not None and image.credit:
        image = replace(image, credit=cut(image.credit, MAX_LINE))
    return replace(
        item,
        id=item.id[:MAX_ID],
        url=url,
        canonical="",  # made again from the link
        title=cut(item.title, MAX_TITLE),
        summary=cut(item.summary, MAX_SUMMARY),
        categories=tuple(cut(c, MAX_LINE) for c in item.categories[:MAX_CATEGORIES]),
        author=cut(item.author, MAX_LINE) if item.author else None,
        source_line=cut(item.source_line, MAX_LINE) if item.source_line else None,
        image=image,
    )


def _datetime(node: Mapping[str, Any]) -> dt.datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = node.get(key)
        if parsed:
            try:
                return dt.datetime.fromtimestamp(calendar.timegm(parsed), tz=dt.UTC)
            except (OverflowError, ValueError, OSError):
                continue
    return None


def _int(value: Any) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def _image(entry: Mapping[str, Any], base: str, content_html: str) -> Image | None:
    credits = entry.get("media_credit") or []
    credit = next((c.get("content") for c in credits if isinstance(c, dict) and c.get("content")), None)
    candidates: list[Mapping[str, Any]] = []
    for media in entry.get("media_content") or []:
        if media.get("medium") == "image" or str(media.get("type", "")).startswith("image/"):
            candidates.append(media)
    candidates.extend(entry.get("media_thumbnail") or [])
    for link in entry.get("links") or []:
        if link.get("rel") == "enclosure" and str(link.get("type", "")).startswith("image/"):
            candidates.append({"url": link.get("href")})
    found = _IMG_SRC.search(_sanitize(content_html)) if "<img" in content_html else None
    if found:
        candidates.append({"url": html.unescape(found.group(1))})
    for media in candidates:
        url = safe_url(media.get("url"), base)
        if url:
            return Image(
                url=url,
                credit=credit,
                width=_int(media.get("width")),
                height=_int(media.get("height")),
            )
    return None


def normalize_entry(
    entry: Mapping[str, Any],
    *,
    feed: str,
    base: str = "",
    feed_date: dt.datetime | None = None,
    language: str | None = None,
) -> Item | None:
    """One feed entry as an `Item`, or None when it has no usable link to point readers to."""
    url = safe_url(entry.get("link"), base) or safe_url(entry.get("id"), base)
    if url is None:
        return None
    summary_raw = entry.get("summary") or ""
    summary_kind = (entry.get("summary_detail") or {}).get("type", "text/html")
    contents = [c for c in entry.get("content") or [] if c.get("value")]
    if not summary_raw and contents:
        summary_raw, summary_kind = contents[0]["value"], contents[0].get("type", "text/html")
    summary = _as_text(str(summary_raw), summary_kind)
    content_html = " ".join(str(c["value"]) for c in contents if c.get("type") in _HTML_TYPES)
    if summary_kind in _HTML_TYPES:
        content_html += str(summary_raw)
    published = _datetime(entry)
    dated_by = DatedBy.ITEM if published else (DatedBy.FEED if feed_date else DatedBy.NONE)
    source = entry.get("source") or {}
    item = Item(
        id=str(entry.get("id") or "").strip() or url,
        url=url,
        title=_text_field(entry, "title") or _title_from(summary),
        summary=summary,
        published=published or feed_date,
        categories=tuple(
            dict.fromkeys(t["term"].strip() for t in entry.get("tags") or [] if (t.get("term") or "").strip())
        ),
        author=_text_field(entry, "author") or None,
        source_line=(source.get("title") or "").strip() or None,
        image=_image(entry, base, content_html),
        comments=_int(entry.get("slash_comments") or entry.get("thr_total")),
        language=entry.get("language") or (entry.get("title_detail") or {}).get("language") or language,
        dated_by=dated_by,
        sources=(feed,),
    )
    return item if item.title else replace(item, title=item.url)  # checked when merged (below)


def _feed_base(meta: Mapping[str, Any], fetched_from: str) -> str:
    """What relative links resolve against: the site's link, made absolute against the feed's
    own address (where it was fetched from, else its rel="self" link)."""
    self_link = next((lk.get("href") for lk in meta.get("links") or [] if lk.get("rel") == "self"), None)
    home = safe_url(fetched_from) or safe_url(self_link) or ""
    return safe_url(meta.get("link"), home) or home


def normalize_feed(parsed: Mapping[str, Any], source: str, fetched_from: str = "") -> Feed:
    meta = parsed.get("feed") or {}
    base = _feed_base(meta, fetched_from)
    language = meta.get("language") or None
    feed_date = _datetime(meta)
    entries = parsed.get("entries") or []
    items = [
        normalize_entry(e, feed=source, base=base, feed_date=feed_date, language=language) for e in entries
    ]
    kept = tuple(item for item in items if item is not None)
    return Feed(
        source=source,
        title=_text_field(meta, "title") or source,
        items=kept,
        language=language,
        skipped=len(items) - len(kept),
    )


def _title_key(title: str) -> str:
    return " ".join(title.casefold().split())


def merge_duplicates(feeds: Iterable[Feed]) -> tuple[Item, ...]:
    """One item per story: the same canonical URL or guid, anywhere, or the same title from
    two different feeds. The first copy (in source order) wins and remembers every source."""
    merged: list[Item] = []
    index: dict[str, int] = {}
    for feed in feeds:
        for unchecked in feed.items:
            item = checked(unchecked)  # again: a rebuild's items come from a snapshot, not a feed
            if item is None:
                continue
            keys = (f"url:{item.canonical}", f"id:{item.id}")
            title = f"title:{_title_key(item.title)}"
            at = next((index[k] for k in keys if k in index), None)
            if at is None and title in index and feed.source not in merged[index[title]].sources:
                at = index[title]
            if at is None:
                merged.append(item)
                at = len(merged) - 1
            elif feed.source not in merged[at].sources:
                merged[at] = replace(merged[at], sources=(*merged[at].sources, feed.source))
            for key in (*keys, title):
                index.setdefault(key, at)
    return tuple(merged)
