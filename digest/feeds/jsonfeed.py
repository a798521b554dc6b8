"""A JSON Feed 1.0 / 1.1 reader (https://www.jsonfeed.org/version/1.1/), since feedparser has none.

It returns the same shape feedparser does (`feed`, `entries`, `version`), so that
one normalize stage serves every format. What the spec marks required is checked;
an item that breaks the spec is skipped, not the whole feed.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from digest.errors import SourceError

# Some real feeds write the version URL with http:, which costs nothing to accept.
_VERSIONS = {
    "https://jsonfeed.org/version/1": "json10",
    "https://jsonfeed.org/version/1.1": "json11",
    "http://jsonfeed.org/version/1": "json10",
    "http://jsonfeed.org/version/1.1": "json11",
}


def looks_like_json(data: bytes) -> bool:
    return data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _time(value: Any) -> Any:
    """RFC 3339 → a UTC struct_time (feedparser's `*_parsed` convention), or None."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = dt.datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        return None
    if moment.tzinfo is None:  # the spec requires an offset; assume UTC rather than drop the date
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).timetuple()


def _author(node: dict[str, Any]) -> str:
    authors = node.get("authors")
    if isinstance(authors, list):
        names = [_text(a.get("name")) for a in authors if isinstance(a, dict)]
        return ", ".join(n for n in names if n)
    author = node.get("author")  # JSON Feed 1.0
    return _text(author.get("name")) if isinstance(author, dict) else ""


def _entry(item: dict[str, Any], feed_language: str) -> dict[str, Any] | None:
    url = _text(item.get("url")) or _text(item.get("external_url"))
    raw_id = item.get("id")
    identifier = str(raw_id).strip() if isinstance(raw_id, (str, int)) else ""
    if not identifier and not url:
        return None
    entry: dict[str, Any] = {"id": identifier or url, "link": url}
    title = _text(item.get("title"))
    if title:
        entry["title"] = title
        entry["title_detail"] = {"type": "text/plain"}
    html, text, summary = (_text(item.get(k)) for k in ("content_html", "content_text", "summary"))
    if summary:
        entry["summary"], entry["summary_detail"] = summary, {"type": "text/plain"}
    elif html or text:
        entry["summary"] = html or text
        entry["summary_detail"] = {"type": "text/html" if html else "text/plain"}
    if html or text:
        entry["content"] = [{"value": html or text, "type": "text/html" if html else "text/plain"}]
    for source, target in (
        ("date_published", "published_parsed"),
        ("date_modified", "updated_parsed"),
    ):
        parsed = _time(item.get(source))
        if parsed:
            entry[target] = parsed
    author = _author(item)
    if author:
        entry["author"] = author
    tags = item.get("tags")
    if isinstance(tags, list):
        entry["tags"] = [{"term": t} for t in tags if isinstance(t, str) and t.strip()]
    image = _text(item.get("image")) or _text(item.get("banner_image"))
    if image:
        entry["media_thumbnail"] = [{"url": image}]
    attachments = item.get("attachments")
    if isinstance(attachments, list):
        entry["links"] = [
            {"rel": "enclosure", "href": _text(a.get("url")), "type": _text(a.get("mime_type"))}
            for a in attachments
            if isinstance(a, dict)
        ]
    entry["language"] = _text(item.get("language")) or feed_language or None
    return entry


def parse_json_feed(data: bytes, label: str) -> dict[str, Any]:
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise SourceError("not a feed: JSON that is not UTF-8", path=label) from None
    except json.JSONDecodeError as error:
        raise SourceError(
            f"not a feed: invalid JSON at line {error.lineno}, column {error.colno} ({error.msg})",
            path=label,
        ) from None
    if not isinstance(document, dict) or document.get("version") not in _VERSIONS:
        raise SourceError("not a feed: JSON without a JSON Feed version", path=label)
    items = document.get("items")
    if not isinstance(items, list):
        raise SourceError("not a feed: a JSON Feed needs an 'items' list", path=label)
    language = _text(document.get("language"))
    entries = [_entry(item, language) for item in items if isinstance(item, dict)]
    return {
        "version": _VERSIONS[document["version"]],
        "feed": {
            "title": _text(document.get("title")),
            "title_detail": {"type": "text/plain"},
            "link": _text(document.get("home_page_url")),
            "language": language or None,
            "author": _author(document) or None,
        },
        "entries": [e for e in entries if e is not None],
    }
