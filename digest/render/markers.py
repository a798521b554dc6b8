"""Markers: where each subscriber's greeting and unsubscribe link go in the rendered issue.

The issue is rendered once, with markers in place of a recipient's details (`personal.html`,
`personal.txt` in the issue folder); the generic files (`index.html`, `digest.txt`,
`message.eml`) fill the markers for nobody in particular, and `digest send` fills them for
each subscriber. Markers are plain ASCII words that MJML, premailer and lxml leave alone.
"""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from msgspec import Struct

GREETING = "DIGESTRECIPIENTGREETING"
UNSUBSCRIBE = "https://digest-recipient.invalid/unsubscribe"
PERSONAL_FIELDS = ("{email}", "{reader}", "{token}")
MARKED = re.compile(f"{GREETING}|{re.escape(UNSUBSCRIBE)}")


def is_personal(url: str | None) -> bool:
    """Whether a link carries a subscriber's own values ({email}, {reader}, {token})."""
    return bool(url) and any(field in (url or "") for field in PERSONAL_FIELDS)


def generic_url(url: str) -> str:
    """The link for nobody in particular: query parameters that would carry {email} or {token}
    are left out ("…/unsubscribe?u={email}&t={token}" → "…/unsubscribe")."""
    parts = urlsplit(url)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not is_personal(v)]
    return urlunsplit(parts._replace(query=urlencode(kept, safe="{}")))


class Fill(Struct, frozen=True):
    """What goes where the markers are, for one reader (or for nobody in particular)."""

    greeting: str
    unsubscribe: str | None


def html_values(fill: Fill) -> dict[str, str]:
    """What each marker becomes in the HTML part: the values escaped."""
    return {
        GREETING: html.escape(fill.greeting, quote=False),
        UNSUBSCRIBE: html.escape(fill.unsubscribe or "", quote=True),
    }


def text_values(fill: Fill) -> dict[str, str]:
    return {GREETING: fill.greeting, UNSUBSCRIBE: fill.unsubscribe or ""}


def _fill(document: str, values: dict[str, str]) -> str:
    # One pass: a value is never scanned for markers itself (a name could spell one).
    return MARKED.sub(lambda found: values[found.group()], document)


def fill_html(document: str, fill: Fill) -> str:
    return _fill(document, html_values(fill))


def fill_text(document: str, fill: Fill) -> str:
    return _fill(document, text_values(fill))
