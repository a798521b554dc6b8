"""Bounded HTTP: the rules every request digest makes follows, for feeds and analytics APIs.

Limits on time, size and redirects (`Limits`, from `[sources]`); who we say we are
(`user_agent`); and where a secret may travel: never to another origin than the one it was
meant for (`same_origin`), never over plain http but to this machine (`refuse_plain_http`).
httpx itself is imported by the callers, when a URL is to be read.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

from msgspec import Struct

from digest.errors import SourceError
from digest.files import too_large
from digest.resources import DISTRIBUTION, version


class Limits(Struct, frozen=True):
    timeout: float = 30.0  # seconds for one request, to the last byte
    connect_timeout: float = 10.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5


def user_agent() -> str:
    """The distribution and version: a host can tell our requests apart, and which release sent
    them. A function: the package metadata costs some 15 ms, which a local build never pays."""
    return f"{DISTRIBUTION}/{version()} (newsletter digest; feed reader)"


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port


def same_origin(first: str, target: str, label: str) -> str:
    """A redirect's target, when it stays on `first`'s origin (scheme, host and port): a token
    meant for one server never goes anywhere else."""
    if _origin(target) != _origin(first):
        where = urlunsplit((*urlsplit(target)[:2], "", "", ""))
        raise SourceError(
            f"the API redirected to another origin ({where}): the token is not sent there", path=label
        )
    return target


def refuse_plain_http(url: str, label: str) -> None:
    """A token travels only over https, but to a server on this machine (a local proxy, a test)."""
    parts = urlsplit(url)
    if parts.scheme == "http" and not is_loopback(parts.hostname or ""):
        raise SourceError("the API is plain http: its token would travel in the clear; use https", path=label)


def capped(chunks: Iterable[bytes], max_bytes: int, label: str) -> bytes:
    """An answer's body as it comes (decompressed), refused as soon as it passes `max_bytes`."""
    data = bytearray()
    for chunk in chunks:
        data += chunk
        if len(data) > max_bytes:
            raise SourceError(too_large(max_bytes), path=label)
    return bytes(data)
