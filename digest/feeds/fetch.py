"""Reading a source's bytes: a local file, or an HTTP(S) URL fetched the way a careful feed reader does.

Every read is bounded: a size cap (also on decompressed bytes, so a gzip bomb
stops at the cap), a connect timeout, a time limit for the whole exchange (a
server that drips one byte a second is cut off), and a bounded number of
redirects. Conditional GET (ETag / Last-Modified) lets an unchanged feed cost a
304. Fetches are asyncio coroutines, so many feeds download at once and Ctrl-C
stops them all at once.
"""

from __future__ import annotations

import logging
import time
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from msgspec import Struct

from digest.errors import SourceError
from digest.files import too_large
from digest.net import Limits, user_agent

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9,"
    " application/xml;q=0.9, text/xml;q=0.9, text/x-opml;q=0.8, */*;q=0.5"
)


class Fetched(Struct, frozen=True):
    body: bytes  # empty when `not_modified`
    url: str  # after redirects: the base for relative links
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False


def gunzip(data: bytes, label: str, limits: Limits) -> bytes:
    """Gzip bytes under a feed's name (as some servers and files have them), inflated up to the cap."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        body = inflater.decompress(data, limits.max_bytes + 1)
    except zlib.error as error:
        raise SourceError(f"broken gzip data: {error}", path=label) from None
    if len(body) > limits.max_bytes:
        raise SourceError(too_large(limits.max_bytes), path=label)
    return body


def is_gzip(data: bytes) -> bool:
    return data[:2] == b"\x1f\x8b"


def read_file(path: str, label: str, limits: Limits) -> bytes:
    try:
        with Path(path).open("rb") as handle:
            data = handle.read(limits.max_bytes + 1)
    except FileNotFoundError:
        raise SourceError("no such file", path=label) from None
    except IsADirectoryError:
        raise SourceError("is a folder, not a feed file", path=label) from None
    except OSError as error:
        raise SourceError(f"cannot read: {error.strerror or error}", path=label) from None
    if len(data) > limits.max_bytes:
        raise SourceError(too_large(limits.max_bytes), path=label)
    return data


def client(limits: Limits, transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """One client for all fetches of a build: connections are reused, settings are shared.
    httpx is imported here, when a URL is to be read: a build of local files never pays for it."""
    import httpx

    return httpx.AsyncClient(
        timeout=httpx.Timeout(limits.timeout, connect=limits.connect_timeout),
        follow_redirects=True,
        max_redirects=limits.max_redirects,
        headers={"User-Agent": user_agent(), "Accept": ACCEPT},
        transport=transport,
    )


async def fetch(
    http: httpx.AsyncClient,
    url: str,
    limits: Limits,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
) -> Fetched:
    import asyncio

    import httpx

    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    started = time.perf_counter()
    try:
        async with asyncio.timeout(limits.timeout):
            fetched = await _get(http, url, limits, headers)
        status = "304 not modified" if fetched.not_modified else f"{len(fetched.body):,} bytes"
        log.info("GET %s: %s in %.2f s", url, status, time.perf_counter() - started)
        return fetched
    except TimeoutError:
        raise SourceError(
            f"no complete answer within {limits.timeout:g} s (sources.timeout), gave up", path=url
        ) from None
    except httpx.TooManyRedirects:
        raise SourceError(f"more than {limits.max_redirects} redirects", path=url) from None
    except httpx.ConnectTimeout:
        raise SourceError(f"no connection within {limits.connect_timeout:g} s", path=url) from None
    except httpx.TimeoutException:
        raise SourceError("timed out waiting for the server", path=url) from None
    except httpx.DecodingError as error:
        raise SourceError(f"broken compressed body: {error}", path=url) from None
    except httpx.HTTPError as error:
        detail = " ".join(str(error).split()) or type(error).__name__
        raise SourceError(f"cannot fetch: {detail}", path=url) from None


async def _get(http: httpx.AsyncClient, url: str, limits: Limits, headers: dict[str, str]) -> Fetched:
    async with http.stream("GET", url, headers=headers) as response:
        final = str(response.url)
        if response.status_code == 304:
            return Fetched(b"", final, headers.get("If-None-Match"), headers.get("If-Modified-Since"), True)
        if response.status_code >= 400:
            raise SourceError(f"HTTP {response.status_code} {response.reason_phrase}", path=url)
        declared = response.headers.get("Content-Length", "")
        encoded = bool(response.headers.get("Content-Encoding"))
        if declared.isdigit() and int(declared) > limits.max_bytes and not encoded:
            raise SourceError(too_large(limits.max_bytes), path=url)
        body = bytearray()
        async for chunk in response.aiter_bytes():  # decompressed: the cap also stops gzip bombs
            body += chunk
            if len(body) > limits.max_bytes:
                raise SourceError(too_large(limits.max_bytes), path=url)
        return Fetched(
            bytes(body), final, response.headers.get("ETag"), response.headers.get("Last-Modified")
        )
