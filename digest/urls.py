"""URLs from feeds: only absolute http(s) ones get through, and one canonical form is used for identity.

The canonical form decides whether two links are the same story (across feeds, and
against the analytics export); the link shown to readers keeps its own parameters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

# Parameters that track a click rather than name a page.
_TRACKING = re.compile(
    r"^(utm_\w+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|yclid|mc_cid|mc_eid|_hsenc|_hsmi|igshid"
    r"|mkt_tok|oly_anon_id|oly_enc_id|vero_id|ref_src)$",
    re.IGNORECASE,
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_TAG_CHARACTERS = str.maketrans({"{": "%7B", "}": "%7D", "|": "%7C"})


_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")


def scheme_of(value: str) -> str | None:
    """A link's scheme as a browser reads it (white space anywhere in it ignored: "java\nscript:"
    is javascript:), as written; None for text without one (an ESP's merge tag, "*|UNSUB|*")."""
    found = _SCHEME.match("".join(value.split()))
    return found.group(1) if found else None


def is_url(value: str) -> bool:
    """Sources may be URLs or paths; only http(s) URLs are fetched."""
    return value[:8].lower().startswith(("http://", "https://"))


def safe_url(value: str | None, base: str = "") -> str | None:
    """An absolute http(s) URL, or None: `javascript:`, `data:` and the like never get past here."""
    if not value or not isinstance(value, str):
        return None
    candidate = "".join(value.split())  # no white space inside a URL; "java\nscript:" included
    try:
        url = urljoin(base, candidate) if base and not is_url(candidate) else candidate
        parts = urlsplit(url)
    except ValueError:  # e.g. an invalid IPv6 literal
        return None
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
        return None
    # Braces and bars are what template and merge-tag syntax is made of; encoded, a link
    # from a feed means the same to a browser and nothing to an ESP.
    return url.translate(_TAG_CHARACTERS)


def canonical_url(url: str) -> str:
    """The identity of a page: lower-case scheme and host, no default port, no fragment,
    no tracking parameters, an empty path as "/"."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    query = urlencode(
        [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)]
    )
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))


def with_params(url: str, params: Mapping[str, str]) -> str:
    """`url` with `params` added; a parameter the link already has keeps its value, and the
    rest of the query stays byte for byte as it was."""
    parts = urlsplit(url)
    existing = {key for key, _ in parse_qsl(parts.query, keep_blank_values=True)}
    extra = urlencode([(k, v) for k, v in params.items() if k not in existing and v])
    if not extra:
        return url
    return urlunsplit(parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra))
