"""One rendered issue, a copy for each subscriber: their greeting and their unsubscribe link.

The issue is rendered once, with markers where a recipient's details go (`personal.html`,
`personal.txt` in the issue folder); the generic files (`index.html`, `digest.txt`,
`message.eml`) fill the markers for nobody in particular, and `digest send` fills them for
each subscriber. Markers are plain ASCII words that MJML, premailer and lxml leave alone.
"""

from __future__ import annotations

import hashlib
import hmac
import html
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

GREETING = "DIGESTRECIPIENTGREETING"
UNSUBSCRIBE = "https://digest-recipient.invalid/unsubscribe"
PERSONAL_FIELDS = ("{email}", "{token}")


@dataclass(frozen=True, slots=True)
class Recipient:
    email: str
    name: str = ""


def token(secret: str, email: str) -> str:
    """The unsubscribe token: an HMAC of the address, so nobody can forge another's link."""
    return hmac.new(secret.encode(), email.strip().lower().encode(), hashlib.sha256).hexdigest()[:32]


def is_personal(url: str | None) -> bool:
    return bool(url) and any(field in (url or "") for field in PERSONAL_FIELDS)


def generic_url(url: str) -> str:
    """The link for nobody in particular: query parameters that would carry {email} or {token}
    are left out ("…/unsubscribe?u={email}&t={token}" → "…/unsubscribe")."""
    parts = urlsplit(url)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not is_personal(v)]
    return urlunsplit(parts._replace(query=urlencode(kept, safe="{}")))


def personal_url(url: str, recipient: Recipient, secret: str | None) -> str:
    filled = url.replace("{email}", quote(recipient.email, safe="@"))
    if "{token}" in filled:
        if not secret:
            raise ValueError("{token} needs the unsubscribe secret")
        filled = filled.replace("{token}", token(secret, recipient.email))
    return filled


def greeting_for(recipient: Recipient | None, greeting: str, fallback: str) -> str:
    if recipient is not None and recipient.name.strip():
        return greeting.replace("{name}", recipient.name.strip())
    return fallback


@dataclass(frozen=True, slots=True)
class Fill:
    greeting: str
    unsubscribe: str | None


def fill_html(document: str, fill: Fill) -> str:
    document = document.replace(GREETING, html.escape(fill.greeting, quote=False))
    return document.replace(UNSUBSCRIBE, html.escape(fill.unsubscribe or "", quote=True))


def fill_text(document: str, fill: Fill) -> str:
    return document.replace(GREETING, fill.greeting).replace(UNSUBSCRIBE, fill.unsubscribe or "")
