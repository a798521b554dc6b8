"""Page views straight from Plausible's, Matomo's and Umami's APIs, over real HTTP on loopback: a
server answering in each API's documented shape, for the issue's window, with the token where
each API wants it; a wrong token and a server that never answers are one clear line."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from .conftest import Cli, running

TOKEN = "analytics-token-for-tests"
STORY = "/news/2025/11/un-security-council-gaza-peace-plan"
OTHER = "/news/2025/11/iran-iaea-timetable"
WINDOW = ("2025-11-17", "2025-11-23")  # the sample issue's, dated 2025-11-24, seven days


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class Api:
    base: str = ""
    seen: list[Seen] = field(default_factory=list)
    status: int = 200
    answer: Any = None
    hang: float = 0.0
    stop: threading.Event = field(default_factory=threading.Event)
    redirect: tuple[int, str] | None = None  # (status, Location) for the next request only


class _Quiet(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up on a refusal or a timeout is what these tests make happen


@contextmanager
def serving() -> Iterator[Api]:
    state = Api()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            parts = urlsplit(self.path)
            state.seen.append(
                Seen(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    dict(self.headers),
                    self.rfile.read(length),
                )
            )
            if state.hang and state.stop.wait(state.hang):
                return
            if state.redirect:
                (status, location), state.redirect = state.redirect, None
                self.send_response(status)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = json.dumps(state.answer).encode()
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = _Quiet(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    with running(server):
        try:
            yield state
        finally:
            state.stop.set()


@pytest.fixture
def api() -> Iterator[Api]:
    with serving() as state:
        yield state


@pytest.fixture
def elsewhere() -> Iterator[Api]:
    """Another origin (another port): where a redirect must never take the token."""
    with serving() as state:
        yield state


ANSWERS = {
    "plausible": {
        "results": [{"metrics": [18400], "dimensions": [STORY]}, {"metrics": [11200], "dimensions": [OTHER]}],
        "meta": {},
        "query": {"site_id": "commonground.example", "metrics": ["pageviews"], "date_range": list(WINDOW)},
    },
    "matomo": [
        {"label": STORY, "nb_visits": 12000, "nb_hits": 18400},
        {"label": OTHER, "nb_visits": 8000, "nb_hits": 11200},
    ],
    "umami": [{"x": STORY, "y": 18400}, {"x": OTHER, "y": 11200}],
}
ADDRESSES = {
    "plausible": "/?site_id=commonground.example",
    "matomo": "/?idSite=3",
    "umami": "/?website=abc-123",
}


def configured(newsletter: Path, label: str, extra: str = "") -> str:
    """The sample with `label` for its analytics (and `extra` in [sources]), from the sample's text."""
    config = newsletter / "digest.toml"
    original = newsletter / "digest.toml.orig"
    if not original.exists():
        original.write_text(config.read_text())
    text = original.read_text().replace('analytics = "analytics.csv"', f'analytics = "{label}"\n{extra}')
    config.write_text(text)
    return str(config)


def build(cli: Cli, config: str, newsletter: Path, token: str | None = TOKEN) -> Any:
    env = {"DIGEST_ANALYTICS_TOKEN": token} if token else {}
    return cli("build", "--config", config, "--out", str(newsletter / "issues"), env=env)


@pytest.mark.parametrize("tool", ["plausible", "matomo", "umami"])
def test_each_api_is_asked_for_the_issues_window_and_its_views_count(
    cli: Cli, newsletter: Path, api: Api, tool: str
) -> None:
    api.answer = ANSWERS[tool]
    config = configured(newsletter, f"{tool}+{api.base}{ADDRESSES[tool]}")
    result = build(cli, config, newsletter)
    assert result.exit_code == 0, result.output
    assert "analytics: 2 of 16 candidates matched" in result.stderr
    [seen] = api.seen
    if tool == "plausible":
        asked = json.loads(seen.body)
        assert (seen.method, seen.path) == ("POST", "/api/v2/query")
        assert seen.headers["Authorization"] == f"Bearer {TOKEN}"
        assert asked["site_id"] == "commonground.example" and asked["date_range"] == list(WINDOW)
        assert asked["metrics"] == ["pageviews"] and asked["dimensions"] == ["event:page"]
    elif tool == "matomo":
        form = parse_qs(seen.body.decode())
        assert (seen.method, seen.path) == ("POST", "/index.php")
        assert form["method"] == ["Actions.getPageUrls"] and form["idSite"] == ["3"] and form["flat"] == ["1"]
        assert form["date"] == [",".join(WINDOW)] and form["token_auth"] == [TOKEN]
        assert TOKEN not in str(seen.query)  # never in the URL, where logs keep it
    else:
        assert (seen.method, seen.path) == ("GET", "/api/websites/abc-123/metrics")
        assert seen.headers["Authorization"] == f"Bearer {TOKEN}" and seen.query["type"] == ["path"]
        start, end = (int(seen.query[k][0]) / 1000 for k in ("startAt", "endAt"))
        assert time.strftime("%Y-%m-%d", time.gmtime(start)) == WINDOW[0]
        assert time.strftime("%Y-%m-%d", time.gmtime(end)) == WINDOW[1]
    manifest = json.loads(next((newsletter / "issues").glob("*/manifest.json")).read_text())
    views = {p["url"]: p["score"]["pageviews"] for s in manifest["sections"].values() for p in s}
    assert views.get(f"https://www.commonground.example{STORY}") == 18400
    # The answer is in the snapshot: the issue rebuilds with the API gone.
    api.status, api.answer = 500, {}
    assert cli("rebuild", "1", "--config", config).exit_code == 0


