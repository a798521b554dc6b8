"""Peak memory of a command on one hostile input, measured in a child process: at most 256 MiB.

Each input is made here (a zip bomb, a 200 MB export, a 1 MB headline, a 100 MB message, a
2 GiB snapshot member), and each command runs in a fresh interpreter whose peak resident size
its parent reads back (`ru_maxrss` of the one child it waited for).
"""

from __future__ import annotations

import json
import mailbox
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .conftest import ENTRY, _clean_environment

pytestmark = pytest.mark.slow  # big files and fresh interpreters

LIMIT_MIB = 256
MEASURE = (
    "import resource, subprocess, sys;"
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True);"
    "sys.stderr.write(done.stderr);"
    "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def peak(*args: str, cwd: Path) -> tuple[int, float, str]:
    """`digest ARGS` in a child: (exit code, peak resident MiB, its stderr)."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, sys.executable, *ENTRY, *args],
        cwd=cwd,
        env=_clean_environment({"DIGEST_UNSUBSCRIBE_SECRET": "s"}),
        capture_output=True,
        text=True,
        timeout=300,
    )
    code, kib = done.stdout.split()
    return int(code), int(kib) / 1024, done.stderr


def zeros_member(archive: zipfile.ZipFile, name: str, size: int, head: bytes = b"") -> None:
    with archive.open(name, "w", force_zip64=True) as member:
        member.write(head)
        chunk = b"0" * (1 << 20)
        for _ in range(size >> 20):
            member.write(chunk)


def sample(folder: Path) -> Path:
    from .conftest import SAMPLE

    folder.mkdir()
    for name in ("news.rss", "analytics.csv", "picks.toml", "digest.toml"):
        (folder / name).write_bytes((SAMPLE / name).read_bytes())
    return folder / "digest.toml"


def with_analytics(config: Path, name: str) -> Path:
    config.write_text(config.read_text().replace('analytics = "analytics.csv"', f'analytics = "{name}"'))
    return config


def within_limit(result: tuple[int, float, str], code: int, said: str) -> None:
    exit_code, mib, stderr = result
    assert exit_code == code, stderr
    assert said in stderr, stderr
    assert mib <= LIMIT_MIB, f"{mib:.0f} MiB"


def test_a_zip_bomb_export(tmp_path: Path) -> None:
    config = with_analytics(sample(tmp_path / "news"), "plausible.zip")
    with zipfile.ZipFile(
        tmp_path / "news" / "plausible.zip", "w", zipfile.ZIP_DEFLATED, compresslevel=1
    ) as bomb:
        zeros_member(bomb, "pages.csv", 2 << 30, b"name,visitors,pageviews\n/x,1,")
    result = peak("build", "--config", str(config), cwd=tmp_path)
    within_limit(result, 2, "plausible.zip")


def test_a_200_mb_export(tmp_path: Path) -> None:
    config = with_analytics(sample(tmp_path / "news"), "huge.csv")
    with (tmp_path / "news" / "huge.csv").open("w") as handle:
        handle.write("url,pageviews\n")
        row = "".join(f"/news/2025/11/story-{n:08},{n}\n" for n in range(10_000))
        for _ in range(200_000_000 // len(row)):
            handle.write(row)
    result = peak("build", "--config", str(config), cwd=tmp_path)
    within_limit(result, 2, "size cap")


def test_a_headline_of_1_mb_without_spaces(tmp_path: Path) -> None:
    config = sample(tmp_path / "news")
    feed = tmp_path / "news" / "news.rss"
    text = feed.read_text()
    lead = (tmp_path / "news" / "picks.toml").read_text().split('lead = "')[1].split('"')[0]
    item = text.rindex("<item>", 0, text.index(f"<link>{lead}</link>"))
    first = text.index("<title>", item)
    end = text.index("</title>", first)
    feed.write_text(text[: first + len("<title>")] + "W" * (1 << 20) + text[end:])  # the lead's
    result = peak("build", "--config", str(config), cwd=tmp_path)
    within_limit(result, 0, "")


def test_a_100_mb_message_in_the_feedback_mailbox(tmp_path: Path) -> None:
    config = sample(tmp_path / "news")
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    box.close()
    big = b"From: x@y.example\nSubject: big\nContent-Type: text/plain\n\n" + (b"A" * 1000 + b"\n") * 100_000
    (tmp_path / "Maildir" / "new" / "1.big").write_bytes(big)
    config.write_text(config.read_text() + f'[feedback]\nmailbox = "{tmp_path / "Maildir"}"\n')
    result = peak("feedback", "--config", str(config), cwd=tmp_path)
    within_limit(result, 0, "")


def test_a_2_gib_member_in_a_snapshot(tmp_path: Path) -> None:
    config = sample(tmp_path / "news")
    built = subprocess.run(
        [sys.executable, *ENTRY, "build", "--config", str(config)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    folder = Path(built.stdout.splitlines()[-1])
    snapshot = folder / "inputs.zip"
    with zipfile.ZipFile(snapshot) as original:
        members = {name: original.read(name) for name in original.namelist()}
    index = json.loads(members["snapshot.json"])
    feed_name = index["feeds"][0]["feed"]
    with zipfile.ZipFile(snapshot, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as hostile:
        for name, data in members.items():
            if name == feed_name:
                zeros_member(hostile, name, 2 << 30)
            else:
                hostile.writestr(name, data)
    result = peak(
        "rebuild", str(folder), "--config", str(config), "--out", str(tmp_path / "again"), cwd=tmp_path
    )
    within_limit(result, 2, "inputs.zip")
