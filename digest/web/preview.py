"""`digest preview`: the issue in a browser, rebuilt when an input changes, pushed to the page.

One page shows the email at desktop width and at 375 px, a light/dark switch, the plain text,
the subject, preheader and headers, and the selection explained. The server listens on
127.0.0.1 unless told otherwise, serves only what it generated (fixed routes: anything else is
404), and keeps running through build errors, which the page shows with their file and line.

Rebuilds reuse the build pipeline (read_inputs, compose_issue); they write no issue folder and
record nothing in the state database. URL feeds are read once and reused, unless `refetch`.
"""

from __future__ import annotations

import datetime as dt
import email
import ipaddress
import json
import os
import re
import threading
import time
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from msgspec import Struct
from watchfiles import watch

from digest import issue_folder
from digest.build import Built, compose_issue, issue_day, read_inputs, variants_wanted, window_dates
from digest.config import Config, user_templates
from digest.errors import DigestError
from digest.models import Feed, Issue, issue_moment
from digest.render.templates import environment
from digest.resources import templates_dir
from digest.selection import EXPLAIN_COLUMNS, explain_rows, issue_window
from digest.state import open_state
from digest.urls import is_url

PAGE_TEMPLATE = "preview/page.html.j2"
_DARK = re.compile(r"@media\s*\(\s*prefers-color-scheme\s*:\s*dark\s*\)")


def with_scheme(document: str, scheme: str) -> str:
    """The email with its dark-mode rules forced on (dark) or off (light), whatever the OS says."""
    return _DARK.sub("@media all" if scheme == "dark" else "@media not all", document)


class Snapshot(Struct):
    version: int = 0
    built: Built | None = None
    error: str | None = None
    seconds: float = 0.0  # how long the last build took


class Preview:
    """The state the server shows: the last build (or error), and who is waiting for the next.
    A plain class: it holds a lock, shared by the server's threads and the watcher."""

    def __init__(self, config: Config, state_dir: Path, refetch: bool = False) -> None:
        self.config, self.state_dir, self.refetch = config, state_dir, refetch
        self.snapshot = Snapshot()
        self.changed = threading.Condition()
        self._feeds: dict[str, Feed] = {}

    def rebuild(self) -> Snapshot:
        start = time.perf_counter()
        built, error = None, None
        try:
            day = issue_day(self.config, dt.datetime.now(dt.UTC).date())
            moment = issue_moment(day)
            with open_state(self.state_dir) as state:
                reuse = {} if self.refetch else self._feeds
                history = state.history(day)
                period = window_dates(issue_window(moment, self.config.selection, history))
                inputs = read_inputs(self.config, state, reuse=reuse, period=period, env=os.environ)
            self._feeds = {self.config.resolve(f.source): f for f in inputs.feeds if is_url(f.source)}
            built = compose_issue(inputs, self.config, moment, history, variants=variants_wanted(self.config))
        except DigestError as failure:
            error = str(failure)
        with self.changed:
            previous = self.snapshot
            self.snapshot = Snapshot(
                previous.version + 1, built or previous.built, error, time.perf_counter() - start
            )
            self.changed.notify_all()
        return self.snapshot

    def wait_for_change(self, version: int, timeout: float) -> Snapshot:
        with self.changed:
            self.changed.wait_for(lambda: self.snapshot.version != version, timeout=timeout)
            return self.snapshot

    def watched(self) -> list[Path]:
        """What a rebuild depends on, on this machine: the config, templates, picks, analytics,
        local feeds."""
        config = self.config
        paths = [templates_dir()]
        if config.path:
            paths.append(config.path)
        own_templates = user_templates(config)
        if own_templates:
            paths.append(own_templates)
        analytics = config.sources.analytics
        exports = [analytics] if isinstance(analytics, str) else analytics or []
        for value in (config.selection.picks, *exports, *config.sources.feeds):
            if value and not is_url(value):
                paths.append(Path(config.resolve(value)))
        return [p for p in paths if p.exists()]

    def watch(self, stop: threading.Event) -> None:
        for _ in watch(*self.watched(), stop_event=stop, debounce=50, step=20, rust_timeout=200):
            self.rebuild()


def shown(built: Built, name: str) -> tuple[Issue, bytes]:
    """The issue and message of variant `name` ("" or unknown: the whole issue)."""
    found = built.variant(name)
    if found and found.issue and found.contents:
        return found.issue, found.contents.message
    return built.issue, built.files[issue_folder.MESSAGE]