@pytest.mark.parametrize(
    ("tool", "status", "answer", "said"),
    [
        ("plausible", 401, {"error": "Invalid API key"}, "the API refused the token (HTTP 401)"),
        ("umami", 401, {"error": "Unauthorized"}, "the API refused the token (HTTP 401)"),
        # Matomo says so in a 200 answer.
        (
            "matomo",
            200,
            {"result": "error", "message": "You can't access this resource."},
            "the API refused: You can't access this resource.",
        ),
    ],
)
def test_a_wrong_token_is_a_warning_or_under_strict_exit_4(
    cli: Cli, newsletter: Path, api: Api, tool: str, status: int, answer: Any, said: str
) -> None:
    api.status, api.answer = status, answer
    label = f"{tool}+{api.base}{ADDRESSES[tool]}"
    config = configured(newsletter, label)
    result = build(cli, config, newsletter, token="wrong")
    assert result.exit_code == 0, result.output
    assert f"warning: {label}: {said}" in result.stderr
    strict = configured(newsletter, label, "strict = true")
    result = build(cli, strict, newsletter, token="wrong")
    assert result.exit_code == 4 and len(result.stderr.strip().splitlines()) == 1, result.output
    assert said in result.stderr and "wrong" not in result.stderr


def test_an_api_that_never_answers_meets_the_time_limit(cli: Cli, newsletter: Path, api: Api) -> None:
    api.hang, api.answer = 30.0, ANSWERS["umami"]
    config = configured(newsletter, f"umami+{api.base}{ADDRESSES['umami']}", "timeout = 1.0")
    started = time.monotonic()
    result = build(cli, config, newsletter)
    assert time.monotonic() - started < 10
    assert result.exit_code == 0, result.output
    assert "no answer within 1 s (sources.timeout)" in result.stderr


def test_without_a_token_it_says_which_variable(cli: Cli, newsletter: Path, api: Api) -> None:
    config = configured(newsletter, f"plausible+{api.base}{ADDRESSES['plausible']}")
    result = build(cli, config, newsletter, token=None)
    assert "the analytics API needs a token: set $DIGEST_ANALYTICS_TOKEN" in result.stderr
    assert not api.seen


def test_an_answer_past_the_size_cap_is_refused_as_a_feed_would_be(
    cli: Cli, newsletter: Path, api: Api
) -> None:
    api.answer = [{"x": f"/news/{n:06}", "y": n} for n in range(4000)]  # some 120 KB of JSON
    config = configured(newsletter, f"umami+{api.base}{ADDRESSES['umami']}", "max_bytes = 65536")
    result = build(cli, config, newsletter)
    assert result.exit_code == 0, result.output
    assert "larger than the size cap of 65,536 bytes (sources.max_bytes), refused" in result.stderr


@pytest.mark.parametrize("tool", ["plausible", "matomo", "umami"])
@pytest.mark.parametrize("status", [302, 307])
def test_the_token_never_follows_a_redirect_to_another_origin(
    cli: Cli, newsletter: Path, api: Api, elsewhere: Api, tool: str, status: int
) -> None:
    elsewhere.answer = ANSWERS[tool]
    api.redirect = (status, f"{elsewhere.base}/collect")
    config = configured(newsletter, f"{tool}+{api.base}{ADDRESSES[tool]}")
    result = build(cli, config, newsletter)
    assert result.exit_code == 0, result.output
    assert (
        f"the API redirected to another origin ({elsewhere.base}): the token is not sent there"
        in result.stderr
    )
    assert not elsewhere.seen


def test_a_redirect_within_the_apis_origin_is_followed(cli: Cli, newsletter: Path, api: Api) -> None:
    api.answer, api.redirect = ANSWERS["matomo"], (307, "/matomo/index.php")
    config = configured(newsletter, f"matomo+{api.base}{ADDRESSES['matomo']}")
    result = build(cli, config, newsletter)
    assert "analytics: 2 of 16 candidates matched" in result.stderr, result.output
    assert [seen.path for seen in api.seen] == ["/index.php", "/matomo/index.php"]
    assert parse_qs(api.seen[1].body.decode())["token_auth"] == [TOKEN]


def test_a_plain_http_api_off_this_machine_is_refused_before_any_request(cli: Cli, newsletter: Path) -> None:
    config = configured(newsletter, "plausible+http://analytics.example/?site_id=commonground.example")
    result = build(cli, config, newsletter)
    assert result.exit_code == 0, result.output
    assert "the API is plain http: its token would travel in the clear; use https" in result.stderr
