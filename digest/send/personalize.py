"""Each subscriber's own values: the greeting with their name, and an unsubscribe link that
only they could have (an HMAC token of their address), filled into the issue's markers."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from urllib.parse import quote

from digest.config import Config
from digest.issue_folder import PersonalIssue
from digest.models import Recipient
from digest.render.markers import Fill, fill_html, fill_text
from digest.render.message import compose, message_id
from digest.send.subscribers import normalized


def token(secret: str, email: str) -> str:
    """The unsubscribe token: an HMAC of the address, so nobody can forge another's link."""
    return hmac.new(secret.encode(), email.strip().lower().encode(), hashlib.sha256).hexdigest()[:32]


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


def personal_message(
    issue: PersonalIssue,
    recipient: Recipient,
    config: Config,
    *,
    now: dt.datetime,
    secret: str | None,
    test: bool = False,
) -> bytes:
    """The message for one subscriber: their greeting and unsubscribe link in both parts and in
    List-Unsubscribe, their address in To. A test copy is marked [TEST] in its subject."""
    send = config.send
    unsubscribe = personal_url(issue.unsubscribe_url, recipient, secret) if issue.unsubscribe_url else None
    fill = Fill(greeting_for(recipient, send.greeting, send.greeting_fallback), unsubscribe)
    key = hashlib.sha256(f"{issue.number}\0{normalized(recipient.email)}".encode()).hexdigest()[:20]
    # The same id for the same issue and recipient: a copy sent again is recognisably the same.
    unique = f"{'test.' if test else ''}{key}"
    to = f"{recipient.name} <{recipient.email}>" if recipient.name else recipient.email
    message = compose(
        newsletter=config.newsletter,
        subject=f"[TEST] {issue.subject}" if test else issue.subject,
        text=fill_text(issue.text, fill),
        html=fill_html(issue.html, fill),
        date=now,
        message_id=message_id(issue.number, issue.slug, unique, config.newsletter.sender),
        unsubscribe_url=unsubscribe,
        to=to,
    )
    return message.as_bytes()