def _headers(message_bytes: bytes) -> list[tuple[str, str]]:
    message = email.message_from_bytes(message_bytes, policy=policy.default)
    wanted = ("From", "Subject", "Date", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post")
    return [(name, " ".join(str(message[name]).split())) for name in wanted if message[name]]


def page(preview: Preview, variant: str = "") -> str:
    """The preview page of the whole issue, or of one `variant` (a switch lists them all)."""
    snapshot = preview.snapshot
    built = snapshot.built
    issue, message = shown(built, variant) if built else (None, b"")
    current = variant if built and issue is not built.issue else ""  # "": the whole issue
    env = environment()
    return env.get_template(PAGE_TEMPLATE).render(
        newsletter=preview.config.newsletter,
        version=snapshot.version,
        error=snapshot.error,
        built=built,
        rendered=issue.rendered if issue else None,
        headers=_headers(message) if built else [],
        columns=EXPLAIN_COLUMNS,
        explain=explain_rows(issue.selection) if issue else [],
        seconds=snapshot.seconds,
        variant=current,
        variants=[(v.variant.name, v.skipped) for v in built.variants] if built else [],
    )


def host_allowed(header: str | None, listening: str, port: int) -> bool:
    """Whether a request's Host names this server: an IP literal, localhost or the name it was
    told to listen on, with its port. A page from any other name is a DNS rebinding attack (a
    site whose name now points at 127.0.0.1) reading the preview, and is refused."""
    if not header:
        return False
    parts = urlsplit(f"//{header}")
    try:
        if parts.port != port:
            return False
    except ValueError:
        return False
    name = (parts.hostname or "").rstrip(".").lower()
    if name in ("localhost", listening.lower()):
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class Handler(BaseHTTPRequestHandler):
    preview: Preview  # set on the subclass made per server
    listening: str  # the host it was told to listen on (--host)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        address = self.server.server_address
        port = int(address[1]) if isinstance(address, tuple) else 0
        if not host_allowed(self.headers.get("Host"), self.listening, port):
            self._send(421, b"this preview answers to its own address only\n", "text/plain; charset=utf-8")
            return
        path, _, query = self.path.partition("?")
        asked = parse_qs(query)
        variant = (asked.get("variant") or [""])[0]
        snapshot = self.preview.snapshot
        if path == "/":
            self._send(200, page(self.preview, variant).encode(), "text/html; charset=utf-8")
        elif path == "/issue.html" and snapshot.built:
            scheme = "dark" if (asked.get("scheme") or [""])[0] == "dark" else "light"
            issue, _ = shown(snapshot.built, variant)
            self._send(200, with_scheme(issue.rendered.html, scheme).encode(), "text/html; charset=utf-8")
        elif path == "/version":
            body = json.dumps(
                {"version": snapshot.version, "error": snapshot.error, "seconds": snapshot.seconds}
            )
            self._send(200, body.encode(), "application/json")
        elif path == "/events":
            self._events(snapshot.version)
        else:  # nothing else is served: no files, so no path can reach outside
            self._send(404, b"not found\n", "text/plain; charset=utf-8")

    def _events(self, version: int) -> None:
        """Server-sent events: one `version` event per rebuild, a comment now and then to keep alive."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        try:
            while True:
                snapshot = self.preview.wait_for_change(version, timeout=15)
                if snapshot.version == version:
                    self.wfile.write(b": still here\n\n")
                else:
                    version = snapshot.version
                    self.wfile.write(f"event: version\ndata: {version}\n\n".encode())
                self.wfile.flush()
        except OSError:  # the page went away
            return


class Server(ThreadingHTTPServer):
    daemon_threads = True


def serve(preview: Preview, host: str, port: int) -> Server:
    handler = type("PreviewHandler", (Handler,), {"preview": preview, "listening": host})
    return Server((host, port), handler)


class Running:
    """A preview being served and watched (a plain class: a server and its threads)."""

    def __init__(self, server: Server, stop: threading.Event, threads: list[threading.Thread]) -> None:
        self.server, self.stop, self.threads = server, stop, threads

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host.decode() if isinstance(host, bytes) else host}:{port}/"

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()
        for thread in self.threads:
            thread.join(timeout=5)


def start(preview: Preview, host: str = "127.0.0.1", port: int = 0) -> Running:
    """Build once, then serve and watch in background threads."""
    preview.rebuild()
    server = serve(preview, host, port)
    stop = threading.Event()
    threads = [
        threading.Thread(target=server.serve_forever, daemon=True, name="preview-server"),
        threading.Thread(target=preview.watch, args=(stop,), daemon=True, name="preview-watch"),
    ]
    for thread in threads:
        thread.start()
    return Running(server, stop, threads)
