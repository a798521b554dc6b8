"""The one-click unsubscribe endpoint (RFC 8058): the one thing readers send back that needs a server.

A mail client posts `List-Unsubscribe=One-Click` to the https link of `List-Unsubscribe`, which
carries the subscriber's address and token. A valid token suppresses the address (reason
unsubscribed, source endpoint) and answers 200, again and again; a wrong or missing one answers
400 and records nothing. A GET shows a page whose button makes the same POST: a GET alone never
unsubscribes, since mail scanners follow links. A WSGI application, for `digest
unsubscribe-server` (waitress, on loopback) or gunicorn and waitress behind nginx or Caddy.

Whatever a stranger sends gets an answer, never a traceback: a link that does not verify, a
Content-Length that is no length, a token in another script are 400. A busy database never loses
an unsubscribe: the write is tried again for WRITE_PATIENCE seconds, and only then is the answer
503 with Retry-After (and a log line), so the mail client asks again.
"""

from __future__ import annotations

import datetime as dt
import hmac
import html
import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from digest.addresses import key_or_none, reader_address
from digest.addresses import token as expected_token
from digest.config import Config, find_config, load_config, state_dir
from digest.errors import ConfigError, StateError
from digest.models import Suppression, SuppressionReason, SuppressionSource
from digest.state import BUSY_TIMEOUT, open_state

if TYPE_CHECKING:
    from waitress.server import BaseWSGIServer

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
ONE_CLICK = "List-Unsubscribe=One-Click"
MAX_BODY = 4096  # a one-click POST is 26 bytes; a form with more is no request of ours
WORKERS = 4  # threads answering requests: each holds one for a few milliseconds
MAX_CONNECTIONS = 1000  # open at once; past it new ones wait in the listen queue
IDLE_TIMEOUT = 30  # seconds a connection may stay silent (or drip a request) before it is closed

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


_TOKEN = re.compile(r"[0-9a-fA-F]{32}")
MAX_FIELDS = 20  # a link of ours has two
_PLAIN = "text/plain; charset=utf-8"
# An unsubscribe is never lost to a busy database: the write waits for the lock and is tried
# again until this many seconds have gone (within a mail client's patience), then 503 and a log line.
WRITE_PATIENCE = 15.0
RETRY_AFTER = "60"

_log = logging.getLogger("digest.endpoint")


def _link(environ: dict[str, Any]) -> tuple[str | None, str]:
    """The address key and the token the link carries; (None, "") for a query that is no link of
    ours. PEP 3333 hands the query over as latin-1: back to its bytes, read as UTF-8."""
    raw = environ.get("QUERY_STRING", "").encode("latin-1", errors="replace")
    try:
        query = parse_qs(raw.decode("utf-8", errors="replace"), max_num_fields=MAX_FIELDS)
    except ValueError:  # more fields than a link of ours has
        return None, ""
    email, ref, token = ((query.get(name) or [""])[0] for name in ("email", "reader", "token"))
    return key_or_none(email or reader_address(ref)), token


def _body(environ: dict[str, Any]) -> str | None:
    """The form a one-click POST carries, at most MAX_BODY bytes; None when Content-Length is
    no length (a WSGI server in front may not have refused it)."""
    declared = (environ.get("CONTENT_LENGTH") or "0").strip()
    if not declared.isdigit():  # "-1", "abc", "1e9": RFC 9110 calls each invalid
        return None
    data: bytes = environ["wsgi.input"].read(min(int(declared), MAX_BODY))
    return data.decode("utf-8", errors="replace")


def _record(state_dir: Path, entry: Suppression, patience: float) -> bool:
    """The suppression written, tried again while the database is locked; False when it could
    not be written within `patience` seconds."""
    deadline = time.monotonic() + patience
    delay = 0.05
    while True:
        try:
            with open_state(
                state_dir, busy_timeout=max(0.01, min(BUSY_TIMEOUT, deadline - time.monotonic()))
            ) as state:
                state.suppress([entry])
            return True
        except StateError as error:
            if time.monotonic() + delay > deadline:
                _log.error("digest: error: unsubscribe of %s not recorded: %s", entry.email, error)
                return False
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


def make_app(
    state_dir: Path,
    secret: str,
    clock: Callable[[], dt.datetime] | None = None,
    patience: float = WRITE_PATIENCE,
) -> Callable[..., Iterable[bytes]]:
    """The WSGI application; `secret` signs the tokens (`send.secret_env`'s value)."""
    now = clock or (lambda: dt.datetime.now(dt.UTC))

    def app(environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        email, given = _link(environ)
        method = environ.get("REQUEST_METHOD", "GET")
        if (
            email is None
            or _TOKEN.fullmatch(given) is None
            or not hmac.compare_digest(given.lower(), expected_token(secret, email))
        ):
            return _answer(start, "400 Bad Request", "This unsubscribe link is not valid.\n", _PLAIN)
        if method == "GET":
            return _answer(start, "200 OK", _PAGE.format(email=html.escape(email)))
        if method != "POST":
            return _answer(start, "405 Method Not Allowed", "GET or POST\n", _PLAIN)
        body = _body(environ)
        if body is None:
            return _answer(start, "400 Bad Request", "Content-Length is not a length\n", _PLAIN)
        if ONE_CLICK not in body.replace("%3D", "=").replace("+", " "):
            return _answer(start, "400 Bad Request", f"expected {ONE_CLICK}\n", _PLAIN)
        entry = Suppression(email, SuppressionReason.UNSUBSCRIBED, SuppressionSource.ENDPOINT, now())
        if not _record(state_dir, entry, patience):
            start(
                "503 Service Unavailable",
                [("Content-Type", _PLAIN), ("Retry-After", RETRY_AFTER), ("Cache-Control", "no-store")],
            )
            return [b"Busy: please try again in a minute.\n"]
        return _answer(start, "200 OK", _DONE.format(email=html.escape(email)))

    return app


def serve(app: Callable[..., Iterable[bytes]], host: str, port: int) -> BaseWSGIServer:
    """The endpoint's server (waitress): requests are read whole by one event loop before a
    worker thread sees them, so idle or slow clients hold no worker; each connection idles at
    most IDLE_TIMEOUT seconds, a body over MAX_BODY is refused (413) unread. `run()` serves."""
    from waitress.server import BaseWSGIServer, create_server

    server = create_server(
        app,
        host=host,
        port=port,
        threads=WORKERS,
        connection_limit=MAX_CONNECTIONS,
        channel_timeout=IDLE_TIMEOUT,
        cleanup_interval=5,
        max_request_body_size=MAX_BODY,
        max_request_header_size=16 * 1024,
        asyncore_use_poll=True,  # select() stops at 1,024 descriptors; poll() does not
        asyncore_loop_timeout=0.25,  # a closed server's loop ends within a quarter second
        clear_untrusted_proxy_headers=True,
        ident="digest",
    )
    assert isinstance(server, BaseWSGIServer)  # one host, one socket
    return server


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
