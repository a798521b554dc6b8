"""`digest archive`: a static web archive of every issue built, with feeds of the newsletter.

OUT/index.html lists the issues newest first; OUT/<date>/index.html is each issue's own HTML;
OUT/feed.atom (RFC 4287) and OUT/feed.json (JSON Feed 1.1) carry each issue in full. With
`archive.base_url` the feeds' links are absolute, and each email's "view in browser" link points
to its page here.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from xml.etree import ElementTree as ET

from msgspec import Struct

from digest import issue_folder
from digest.config import Config, user_templates
from digest.models import IssueSummary, issue_moment
from digest.render.labels import date_label, labels_for, number_label
from digest.render.templates import environment
from digest.resources import version
from digest.state import past_issues

ATOM = "http://www.w3.org/2005/Atom"
INDEX_TEMPLATE = "archive/index.html.j2"
# The archive's front page and each issue's page: a folder's page on the web, named as the issue
# folder names its HTML (so that an issue folder, too, can be served as it is).
INDEX = issue_folder.HTML


class Entry(Struct, frozen=True):
    number: int
    date: dt.date
    slug: str
    subject: str
    html: str
    date_label: str  # in the newsletter's language
    number_label: str

    @property
    def moment(self) -> str:
        return issue_moment(self.date).isoformat()


def _entries(rows: list[IssueSummary], language: str) -> list[Entry]:
    return [
        Entry(
            row.number,
            row.date,
            row.date.isoformat(),
            row.subject,
            issue_folder.read_page(row.folder),
            date_label(row.date, language),
            number_label(row.number, language),
        )
        for row in rows
    ]


def _url(base: str | None, path: str) -> str:
    return f"{base.rstrip('/')}/{path}" if base else (path or "./")


def _entry_id(config: Config, entry: Entry) -> str:
    base = config.archive.base_url
    return _url(base, f"{entry.slug}/") if base else f"tag:digest,{entry.date.isoformat()}:{entry.slug}"


def atom(config: Config, entries: list[Entry]) -> bytes:
    ET.register_namespace("", ATOM)
    base = config.archive.base_url
    feed = ET.Element(f"{{{ATOM}}}feed")

    def add(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attributes)
        element.text = text
        return element

    add(feed, "title", config.newsletter.name)
    if config.newsletter.tagline:
        add(feed, "subtitle", config.newsletter.tagline)
    name = re.sub(r"[^a-z0-9]+", "-", config.newsletter.name.lower()).strip("-") or "newsletter"
    add(feed, "id", _url(base, "") if base else f"tag:digest,2000:{name}")
    add(feed, "updated", entries[0].moment if entries else "1970-01-01T00:00:00+00:00")
    add(feed, "link", rel="self", href=_url(base, "feed.atom"))
    add(feed, "link", rel="alternate", type="text/html", href=_url(base, ""))
    author = add(feed, "author")
    add(author, "name", config.newsletter.name)
    add(feed, "generator", "digest", version=version())
    for entry in entries:
        item = add(feed, "entry")
        add(item, "title", entry.subject)
        add(item, "id", _entry_id(config, entry))
        add(item, "updated", entry.moment)
        add(item, "published", entry.moment)
        add(item, "link", rel="alternate", type="text/html", href=_url(base, f"{entry.slug}/"))
        add(item, "content", entry.html, type="html")
    body: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + body + b"\n"


def json_feed(config: Config, entries: list[Entry]) -> bytes:
    base = config.archive.base_url
    document: dict[str, object] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": config.newsletter.name,
        "language": config.newsletter.language,
        "items": [
            {
                "id": _entry_id(config, entry),
                "url": _url(base, f"{entry.slug}/"),
                "title": entry.subject,
                "content_html": entry.html,
                "date_published": entry.moment,
            }
            for entry in entries
        ],
    }
    if config.newsletter.tagline:
        document["description"] = config.newsletter.tagline
    if base:
        document["home_page_url"] = _url(base, "")
        document["feed_url"] = _url(base, "feed.json")
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def write_archive(config: Config, state_dir: Path, out: Path) -> Path:
    """`digest archive`: every issue the state database knows, as a web archive in `out`."""
    return build_archive(config, past_issues(state_dir), out)


def build_archive(config: Config, rows: list[IssueSummary], out: Path) -> Path:
    """The whole archive, written whole (a temporary folder renamed into place)."""
    entries = _entries(rows, config.newsletter.language)
    env = environment(user_templates(config), labels_for(config))
    index = env.get_template(INDEX_TEMPLATE).render(
        newsletter=config.newsletter, theme=config.theme, issues=entries
    )
    files = {
        INDEX: index.encode("utf-8"),
        "feed.atom": atom(config, entries),
        "feed.json": json_feed(config, entries),
    }
    files.update({f"{entry.slug}/{INDEX}": entry.html.encode("utf-8") for entry in entries})
    return issue_folder.write_folder(out, files)
