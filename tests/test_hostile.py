"""Hostile and broken input: each ends in a digest or in one line naming the file, within bounds.

Each case runs `digest build` in a fresh process whose address space is capped
(RLIMIT_AS) and whose run time is limited, so "memory and time stay bounded" is
what the operating system enforces, not what we hope.
"""

from __future__ import annotations

import gzip
import json
import resource
import subprocess
import zipfile
from pathlib import Path

import pytest

from .conftest import HttpServer, Route, run_digest

pytestmark = pytest.mark.slow  # each case in a fresh, memory-capped interpreter

MEMORY_LIMIT = 1024 * 1024 * 1024  # 1 GiB of address space for the whole process
TIME_LIMIT = 60

ITEM = """<item><title>{title}</title><link>https://h.example/{n}</link>
<pubDate>Thu, 20 Nov 2025 10:00:00 +0000</pubDate><description>{body}</description></item>"""


def rss(*items: str, prolog: str = '<?xml version="1.0" encoding="utf-8"?>') -> str:
    return f'{prolog}\n<rss version="2.0"><channel><title>Hostile</title><link>https://h.example/</link>{"".join(items)}</channel></rss>'


def build(tmp_path: Path, feed: str, *extra: str) -> subprocess.CompletedProcess[str]:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    return run_digest(
        "build",
        "--feed",
        feed,
        "--date",
        "2025-11-24",
        "--out",
        "out",
        *extra,
        cwd=tmp_path,
        timeout=TIME_LIMIT,
        preexec_fn=limit,
    )


def refused(result: subprocess.CompletedProcess[str], name: str) -> str:
    assert result.returncode == 4, result.stderr
    assert "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith("digest: error:")]
    assert name in line
    return line


def built(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    folder = Path(result.stdout.splitlines()[-1])
    return (folder / "index.html").read_text() + (folder / "digest.txt").read_text()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (b"   \n\t ", "empty"),
        (bytes(range(256)) * 400, "not a feed"),
        (gzip.compress(b"\x00garbage" * 1000), "not a feed"),
        (b"<html><head><title>x</title></head><body>Hi</body></html>", "an HTML page, not a feed"),
    ],
    ids=["empty", "blank", "binary", "gzipped-garbage", "html"],
)
def test_junk_is_refused_in_one_line(tmp_path: Path, content: bytes, reason: str) -> None:
    (tmp_path / "feed.xml").write_bytes(content)
    assert reason in refused(build(tmp_path, "feed.xml"), "feed.xml")


def test_an_html_page_that_names_its_feed_says_which(tmp_path: Path) -> None:
    page = (
        b"<!doctype html><html><head>"
        b'<link rel="alternate" type="application/rss+xml" href="/rss.xml"></head></html>'
    )
    (tmp_path / "page.html").write_bytes(page)
    line = refused(build(tmp_path, "page.html"), "page.html")
    assert line.endswith("an HTML page, not a feed (it names its feed: /rss.xml)")


def test_billion_laughs_is_not_expanded(tmp_path: Path) -> None:
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    )
    prolog = f'<?xml version="1.0"?>\n<!DOCTYPE rss [{entities}]>'
    (tmp_path / "bomb.xml").write_text(rss(ITEM.format(title="&lol9;", n=1, body="x"), prolog=prolog))
    result = build(tmp_path, "bomb.xml")
    assert result.returncode in (0, 4), result.stderr
    if result.returncode == 0:
        assert "lollollol" * 1000 not in built(result)
    else:
        refused(result, "bomb.xml")


def test_external_entities_never_bring_a_local_file_into_the_issue(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    prolog = f'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://{secret}">]>'
    (tmp_path / "xxe.xml").write_text(rss(ITEM.format(title="Leak &xxe;", n=1, body="&xxe;"), prolog=prolog))
    result = build(tmp_path, "xxe.xml")
    assert "TOP-SECRET-CONTENT" not in result.stdout + result.stderr
    if result.returncode == 0:
        folder = Path(result.stdout.splitlines()[-1])
        for path in folder.iterdir():
            assert b"TOP-SECRET-CONTENT" not in path.read_bytes()
        with zipfile.ZipFile(folder / "inputs.zip") as snapshot:  # the feed kept as it was read
            assert all(b"TOP-SECRET-CONTENT" not in snapshot.read(name) for name in snapshot.namelist())
    else:
        refused(result, "xxe.xml")


def test_a_50_mb_feed_is_refused_by_the_size_cap(tmp_path: Path) -> None:
    body = ITEM.format(title="Big", n=1, body="x" * 1000)
    with (tmp_path / "big.xml").open("w") as handle:
        handle.write(rss(*[body] * 50_000))
    assert (tmp_path / "big.xml").stat().st_size > 50_000_000
    line = refused(build(tmp_path, "big.xml"), "big.xml")
    assert "size cap of 10,485,760 bytes (sources.max_bytes)" in line


def test_a_50_mb_feed_over_http_is_refused_by_the_size_cap(tmp_path: Path, http_server: HttpServer) -> None:
    http_server.routes["/big"] = Route(body=b"<rss>" + b" " * 50_000_000)
    line = refused(build(tmp_path, http_server.url("/big")), "/big")
    assert "size cap" in line


@pytest.mark.parametrize(
    ("encoding", "declared"),
    [
        ("windows-1252", "windows-1252"),
        ("iso-8859-1", None),  # bytes that are not UTF-8, with no declaration
        ("iso-8859-1", "utf-8"),  # a wrong declaration
        ("utf-16", "utf-16"),
    ],
)
def test_wrong_or_missing_encodings_still_make_a_digest(
    tmp_path: Path, encoding: str, declared: str | None
) -> None:
    prolog = f'<?xml version="1.0" encoding="{declared}"?>' if declared else '<?xml version="1.0"?>'
    text = rss(ITEM.format(title="Café déjà vu", n=1, body="Crème brûlée"), prolog=prolog)
    (tmp_path / "enc.xml").write_bytes(text.encode(encoding))
    result = build(tmp_path, "enc.xml")
    content = built(result)
    if declared != "utf-8":  # with a lying declaration the accents may be lost, but nothing breaks
        assert "Café déjà vu" in content


def test_a_failing_url_beside_a_good_feed_is_reported_and_the_issue_built(
    tmp_path: Path, http_server: HttpServer
) -> None:
    (tmp_path / "good.xml").write_text(rss(ITEM.format(title="Good story", n=1, body="ok")))
    http_server.routes["/down"] = Route(503, b"down")
    result = build(tmp_path, "good.xml", "--feed", http_server.url("/down"))
    assert "Good story" in built(result)
    assert f"digest: warning: {http_server.url('/down')}: HTTP 503 Service Unavailable" in result.stderr
    manifest = json.loads((Path(result.stdout.splitlines()[-1]) / "manifest.json").read_text())
    assert [(s["status"], s.get("error")) for s in manifest["sources"]] == [
        ("ok", None),
        ("failed", "HTTP 503 Service Unavailable"),
    ]


def test_strict_sources_make_any_failure_fatal(tmp_path: Path, http_server: HttpServer) -> None:
    (tmp_path / "good.xml").write_text(rss(ITEM.format(title="Good story", n=1, body="ok")))
    (tmp_path / "digest.toml").write_text("[sources]\nstrict = true\n")
    result = build(tmp_path, "good.xml", "--feed", http_server.url("/missing"))
    line = refused(result, "/missing")
    assert "HTTP 404 Not Found (sources.strict" in line
    assert not (tmp_path / "out").exists()
