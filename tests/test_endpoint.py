"""The one-click unsubscribe endpoint over real HTTP on loopback: POST suppresses, GET never does."""

from __future__ import annotations

import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from playwright.sync_api import expect, sync_playwright

from digest.feedback.endpoint import make_app
from digest.send.personalize import token
from digest.state import open_state

from .conftest import run_digest, start_digest
from .smtp import SmtpServer
from .test_send import SECRET, digest, newsletter
from .tools.browser import CHROMIUM, FLAGS

BODY = b"List-Unsubscribe=One-Click"


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The endpoint on a free loopback port, writing to a state folder of its own: (base URL, folder)."""
    state = tmp_path / "state"
    server: WSGIServer = make_server("127.0.0.1", 0, make_app(state, SECRET), handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", state
    finally:
        server.shutdown()
        server.server_close()


def request(url: str, body: bytes | None = None) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def link(base: str, email: str, signed_with: str = SECRET) -> str:
    return f"{base}/newsletter/unsubscribe?email={email}&token={token(signed_with, email)}"


def suppressed(state: Path) -> list[tuple[str, str, str]]:
    with open_state(state) as opened:
        return [(s.email, s.reason.value, s.source.value) for s in opened.suppressions()]


def test_a_post_with_a_valid_token_suppresses_and_again_is_still_200(endpoint: tuple[str, Path]) -> None:
    base, state = endpoint
    assert request(link(base, "ana@example.org"), BODY)[0] == 200
    assert suppressed(state) == [("ana@example.org", "unsubscribed", "endpoint")]
    status, page = request(link(base, "ana@example.org"), BODY)
    assert status == 200 and "is unsubscribed" in page
    assert len(suppressed(state)) == 1  # nothing new recorded


def test_a_get_shows_a_button_and_never_unsubscribes(endpoint: tuple[str, Path]) -> None:
    base, state = endpoint
    status, page = request(link(base, "ana@example.org"))
    assert status == 200 and '<form method="post">' in page and "Unsubscribe" in page
    assert suppressed(state) == []


@pytest.mark.parametrize(
    "url",
    [
        "/newsletter/unsubscribe?email=ana@example.org&token=0123456789abcdef0123456789abcdef",  # forged
        "/newsletter/unsubscribe?email=ana@example.org",  # no token
        "/newsletter/unsubscribe",  # nothing
    ],
)
def test_a_bad_token_is_400_and_records_nothing(endpoint: tuple[str, Path], url: str) -> None:
    base, state = endpoint
    assert request(base + url, BODY)[0] == 400
    assert request(link(base, "ana@example.org", signed_with="another secret"), BODY)[0] == 400
    assert not state.exists() or suppressed(state) == []


def test_a_post_while_a_send_runs_keeps_that_address_from_being_mailed(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    config = newsletter(tmp_path / "news", smtp, subscribers=12)
    assert digest("build", "--config", str(config), cwd=tmp_path).wait(timeout=60) == 0
    state = tmp_path / "news" / "state"
    server = make_server("127.0.0.1", 0, make_app(state, SECRET), handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        smtp.recorder.faults.delay = 0.1
        sending = digest("send", "--config", str(config), cwd=tmp_path)
        while not smtp.recorder.messages:
            time.sleep(0.02)
        last = "reader11@example.org"
        assert request(link(f"http://127.0.0.1:{server.server_port}", last), BODY)[0] == 200
        _, err = sending.communicate(timeout=60)
        assert sending.returncode == 0, err
    finally:
        server.shutdown()
        server.server_close()
    assert last not in smtp.recorder.copies and len(smtp.recorder.copies) == 11


def test_the_command_serves_the_endpoint_and_wants_the_secret(tmp_path: Path, smtp: SmtpServer) -> None:
    config = newsletter(tmp_path / "news", smtp)
    server = start_digest(
        "unsubscribe-server",
        "--port",
        "0",
        "--config",
        str(config),
        cwd=tmp_path,
        env={"DIGEST_UNSUBSCRIBE_SECRET": SECRET},
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split(" at ")[1].split()[0].rstrip("/")
        assert request(link(url, "ana@example.org"), BODY)[0] == 200
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert suppressed(tmp_path / "news" / "state") == [("ana@example.org", "unsubscribed", "endpoint")]
    refused = run_digest("unsubscribe-server", "--config", str(config), cwd=tmp_path)  # no secret
    assert refused.returncode == 2 and "set the secret in $DIGEST_UNSUBSCRIBE_SECRET" in refused.stderr


@pytest.mark.slow  # a real Chromium
def test_in_a_browser_the_page_does_nothing_until_its_button_is_pressed(endpoint: tuple[str, Path]) -> None:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: `make test` installs it")
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    base, state = endpoint
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            page = browser.new_page()
            page.goto(link(base, "ana@example.org"))
            expect(page.get_by_role("heading")).to_have_text("Unsubscribe ana@example.org?")
            assert not state.exists() or suppressed(state) == []  # the page alone unsubscribes nobody
            page.get_by_role("button", name="Unsubscribe").click()
            expect(page.get_by_text("ana@example.org is unsubscribed")).to_be_visible()
        finally:
            browser.close()
    assert suppressed(state) == [("ana@example.org", "unsubscribed", "endpoint")]
