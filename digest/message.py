"""The message: `message.eml`, multipart/alternative with the text part first and HTML last.

Deterministic like every output: the Date is the issue's moment, the Message-ID and the MIME
boundary derive from the content, so the same inputs give the same bytes. The send stage
stamps its own Date and Message-ID on each copy it sends.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, getaddresses

from digest.config import NewsletterConfig
from digest.models import Issue


def sender_domain(sender: str) -> str:
    [(_, address)] = getaddresses([sender]) or [("", "")]
    return address.rpartition("@")[2] or "localhost"


def list_unsubscribe(newsletter: NewsletterConfig, unsubscribe_url: str | None) -> str | None:
    """RFC 2369's header: the https link and the mailto address, each in angle brackets."""
    links = [
        u
        for u in (unsubscribe_url, newsletter.unsubscribe_mailto)
        if u and u.startswith(("https://", "mailto:"))
    ]
    return ", ".join(f"<{u}>" for u in links) or None


def build_message(issue: Issue, newsletter: NewsletterConfig, moment: dt.datetime) -> bytes:
    rendered = issue.rendered
    unsubscribe_url = rendered.unsubscribe_url
    message = EmailMessage(policy=SMTP)
    message["From"] = newsletter.sender  # validated as one address by the config schema
    if newsletter.reply_to:
        message["Reply-To"] = newsletter.reply_to
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(moment)
    digest = hashlib.sha256(rendered.html.encode() + rendered.text.encode()).hexdigest()
    message["Message-ID"] = (
        f"<digest.{issue.number}.{issue.slug}.{digest[:16]}@{sender_domain(newsletter.sender)}>"
    )
    header = list_unsubscribe(newsletter, unsubscribe_url)
    if header:
        message["List-Unsubscribe"] = header
        if unsubscribe_url and unsubscribe_url.startswith("https://"):
            # RFC 8058: mail clients may unsubscribe with one POST, without opening a page.
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(rendered.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    message.set_boundary(f"=_digest_{digest[:24]}")
    return message.as_bytes()
