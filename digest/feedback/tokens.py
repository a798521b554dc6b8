"""Whose mail it is, from the token digest gave each copy: in the envelope sender (VERP) that a
bounce goes back to, and in List-Unsubscribe's mailto address that a request is sent to.

A token is an HMAC of the address (`send.personalize.token`), so it cannot be read back: it is
looked up among the tokens of every address this state database has mailed, worked out once,
when the first one is asked for. A token that is not among them was never ours: forged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from email.message import Message
from email.utils import getaddresses
from functools import cache
from urllib.parse import unquote, urlsplit

from digest.addresses import copy_key, token

TOKEN = re.compile(r"\b[0-9a-f]{32}\b")
# Where a message says who it was delivered to: the receiving server's own headers first.
_RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "To", "Cc")


class Tokens:
    """Token → address, for the addresses `mailed` gives (read on the first lookup)."""

    def __init__(self, secret: str | None, mailed: Callable[[], Iterable[str]]) -> None:
        self._secret, self._mailed = secret, mailed
        self._owners: dict[str, str] | None = None

    def owner(self, found: str) -> str | None:
        if not self._secret:
            return None
        if self._owners is None:
            self._owners = {token(self._secret, email): email for email in self._mailed()}
        return self._owners.get(found.lower())


# The Message-ID digest gives a subscriber's copy: <digest.NUMBER.SLUG.KEY@domain>. An issue
# number longer than nine digits is no number digest gave.
OUR_MESSAGE_ID = re.compile(rb"<digest\.([1-9][0-9]{0,8})\.[^.\s<>@]{1,200}\.([0-9a-f]{20})@")


class Copies:
    """Which copy a quoted Message-ID names: the issue and its recipient, when the ledger says
    that issue went (or may have gone) to that address. Anything else was never ours."""

    def __init__(self, secret: str | None, mailed_in: Callable[[int], Iterable[str]]) -> None:
        self._secret, self._mailed_in = secret, mailed_in
        self._issues: dict[int, dict[str, str]] = {}

    def owner(self, number: int, key: str) -> str | None:
        if number not in self._issues:
            self._issues[number] = {copy_key(number, a, self._secret): a for a in self._mailed_in(number)}
        return self._issues[number].get(key)

    def quoted(self, raw: bytes) -> tuple[int, str] | None:
        """The first copy of ours that `raw` quotes (a bounce quotes the headers it returns)."""
        for found in OUR_MESSAGE_ID.finditer(raw):
            number = int(found.group(1))
            owner = self.owner(number, found.group(2).decode())
            if owner is not None:
                return number, owner
        return None


@cache  # one template a run, asked for every message
def address_pattern(template: str) -> re.Pattern[str]:
    """An address with `{token}` (or `{email}`) in it as a pattern; without one, the address
    also matches with a +tag ("leave@x.org" matches "leave+anything@x.org")."""
    if "{token}" not in template and "{email}" not in template:
        local, _, domain = template.partition("@")
        return re.compile(rf"{re.escape(local)}(?:\+[^@]*)?@{re.escape(domain)}", re.IGNORECASE)
    pieces = re.split(r"(\{token\}|\{email\})", template)
    parts = {"{token}": r"(?P<token>[0-9a-fA-F]{32})", "{email}": r".+?"}
    return re.compile("".join(parts.get(p, re.escape(p)) for p in pieces), re.IGNORECASE)


def mailto_address(mailto: str) -> str:
    """The address of a mailto URL ("mailto:leave@x.org?subject=…" → "leave@x.org")."""
    return unquote(urlsplit(mailto).path)


def delivered_to(message: Message) -> list[str]:
    values = [str(v) for name in _RECIPIENT_HEADERS for v in message.get_all(name, [])]
    return [address for _, address in getaddresses(values) if "@" in address]


def addressed_token(message: Message, pattern: re.Pattern[str]) -> tuple[bool, str | None]:
    """Whether the message was delivered to an address `pattern` matches, and the token in it."""
    for address in delivered_to(message):
        found = pattern.fullmatch(address)
        if found:
            return True, found.groupdict().get("token")
    return False, None


def request_tokens(message: Message, in_address: str | None) -> list[str]:
    """The tokens an unsubscribe request carries: in the address it went to, its subject, or
    the start of its text (where a mailto URL's `body=` puts it)."""
    found = [in_address] if in_address else []
    found += TOKEN.findall(str(message.get("Subject", "")))
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                found += TOKEN.findall(payload[:2000].decode("utf-8", errors="replace"))
            break
    return list(dict.fromkeys(t.lower() for t in found))
