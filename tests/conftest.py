"""Shared fixtures: the sample newsletter, a CLI runner, a real HTTP server on loopback."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from digest.cli import app
from digest.config import Config, load_config

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


@pytest.fixture
def newsletter(tmp_path: Path) -> Path:
    """A private copy of the sample newsletter folder, free to edit."""
    folder = tmp_path / "newsletter"
    shutil.copytree(SAMPLE, folder)
    return folder


@pytest.fixture
def sample_config() -> Config:
    return load_config(SAMPLE / "digest.toml")


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


@dataclass
class HttpServer:
    """A real HTTP server on 127.0.0.1 serving canned routes; records the requests it saw."""

    routes: dict[str, Route]
    base: str = ""
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture
def http_server() -> Iterator[HttpServer]:
    server_state = HttpServer(routes={})

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server_state.requests.append((self.path, dict(self.headers.items())))
            route = server_state.routes.get(self.path, Route(404, b"not found"))
            time.sleep(route.delay)
            self.send_response(route.status)
            for name, value in route.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            self.wfile.write(route.body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_state
    finally:
        server.shutdown()
        server.server_close()
