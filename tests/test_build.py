"""The whole pipeline: reproducible, offline, and never a half-written issue folder."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from msgspec.structs import replace

from digest.build import build
from digest.config import load_config
from digest.errors import OutputError, RenderError
from digest.files import MARK, write_file
from digest.issue_folder import write_folder
from digest.models import issue_moment

from .conftest import ENTRY, HttpServer, Route, run_digest, start_digest

# Runs `digest` in a fresh interpreter with an audit hook that kills the process on any
# attempt to resolve a name or open a connection: a test that proves rendering is offline.
NO_NETWORK = """
import os, sys
def hook(event, args):
    if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "socket.sendto"):
        sys.stderr.write(f"network access: {event} {args!r}\\n")
        sys.stderr.flush()
        os._exit(86)
sys.addaudithook(hook)
from digest.cli import main
sys.argv = ["digest", *sys.argv[1:]]
main()
"""


def run(*args: str, cwd: Path, seed: str = "0", audit: bool = False) -> subprocess.CompletedProcess[str]:
    """`digest ARGS` with a hash seed of its own; `audit`: in an interpreter that dies on any network use."""
    entry = ("-c", NO_NETWORK) if audit else ENTRY
    return run_digest(*args, cwd=cwd, env={"PYTHONHASHSEED": seed}, entry=entry)


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.slow
def test_the_same_inputs_and_date_give_byte_identical_files(tmp_path: Path, newsletter: Path) -> None:
    config = str(newsletter / "digest.toml")
    first = run("build", "--config", config, "--out", "a", "--date", "2025-11-24", cwd=tmp_path, seed="1")
    (tmp_path / "elsewhere").mkdir()
    second = run(
        "build",
        "--config",
        config,
        "--out",
        str(tmp_path / "b"),
        "--date",
        "2025-11-24",
        cwd=tmp_path / "elsewhere",
        seed="2",
    )
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    a, b = tmp_path / "a" / "2025-11-24", tmp_path / "b" / "2025-11-24"
    assert first.stdout.splitlines()[-1] == str(a)
    assert set(files_of(a)) == {
        "index.html",
        "digest.txt",
        "message.eml",
        "manifest.json",
        "personal.html",
        "personal.txt",
        "inputs.zip",
        ".made-by-digest",  # the mark that lets digest replace this folder, and no other
    }
    assert files_of(a) == files_of(b)


@pytest.mark.slow
def test_building_makes_no_network_connection(tmp_path: Path) -> None:
    result = run("build", "--out", "out", cwd=tmp_path, audit=True)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "2025-11-24" / "index.html").is_file()


@pytest.mark.slow
def test_the_network_guard_does_catch_a_connection(tmp_path: Path, http_server: HttpServer) -> None:
    # The control for the test above: the same harness stops a build that does connect.
    http_server.routes["/rss"] = Route(body=b"<rss/>")
    result = run("build", "--feed", http_server.url("/rss"), "--out", "out", cwd=tmp_path, audit=True)
    assert result.returncode == 86
    assert "network access: socket." in result.stderr


def test_a_failed_rebuild_leaves_the_previous_issue_untouched(newsletter: Path, tmp_path: Path) -> None:
    config = load_config(newsletter / "digest.toml")
    out = tmp_path / "out"
    folder, _ = build(config, issue_moment(config.issue.date), out, tmp_path / "state")  # type: ignore[arg-type]
    before = files_of(folder)
    templates = newsletter / "templates"
    templates.mkdir()
    (templates / "digest.txt.j2").write_text("{% for %}")
    broken = replace(config, output=replace(config.output, templates="templates"))
    with pytest.raises(RenderError):
        build(broken, issue_moment(config.issue.date), out, tmp_path / "state")  # type: ignore[arg-type]
    assert files_of(folder) == before
    assert [p.name for p in out.iterdir()] == ["2025-11-24"]  # no temporary folder left behind


def test_a_write_that_fails_midway_leaves_no_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_open = Path.open
    calls = {"n": 0}

    def failing_open(self: Path, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", failing_open)
    with pytest.raises(OutputError, match="No space left on device"):
        write_folder(tmp_path / "issue", {"a.html": b"a", "b.txt": b"b"})
    assert list(tmp_path.iterdir()) == []


def test_a_single_file_that_cannot_be_put_in_place_leaves_nothing_beside_it(tmp_path: Path) -> None:
    (tmp_path / "digest.toml").mkdir()  # a folder where the file should go: the rename fails
    with pytest.raises(OutputError, match=r"digest\.toml"):
        write_file(tmp_path / "digest.toml", b"[newsletter]\n")
    assert [p.name for p in tmp_path.iterdir()] == ["digest.toml"]


def test_a_rebuild_replaces_the_folder_whole(tmp_path: Path) -> None:
    write_folder(tmp_path / "issue", {"old.txt": b"old", "same.txt": b"1"})
    write_folder(tmp_path / "issue", {"same.txt": b"2"})
    assert files_of(tmp_path / "issue").keys() == {"same.txt", MARK}
    assert files_of(tmp_path / "issue")["same.txt"] == b"2"
    assert [p.name for p in tmp_path.iterdir()] == ["issue"]


@pytest.mark.slow
def test_ctrl_c_exits_130_in_one_line_and_writes_nothing(tmp_path: Path, http_server: HttpServer) -> None:
    http_server.routes["/slow"] = Route(body=b"<rss/>", delay=30)
    process = start_digest("build", "--feed", http_server.url("/slow"), "--out", "out", cwd=tmp_path)
    deadline = time.monotonic() + 20
    while not http_server.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    assert http_server.requests, "the build never asked for the feed"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 130
    assert stderr.strip() == "digest: error: interrupted"
    assert not (tmp_path / "out").exists()
