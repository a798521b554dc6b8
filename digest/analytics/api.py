"""Page views straight from an analytics tool's API, for the issue's own window.

`sources.analytics` may name an API instead of a file, with the tool before the address:

- `plausible+https://plausible.example/?site_id=example.org`: the Stats API v2 (`POST
  /api/v2/query`, pageviews by `event:page`, a bearer token);
- `matomo+https://matomo.example/?idSite=1`: the Reporting API (`Actions.getPageUrls`, flat,
  as JSON; the token posted as `token_auth`, never in the URL);
- `umami+https://umami.example/?website=<id>`: the metrics API (`type=path`, a bearer token, or
  Umami Cloud's API key).

The token comes from the environment (`sources.analytics_token_env`), never the config, and
never leaves the API's origin: a redirect elsewhere is refused, and so is plain http but on
loopback. The
answers are the JSON shapes `formats` reads from a saved file, so they are read the same way, and
kept in the issue's snapshot as they came. The same limits as feeds apply: time, size, redirects.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urljoin, urlsplit, urlunsplit

from msgspec import Struct

from digest.config import SourcesConfig
from digest.errors import SourceError
from digest.net import capped, refuse_plain_http, same_origin, user_agent

if TYPE_CHECKING:
    import httpx

TOOLS = ("plausible", "matomo", "umami")


def is_api(label: str) -> bool:
    return any(label.startswith(f"{tool}+http") for tool in TOOLS)


class _Request(Struct, frozen=True):
    method: str
    url: str
    headers: dict[str, str]
    params: dict[str, str] | None = None
    data: dict[str, str] | None = None
    body: bytes | None = None


def _request(label: str, token: str, start: dt.date, end: dt.date) -> _Request:
    tool, _, address = label.partition("+")
    parts = urlsplit(address)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    base = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
    bearer = {"Authorization": f"Bearer {token}"}
    if tool == "plausible":
        site = _needs(query, "site_id", label)
        body = {
            "site_id": site,
            "metrics": ["pageviews"],
            "date_range": [start.isoformat(), end.isoformat()],
            "dimensions": ["event:page"],
        }
        headers = {**bearer, "Content-Type": "application/json"}
        return _Request("POST", f"{base}/api/v2/query", headers, body=json.dumps(body).encode())
    if tool == "matomo":
        form = {
            "module": "API",
            "method": "Actions.getPageUrls",
            "idSite": _needs(query, "idSite", label),
            "period": "range",
            "date": f"{start.isoformat()},{end.isoformat()}",
            "format": "JSON",
            "flat": "1",
            "token_auth": token,
        }
        return _Request("POST", f"{base}/index.php", {}, data=form)
    website = _needs(query, "website", label)
    midnight = dt.time(tzinfo=dt.UTC)
    params = {
        "startAt": str(int(dt.datetime.combine(start, midnight).timestamp() * 1000)),
        "endAt": str(int(dt.datetime.combine(end + dt.timedelta(days=1), midnight).timestamp() * 1000) - 1),
        "type": "path",
    }
    headers = {**bearer, "x-umami-api-key": token}
    return _Request("GET", f"{base}/api/websites/{website}/metrics", headers, params=params)


def _needs(query: Mapping[str, str], name: str, label: str) -> str:
    if not query.get(name):
        raise SourceError(f"the address needs ?{name}=…", path=label)
    return query[name]


def fetch_api(
    label: str, *, token: str | None, period: tuple[dt.date, dt.date], limits: SourcesConfig
) -> bytes:
    """The API's answer for `period`, as bytes `formats.read_export` reads; a failure is one
    SourceError line naming the source (without the token). `limits`: the feeds' limits."""
    if not token:
        raise SourceError(f"the analytics API needs a token: set ${limits.analytics_token_env}", path=label)
    import httpx  # only when an API is asked

    request = _request(label, token, *period)
    refuse_plain_http(request.url, label)
    timeout = httpx.Timeout(limits.timeout, connect=limits.connect_timeout)
    url = request.url
    try:
        # Redirects are followed by hand, within the API's own origin: httpx keeps a custom header
        # (Umami's key) and a 307's body (Matomo's token_auth) on its way to any other host.
        with httpx.Client(
            timeout=timeout, follow_redirects=False, headers={"User-Agent": user_agent()}
        ) as client:
            for _ in range(limits.max_redirects + 1):
                with client.stream(
                    request.method,
                    url,
                    headers=request.headers,
                    params=request.params,
                    data=request.data,
                    content=request.body,
                ) as answer:
                    if answer.is_redirect:
                        url = same_origin(
                            request.url, urljoin(url, answer.headers.get("location", "")), label
                        )
                        continue
                    data = _read(answer, label, limits.max_bytes)
                    break
            else:
                raise SourceError(f"more than {limits.max_redirects} redirects", path=label)
    except httpx.TimeoutException:
        raise SourceError(f"no answer within {limits.timeout:g} s (sources.timeout)", path=label) from None
    except httpx.HTTPError as error:
        raise SourceError(f"cannot reach the API: {type(error).__name__}", path=label) from None
    _refused_in_body(data, label)
    return data


def _read(answer: httpx.Response, label: str, max_bytes: int) -> bytes:
    if answer.status_code in (401, 403):
        raise SourceError(f"the API refused the token (HTTP {answer.status_code})", path=label)
    if answer.status_code >= 400:
        raise SourceError(f"the API answered HTTP {answer.status_code}", path=label)
    return capped(answer.iter_bytes(), max_bytes, label)


def _refused_in_body(data: bytes, label: str) -> None:
    """Matomo answers a bad token with HTTP 200 and {"result": "error", "message": …}."""
    try:
        answer = json.loads(data)
    except ValueError:
        return
    if isinstance(answer, dict) and answer.get("result") == "error":
        message = " ".join(str(answer.get("message", "")).split())[:200]
        raise SourceError(f"the API refused: {message}", path=label)
