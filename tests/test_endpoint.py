"""The one-click unsubscribe endpoint over real HTTP on loopback: POST suppresses, GET never does."""

from __future__ import annotations

import io
import os
import socket
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from digest.addresses import address_key, reader, token
from digest.feedback.endpoint import make_app, serve
from digest.state import DB_NAME, open_state

from .conftest import run_digest, start_digest
from .smtp import SmtpServer
from .test_send import SECRET, digest, newsletter
from .tools.browser import CHROMIUM, FLAGS

BODY = b"List-Unsubscribe=One-Click"


@contextmanager
def serving(state: Path) -> Iterator[str]:
    """The endpoint as `digest unsubscribe-server` serves it (waitress), on a free loopback port."""
    server = serve(make_app(state, SECRET), "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()  # the loop sees its socket gone and ends
        thread.join(timeout=5)


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The endpoint writing to a state folder of its own: (base URL, folder)."""
    state = tmp_path / "state"
    with serving(state) as base:
        yield base, state


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


def test_a_link_with_the_address_as_reader_unsubscribes_that_reader(endpoint: tuple[str, Path]) -> None:
    """`{reader}` (the address in base64url) stands for `{email}`: the address is not written in
    the link, where spam filters and web logs would read it."""
    base, state = endpoint
    address = "chloé@bücher.example"
    url = (
        f"{base}/newsletter/unsubscribe?reader={reader(address)}&token={token(SECRET, address_key(address))}"
    )
    assert request(url, BODY)[0] == 200
    assert suppressed(state) == [(address_key(address), "unsubscribed", "endpoint")]
    forged = (
        f"{base}/newsletter/unsubscribe?reader={reader('ana@example.org')}&token={token(SECRET, 'x@y.org')}"
    )
    assert request(forged, BODY)[0] == 400
    assert (
        request(f"{base}/newsletter/unsubscribe?reader=%%%&token={token(SECRET, 'x@y.org')}", BODY)[0] == 400
    )


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
    with serving(state) as base:
        smtp.recorder.faults.delay = 0.1
        sending = digest("send", "--config", str(config), cwd=tmp_path)
        while not smtp.recorder.messages:
            time.sleep(0.02)
        last = "reader11@example.org"
        assert request(link(base, last), BODY)[0] == 200
        _, err = sending.communicate(timeout=60)
        assert sending.returncode == 0, err
    assert last not in smtp.recorder.copies and len(smtp.recorder.copies) == 11


@contextmanager
def command_serving(config: Path, cwd: Path) -> Iterator[str]:
    """`digest unsubscribe-server` in a process of its own, on a free port: its base URL."""
    server = start_digest(
        "unsubscribe-server", "--port", "0", "--config", str(config), cwd=cwd,
        env={"DIGEST_UNSUBSCRIBE_SECRET": SECRET},
    )  # fmt: skip
    try:
        assert server.stdout is not None
        yield server.stdout.readline().split(" at ")[1].split()[0].rstrip("/")
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_command_serves_the_endpoint_and_wants_the_secret(tmp_path: Path, smtp: SmtpServer) -> None:
    config = newsletter(tmp_path / "news", smtp)
    with command_serving(config, tmp_path) as url:
        assert request(link(url, "ana@example.org"), BODY)[0] == 200
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


def raw_request(base: str, data: bytes, timeout: float = 5) -> bytes:
    """Bytes sent as they are (what urllib would refuse to send), the answer read to its end."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as conn:
        conn.sendall(data)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def post(path: str, headers: str, body: bytes = b"") -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}\r\n".encode() + body


