"""The one-click unsubscribe endpoint (RFC 8058): the one thing readers send back that needs a server.

A mail client posts `List-Unsubscribe=One-Click` to the https link of `List-Unsubscribe`, which
carries the subscriber's address and token. A valid token suppresses the address (reason
unsubscribed, source endpoint) and answers 200, again and again; a wrong or missing one answers
400 and records nothing. A GET shows a page whose button makes the same POST: a GET alone never
unsubscribes, since mail scanners follow links. A WSGI application, for `digest
unsubscribe-server` (loopback) or gunicorn and waitress behind nginx or Caddy.
"""

from __future__ import annotations

import datetime as dt
import hmac
import html
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from digest.config import Config, find_config, load_config, state_dir
from digest.errors import ConfigError
from digest.models import Suppression, SuppressionReason, SuppressionSource
from digest.send.personalize import token as expected_token
from digest.send.subscribers import normalized
from digest.state import open_state

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
ONE_CLICK = "List-Unsubscribe=One-Click"
MAX_BODY = 4096

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Unsubscribe</title></head>
<body style="font-family: sans-serif; max-width: 32em; margin: 3em auto">
<h1>Unsubscribe {email}?</h1>
<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">Unsubscribe</button></form>
</body></html>
"""
_DONE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Unsubscribed</title></head>
<body><p>{email} is unsubscribed. You will get no more mail from us.</p></body></html>
"""


def _answer(
    start: StartResponse, status: str, body: str, kind: str = "text/html; charset=utf-8"
) -> list[bytes]:
    data = body.encode("utf-8")
    start(status, [("Content-Type", kind), ("Content-Length", str(len(data))), ("Cache-Control", "no-store")])
    return [data]


def make_app(
    state_dir: Path, secret: str, clock: Callable[[], dt.datetime] | None = None
) -> Callable[..., Iterable[bytes]]:
    """The WSGI application; `secret` signs the tokens (`send.secret_env`'s value)."""
    now = clock or (lambda: dt.datetime.now(dt.UTC))

    def app(environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        email = normalized((query.get("email") or [""])[0])
        token = (query.get("token") or [""])[0]
        valid = bool(email) and hmac.compare_digest(token, expected_token(secret, email))
        method = environ.get("REQUEST_METHOD", "GET")
        if not valid:
            return _answer(
                start, "400 Bad Request", "This unsubscribe link is not valid.\n", "text/plain; charset=utf-8"
            )
        if method == "GET":
            return _answer(start, "200 OK", _PAGE.format(email=html.escape(email)))
        if method != "POST":
            return _answer(start, "405 Method Not Allowed", "GET or POST\n", "text/plain; charset=utf-8")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(min(length, MAX_BODY)).decode("utf-8", errors="replace")
        if ONE_CLICK not in body.replace("%3D", "=").replace("+", " "):
            return _answer(start, "400 Bad Request", f"expected {ONE_CLICK}\n", "text/plain; charset=utf-8")
        with open_state(state_dir) as state:
            state.suppress(
                [Suppression(email, SuppressionReason.UNSUBSCRIBED, SuppressionSource.ENDPOINT, now())]
            )
        return _answer(start, "200 OK", _DONE.format(email=html.escape(email)))

    return app


def app_for(config: Config, cwd: Path, env: Mapping[str, str]) -> Callable[..., Iterable[bytes]]:
    """The application for a newsletter's config, its secret from `env`."""
    secret = env.get(config.send.secret_env)
    if not secret:
        raise ConfigError(f"the endpoint checks tokens: set the secret in ${config.send.secret_env}")
    return make_app(state_dir(config, cwd), secret)


def wsgi() -> Callable[..., Iterable[bytes]]:
    """The application for a WSGI server, configured from the environment as the CLI is
    (`DIGEST_CONFIG`, else the nearest digest.toml): `gunicorn 'digest.feedback.endpoint:wsgi()'`."""
    explicit = os.environ.get("DIGEST_CONFIG")
    config = load_config(
        find_config(Path(explicit) if explicit else None, Path.cwd(), own=True), env=os.environ
    )
    return app_for(config, Path.cwd(), os.environ)
