"""Shared fixtures and factories: the sample newsletter, issues composed or built from a config,
`digest` run in-process or in a fresh interpreter, a real HTTP server on loopback."""

from __future__ import annotations

import ipaddress
import os
import shutil
import socketserver
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from digest.build import Built, build, compose_issue, read_inputs
from digest.cli import app
from digest.config import Config, load_config
from digest.models import issue_moment

from .smtp import SmtpServer


def _is_loopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if not isinstance(host, str) or host == "localhost":
        return host == "localhost"
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _loopback_only(event: str, args: tuple[Any, ...]) -> None:
    """Tests never leave the machine: any connection or name lookup off loopback fails loudly."""
    if event == "socket.connect" and isinstance(args[1], tuple) and not _is_loopback(args[1][0]):
        raise ConnectionRefusedError(f"a test tried to connect to {args[1]!r}: only loopback is allowed")
    if event == "socket.getaddrinfo" and args[0] is not None and not _is_loopback(args[0]):
        raise OSError(f"a test tried to look up {args[0]!r}: only loopback is allowed")


sys.addaudithook(_loopback_only)

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "fixtures" / "sample"
CORPUS = REPO.parent / "shared" / "corpus"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite tests/golden/ from the current code instead of comparing (review the diff)",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture(scope="session", autouse=True)
def _own_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """digest's caches (compiled templates) in a folder of the test run's, not the user's home."""
    before = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if before is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = before


@pytest.fixture
def newsletter(tmp_path: Path) -> Path:
    """A private copy of the sample newsletter folder, free to edit."""
    folder = tmp_path / "newsletter"
    shutil.copytree(SAMPLE, folder)
    return folder


@pytest.fixture
def sample_config() -> Config:
    return load_config(SAMPLE / "digest.toml")


def compose(config: Config) -> Built:
    """The issue of the config's own date, composed in memory: no folder written, nothing recorded."""
    assert config.issue.date is not None, "the config must pin its issue.date"
    return compose_issue(read_inputs(config), config, issue_moment(config.issue.date))


def build_into(config: Config, folder: Path) -> tuple[Path, Built]:
    """The issue of the config's own date, built into folder/issues with its state in folder/state."""
    assert config.issue.date is not None, "the config must pin its issue.date"
    return build(config, issue_moment(config.issue.date), folder / "issues", folder / "state")


ENTRY = ("-m", "digest")  # how a fresh interpreter runs digest, as `python -m digest` does


def _clean_environment(extra: Mapping[str, str] | None) -> dict[str, str]:
    """This process's environment without any DIGEST_* variable, plus `extra`."""
    return {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")} | dict(extra or {})


def run_digest(
    *args: str,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    entry: Sequence[str] = ENTRY,
    timeout: float = 120,
    **options: Any,
) -> subprocess.CompletedProcess[str]:
    """`digest ARGS` in a fresh interpreter, run to its end; `options` go to subprocess.run."""
    return subprocess.run(
        [sys.executable, *entry, *args],
        cwd=cwd,
        env=_clean_environment(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        **options,
    )


def start_digest(*args: str, cwd: Path, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
    """`digest ARGS` in a fresh interpreter, left running: for tests that signal or race it."""
    return subprocess.Popen(
        [sys.executable, *ENTRY, *args],
        cwd=cwd,
        env=_clean_environment(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@dataclass
class Cli:
    cwd: Path
    runner: CliRunner = field(default_factory=CliRunner)

    def __call__(self, *args: str, env: Mapping[str, str] | None = None) -> Result:
        return self.runner.invoke(app, list(args), env=dict(env or {}), catch_exceptions=False)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """Runs `digest ...` in-process from an empty working folder, with no DIGEST_* variables."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for name in [n for n in os.environ if n.startswith("DIGEST_")]:
        monkeypatch.delenv(name)
    return Cli(cwd=work)


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering: a slow server
    drip: float = 0.0  # seconds between bytes of the body: a server that drips
    etag: str | None = None  # answer 304 to a request that names it in If-None-Match


@dataclass
class HttpServer:
    """A real HTTP server on 127.0.0.1 serving canned routes; records the requests it saw."""

    routes: dict[str, Route]
    base: str = ""
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str) -> str:
        return self.base + path

    def hits(self, path: str) -> int:
        return sum(1 for seen, _ in self.requests if seen == path)


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # a real server's backlog, not socketserver's 5
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (a test that gave up on a slow answer) is expected, not news.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextmanager
def running(server: socketserver.BaseServer) -> Iterator[None]:
    """`server` answering in a thread of its own for the block. Its loop looks for the stop every
    10 ms, not socketserver's 0.5 s: a test's teardown does not wait half a second for it."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def http_server() -> Iterator[HttpServer]:
    state = HttpServer(routes={})

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            state.requests.append((self.path, dict(self.headers.items())))
            route = state.routes.get(self.path, Route(404, b"not found"))
            if route.delay and state.stopping.wait(route.delay):
                return
            if route.etag and self.headers.get("If-None-Match") == route.etag:
                self.send_response(304)
                self.send_header("ETag", route.etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(route.status)
            for name, value in route.headers.items():
                self.send_header(name, value)
            if route.etag:
                self.send_header("ETag", route.etag)
            self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            try:
                if not route.drip:
                    self.wfile.write(route.body)
                    return
                for byte in route.body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    if state.stopping.wait(route.drip):
                        return
            except OSError:  # the client gave up: that is what some tests expect
                pass

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = _Server(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    with running(server):
        try:
            yield state
        finally:
            state.stopping.set()  # a dripping or delayed answer ends at once


@pytest.fixture
def smtp(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[SmtpServer]:
    """The test relay; `indirect` parameters choose its kind (`{"security": "tls"}`)."""
    server = SmtpServer(tmp_path, **getattr(request, "param", {}))
    server.start()
    try:
        yield server
    finally:
        server.stop()