@pytest.mark.parametrize(
    ("query", "headers", "body", "status"),
    [
        ("email=ana@example.org&token=TOKEN", "Content-Length: -1\r\n", BODY, b"400"),
        ("email=ana@example.org&token=TOKEN", "Content-Length: abc\r\n", BODY, b"400"),
        ("email=ana@example.org&token=%E2%82%AC" + "0" * 31, "Content-Length: 26\r\n", BODY, b"400"),
        ("email=%C3%A9%00@example.org&token=TOKEN", "Content-Length: 26\r\n", BODY, b"400"),
        ("email=ana@example.org&token=TOKEN", "Content-Length: 100000000\r\n", b"x" * 100, b"413"),
        ("email=ana@example.org&token=TOKEN" + "&x=1" * 30, "Content-Length: 26\r\n", BODY, b"400"),
    ],
    ids=["negative-length", "length-abc", "non-ascii-token", "nul-in-address", "huge-body", "many-fields"],
)
def test_bad_requests_get_a_4xx_and_record_nothing(
    endpoint: tuple[str, Path], query: str, headers: str, body: bytes, status: bytes
) -> None:
    base, state = endpoint
    answer = raw_request(
        base, post(f"/u?{query.replace('TOKEN', token(SECRET, 'ana@example.org'))}", headers, body)
    )
    assert answer.split(b" ")[1] == status, answer[:200]
    assert b"Traceback" not in answer
    assert not state.exists() or suppressed(state) == []
    assert request(link(base, "ana@example.org"), BODY)[0] == 200  # and it still serves


def test_idle_and_half_sent_connections_do_not_hold_up_a_one_click_post(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    config = newsletter(tmp_path / "news", smtp)
    idle: list[socket.socket] = []
    with command_serving(config, tmp_path) as base:
        port = int(base.rsplit(":", 1)[1])
        try:
            for n in range(200):
                conn = socket.create_connection(("127.0.0.1", port), timeout=5)
                idle.append(conn)
                if n % 20 == 0:  # some have begun a request and stopped, or drip a large body
                    dripping = post("/u", "Content-Length: 1000000\r\n", b"x" * 1000)
                    conn.sendall(dripping if n % 40 else b"POST /u HT")
            started = time.monotonic()
            status, _ = request(link(base, "ana@example.org"), BODY)
            assert status == 200 and time.monotonic() - started < 1.0
        finally:
            for conn in idle:
                conn.close()
    assert suppressed(tmp_path / "news" / "state") == [("ana@example.org", "unsubscribed", "endpoint")]


def lock_database(state: Path, seconds: float) -> threading.Thread:
    """Another process's write transaction on the state database, held for `seconds`."""
    with open_state(state):
        pass  # created and migrated
    ready = threading.Event()

    def hold() -> None:
        db = sqlite3.connect(state / DB_NAME, isolation_level=None)
        db.execute("BEGIN EXCLUSIVE")
        ready.set()
        time.sleep(seconds)
        db.execute("COMMIT")
        db.close()

    thread = threading.Thread(target=hold)
    thread.start()
    ready.wait()
    return thread


def test_a_post_while_the_database_is_locked_is_recorded_when_it_frees(endpoint: tuple[str, Path]) -> None:
    base, state = endpoint
    holder = lock_database(state, 3.0)
    status, _ = request(link(base, "ana@example.org"), BODY)
    holder.join()
    assert status == 200
    assert suppressed(state) == [("ana@example.org", "unsubscribed", "endpoint")]


def test_an_unsubscribe_that_cannot_be_recorded_is_503_with_retry_after(tmp_path: Path) -> None:
    state = tmp_path / "state"
    app = make_app(state, SECRET, patience=0.5)
    holder = lock_database(state, 1.5)
    url = f"/u?email=ana@example.org&token={token(SECRET, 'ana@example.org')}"
    answered: list[tuple[str, list[tuple[str, str]]]] = []
    environ = {
        "REQUEST_METHOD": "POST",
        "QUERY_STRING": url.split("?")[1],
        "CONTENT_LENGTH": "26",
        "wsgi.input": io.BytesIO(BODY),
    }
    body = b"".join(app(environ, lambda status, headers: answered.append((status, headers))))
    holder.join()
    [(status, headers)] = answered
    assert status.startswith("503") and ("Retry-After", "60") in headers and b"try again" in body
    assert suppressed(state) == []
