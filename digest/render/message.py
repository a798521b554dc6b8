"""Messages: `message.eml` for the issue folder, and each subscriber's copy for `digest send`.

multipart/alternative with the text part first and HTML last, UTF-8, quoted-printable. The
issue's own file is deterministic like every output: its Date is the issue's moment, its
Message-ID and MIME boundary derive from the content, so the same inputs give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, getaddresses
from functools import cache

from digest.config import NewsletterConfig
from digest.models import Issue
from digest.render.markers import generic_url, is_personal


def sender_address(sender: str) -> str:
    """The bare address of a From value ("Name <a@b.org>" → "a@b.org")."""
    [(_, address)] = getaddresses([sender]) or [("", "")]
    return address


@cache  # asked for every copy's Message-ID: one sender, parsed once
def sender_domain(sender: str) -> str:
    return sender_address(sender).rpartition("@")[2] or "localhost"


def message_id(number: int, slug: str, unique: str, sender: str) -> str:
    """The Message-ID of an issue's message: `unique` tells one copy from another, and the
    sender's domain is the right-hand side, as RFC 5322 suggests."""
    return f"<digest.{number}.{slug}.{unique}@{sender_domain(sender)}>"


# Headers set raw (List-Unsubscribe) go out as written; all others are folded by the email package.
POLICY = SMTP.clone(refold_source="none")
# For a recipient whose address has a non-ASCII local part: headers in UTF-8 (RFC 6532), sent
# with SMTPUTF8.
UTF8_POLICY = POLICY.clone(utf8=True)


def list_unsubscribe(unsubscribe_url: str | None, mailto: str | None) -> str | None:
    """RFC 2369's header: the https link and the mailto address, each in angle brackets, folded
    only between them. A URL must never be folded or encoded: the email package would turn a
    long one into RFC 2047 encoded words, which no mail client reads as a link."""
    links = [u for u in (unsubscribe_url, mailto) if u and u.startswith(("https://", "mailto:"))]
    return ",\n ".join(f"<{u}>" for u in links) or None


def compose(
    *,
    newsletter: NewsletterConfig,
    subject: str,
    text: str,
    html: str,
    date: dt.datetime,
    message_id: str,
    unsubscribe_url: str | None,
    unsubscribe_mailto: str | None = None,
    to: str | Address | None = None,
    boundary: str | None = None,
    utf8: bool = False,
) -> EmailMessage:
    """The message: multipart/alternative, text then HTML, each UTF-8 and quoted-printable.
    `utf8`: headers in raw UTF-8, for a recipient whose address needs SMTPUTF8."""
    message = EmailMessage(policy=UTF8_POLICY if utf8 else POLICY)
    message["From"] = newsletter.sender  # validated as one address by the config schema
    if to:
        message["To"] = to
    if newsletter.reply_to:
        message["Reply-To"] = newsletter.reply_to
    message["Subject"] = subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    header = list_unsubscribe(unsubscribe_url, unsubscribe_mailto)
    if header:
        message.set_raw("List-Unsubscribe", header)
        if unsubscribe_url and unsubscribe_url.startswith("https://"):
            # RFC 8058: mail clients may unsubscribe with one POST, without opening a page.
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    if boundary:
        message.set_boundary(boundary)
    return message


def generic_mailto(mailto: str | None) -> str | None:
    """The mailto address for nobody in particular (as `generic_url` does for the link)."""
    return generic_url(mailto) if mailto and is_personal(mailto) else mailto


def build_message(issue: Issue, newsletter: NewsletterConfig, moment: dt.datetime) -> bytes:
    rendered = issue.rendered
    digest = hashlib.sha256(rendered.html.encode() + rendered.text.encode()).hexdigest()
    message = compose(
        newsletter=newsletter,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        date=moment,
        message_id=message_id(issue.number, issue.slug, digest[:16], newsletter.sender),
        unsubscribe_url=rendered.unsubscribe_url,
        unsubscribe_mailto=generic_mailto(newsletter.unsubscribe_mailto),
        boundary=f"=_digest_{digest[:24]}",
    )
    return message.as_bytes()
