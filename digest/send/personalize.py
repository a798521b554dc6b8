"""Each subscriber's own values: the greeting with their name, and an unsubscribe link that
only they could have (an HMAC token of their address), filled into the issue's markers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from email.headerregistry import Address
from urllib.parse import quote

from digest.addresses import copy_key, reader, token
from digest.config import Config
from digest.issue_folder import PersonalIssue
from digest.models import Recipient
from digest.render.markers import Fill, fill_html, fill_text
from digest.render.message import compose, message_id, sender_address


def personal_url(url: str, recipient: Recipient, secret: str | None) -> str:
    filled = url.replace("{email}", quote(recipient.email, safe="@")).replace(
        "{reader}", reader(recipient.email)
    )
    if "{token}" in filled:
        if not secret:
            raise ValueError("{token} needs the unsubscribe secret")
        filled = filled.replace("{token}", token(secret, recipient.email))
    return filled


def mailto_for(config: Config, recipient: Recipient, secret: str | None) -> str | None:
    """List-Unsubscribe's mailto address for `recipient`: with their {token} (say, in the subject),
    the feedback mailbox can tell a real request from a forged one."""
    mailto = config.newsletter.unsubscribe_mailto
    return personal_url(mailto, recipient, secret) if mailto else None


def envelope_sender(config: Config, secret: str | None) -> Callable[[Recipient], str]:
    """Each copy's envelope sender (MAIL FROM, which the receiving server writes into Return-Path
    and bounces are sent to): `feedback.return_path` with the recipient's token (VERP), else the
    From address."""
    pattern = config.feedback.return_path
    if not pattern:
        address = sender_address(config.newsletter.sender)
        return lambda _: address
    if not secret:
        raise ValueError("feedback.return_path's {token} needs the unsubscribe secret")
    return lambda recipient: pattern.replace("{token}", token(secret, recipient.email))


def greeting_for(recipient: Recipient | None, greeting: str, fallback: str) -> str:
    if recipient is not None and recipient.name.strip():
        return greeting.replace("{name}", recipient.name.strip())
    return fallback


def fill_for(issue: PersonalIssue, recipient: Recipient, config: Config, secret: str | None) -> Fill:
    """What goes where the issue's markers are, for `recipient`."""
    send = config.send
    unsubscribe = personal_url(issue.unsubscribe_url, recipient, secret) if issue.unsubscribe_url else None
    return Fill(greeting_for(recipient, send.greeting, send.greeting_fallback), unsubscribe)


def message_key(
    issue: PersonalIssue, recipient: Recipient, config: Config, secret: str | None, *, test: bool = False
) -> str:
    """The copy's Message-ID: the same for the same issue and recipient, so a copy sent again
    is recognisably the same message."""
    key = copy_key(issue.number, recipient.email, secret)
    return message_id(issue.number, issue.slug, f"{'test.' if test else ''}{key}", config.newsletter.sender)


def to_header(recipient: Recipient) -> Address:
    """The To value: an Address object, so the email package quotes or encodes any name (one
    with a comma, a quote or a '<' in it) instead of parsing a string it may choke on."""
    local, _, domain = recipient.email.rpartition("@")
    return Address(display_name=recipient.name, username=local, domain=domain)  # parts: no re-parsing


def personal_message(
    issue: PersonalIssue,
    recipient: Recipient,
    config: Config,
    *,
    now: dt.datetime,
    secret: str | None,
    test: bool = False,
    boundary: str | None = None,
) -> bytes:
    """The message for one subscriber, composed in full: their greeting and unsubscribe link in
    both parts and in List-Unsubscribe, their address in To. A test copy is marked [TEST] in its
    subject. An address with a non-ASCII local part gets UTF-8 headers (it is sent with SMTPUTF8)."""
    fill = fill_for(issue, recipient, config, secret)
    message = compose(
        newsletter=config.newsletter,
        subject=f"[TEST] {issue.subject}" if test else issue.subject,
        text=fill_text(issue.text, fill),
        html=fill_html(issue.html, fill),
        date=now,
        message_id=message_key(issue, recipient, config, secret, test=test),
        unsubscribe_url=fill.unsubscribe,
        unsubscribe_mailto=mailto_for(config, recipient, secret),
        to=to_header(recipient),
        boundary=boundary,
        utf8=not recipient.email.isascii(),
    )
    return message.as_bytes()
