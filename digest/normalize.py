"""The normalize stage: a parsed feed becomes typed `Item`s with plain-text fields and safe URLs."""

from __future__ import annotations

import calendar
import datetime as dt
import html
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

import nh3

from digest.models import Feed, Image, Item

_BLOCK_TAGS = {"p", "br", "div", "li", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6"}
_BLOCK_BREAK = re.compile(r"</?(?:p|div|li|blockquote|h[1-6])>|<br\s*/?>")
_TAG = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")


def html_to_text(markup: str) -> str:
    """Readable plain text from feed HTML: paragraphs separated by a blank line, entities decoded.

    nh3 first reduces the markup to a few attribute-free block tags (dropping
    script and style with their content), so the line breaks below are placed
    on well-formed, known tags only.
    """
    if "<" not in markup and "&" not in markup:
        return _tidy(markup)
    cleaned = nh3.clean(markup, tags=_BLOCK_TAGS, attributes={})
    text = _TAG.sub("", _BLOCK_BREAK.sub("\n", cleaned))
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


def safe_url(value: str | None, base: str = "") -> str | None:
    """An absolute http(s) URL, or None: `javascript:`, `data:` and the like never get past here."""
    if not value:
        return None
    url = urljoin(base, value.strip()) if base else value.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return url


def _text_field(entry: Mapping[str, Any], key: str) -> str:
    value = entry.get(key) or ""
    detail = entry.get(f"{key}_detail") or {}
    if detail.get("type", "text/plain") in ("text/html", "application/xhtml+xml"):
        return html_to_text(value).replace("\n\n", " ")
    # feedparser already decoded entities in plain-text fields; keep any "<" as text.
    return " ".join(str(value).split())


def _datetime(entry: Mapping[str, Any]) -> dt.datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(key)
        if parsed:
            return dt.datetime.fromtimestamp(calendar.timegm(parsed), tz=dt.UTC)
    return None


def _int(value: Any) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def _image(entry: Mapping[str, Any], base: str) -> Image | None:
    credits = entry.get("media_credit") or []
    credit = next((c.get("content") for c in credits if c.get("content")), None)
    candidates: list[Mapping[str, Any]] = []
    for media in entry.get("media_content") or []:
        if media.get("medium") == "image" or str(media.get("type", "")).startswith("image/"):
            candidates.append(media)
    candidates.extend(entry.get("media_thumbnail") or [])
    for link in entry.get("links") or []:
        if link.get("rel") == "enclosure" and str(link.get("type", "")).startswith("image/"):
            candidates.append({"url": link.get("href")})
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


def normalize_entry(entry: Mapping[str, Any], *, feed: str, base: str = "") -> Item | None:
    """One feed entry as an `Item`, or None when it has no usable link to point readers to."""
    url = safe_url(entry.get("link"), base) or safe_url(entry.get("id"), base)
    if url is None:
        return None
    summary_html = entry.get("summary") or ""
    if not summary_html and entry.get("content"):
        summary_html = entry["content"][0].get("value", "")
    summary = html_to_text(summary_html)
    title = _text_field(entry, "title") or summary.split("\n")[0][:120]
    source = entry.get("source") or {}
    return Item(
        id=str(entry.get("id") or url),
        url=url,
        title=title,
        summary=summary,
        published=_datetime(entry),
        categories=tuple(t["term"].strip() for t in entry.get("tags") or [] if t.get("term")),
        author=(entry.get("author") or "").strip() or None,
        source_line=(source.get("title") or "").strip() or None,
        image=_image(entry, base),
        comments=_int(entry.get("slash_comments") or entry.get("thr_total")),
        feed=feed,
    )


def normalize_feed(parsed: Mapping[str, Any], source: str) -> Feed:
    meta = parsed.get("feed") or {}
    base = safe_url(meta.get("link")) or ""
    items = (normalize_entry(e, feed=source, base=base) for e in parsed.get("entries") or [])
    return Feed(
        source=source,
        title=_text_field(meta, "title") or source,
        items=tuple(item for item in items if item is not None),
        language=meta.get("language"),
    )
