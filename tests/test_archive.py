"""`digest archive` and `digest history`: three weekly issues, then the archive a reader browses."""

from __future__ import annotations

import json
import re
from pathlib import Path

import feedparser
import html5lib
import lxml.html
import pytest

from digest.feeds.load import read_feed

from .conftest import SAMPLE, Cli

DATES = ("2025-11-14", "2025-11-19", "2025-11-24")


@pytest.fixture
def three_issues(cli: Cli) -> Path:
    folder = cli.cwd / "news"
    folder.mkdir()
    for name in ("news.rss", "analytics.csv", "picks.toml"):
        (folder / name).write_bytes((SAMPLE / name).read_bytes())
    config = (SAMPLE / "digest.toml").read_text()
    config = config.replace("[selection]\n", '[selection]\nwindow = "days"\n')
    config = config.replace('view_online_url = "https://www.commonground.example/newsletter/{slug}/"\n', "")
    config += '[archive]\nbase_url = "https://www.commonground.example/newsletter/"\n'
    (folder / "digest.toml").write_text(config)
    for date in DATES:
        result = cli("build", "--config", str(folder / "digest.toml"), "--date", date)
        assert result.exit_code == 0, result.output
    return folder / "digest.toml"


def test_history_lists_the_issues_newest_first(cli: Cli, three_issues: Path) -> None:
    result = cli("history", "--config", str(three_issues))
    assert result.exit_code == 0, result.output
    dates = re.findall(r"2025-11-\d\d", result.stdout)
    assert dates == list(reversed(DATES))
    assert result.stdout.count("not sent") == 3
    assert result.stdout.strip().endswith("3 issues")


def test_the_archive_index_feeds_and_pages(cli: Cli, three_issues: Path) -> None:
    result = cli("archive", "--config", str(three_issues), "--out", "public")
    assert result.exit_code == 0, result.output
    site = Path(result.stdout.splitlines()[-1])
    assert site == cli.cwd / "public"

    # The index: valid HTML5 (html5lib's strict parser raises on any parse error), newest first.
    index = (site / "index.html").read_text()
    html5lib.HTMLParser(strict=True).parse(index)
    links = lxml.html.fromstring(index).xpath("//li/a/@href")
    assert links == [f"{d}/" for d in reversed(DATES)]
    for link in [*links, "feed.atom", "feed.json"]:
        target = site / link
        assert (target / "index.html").is_file() if link.endswith("/") else target.is_file(), link

    # Each page is the issue's own HTML, whose "view in browser" link points at that page.
    page = (site / "2025-11-19" / "index.html").read_text()
    assert page == (three_issues.parent / "issues" / "2025-11-19" / "index.html").read_text()
    assert 'href="https://www.commonground.example/newsletter/2025-11-19/"' in page

    # Atom (RFC 4287): what it requires of a feed and of each entry, read by feedparser.
    atom = feedparser.parse((site / "feed.atom").read_bytes())
    assert atom.version == "atom10" and not atom.bozo
    assert atom.feed.title == "CommonGround Weekly" and atom.feed.id and atom.feed.updated
    assert [e.link for e in atom.entries] == [
        f"https://www.commonground.example/newsletter/{d}/" for d in reversed(DATES)
    ]
    for entry in atom.entries:
        assert entry.id and entry.title and entry.updated
        assert "Read more" in entry.content[0].value  # the whole issue, not a summary

    # JSON Feed 1.1, read back by our own reader.
    document = json.loads((site / "feed.json").read_text())
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert document["feed_url"] == "https://www.commonground.example/newsletter/feed.json"
    ours = read_feed(str(site / "feed.json"))
    assert [i.url for i in ours.items] == [
        f"https://www.commonground.example/newsletter/{d}/" for d in reversed(DATES)
    ]
    assert all(i.published is not None for i in ours.items)


def test_an_archive_with_no_issues_is_still_a_site(cli: Cli) -> None:
    result = cli("archive", "--out", "empty")
    assert result.exit_code == 0, result.output
    assert feedparser.parse((cli.cwd / "empty" / "feed.atom").read_bytes()).version == "atom10"


@pytest.mark.parametrize("where", ["--out", "archive.dir"])
def test_an_archive_over_a_folder_digest_did_not_make_is_refused_and_nothing_is_deleted(
    cli: Cli, three_issues: Path, where: str
) -> None:
    folder = three_issues.parent
    before = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))
    if where == "--out":
        result = cli("archive", "--config", str(three_issues), "--out", str(folder))
    else:
        three_issues.write_text(three_issues.read_text().replace("[archive]\n", '[archive]\ndir = "."\n'))
        result = cli("archive", "--config", str(three_issues))
    assert result.exit_code == 2, result.output
    assert "refusing to replace it" in result.stderr and "digest.toml" in result.stderr
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) == before


def test_an_archive_is_written_again_over_its_own_folder(cli: Cli, three_issues: Path) -> None:
    out = three_issues.parent / "public"
    for _ in range(2):
        result = cli("archive", "--config", str(three_issues), "--out", str(out))
        assert result.exit_code == 0, result.output
    (out / "notes.txt").write_text("mine")  # what the editor puts in digest's folder goes with it
    assert cli("archive", "--config", str(three_issues), "--out", str(out)).exit_code == 0
    assert not (out / "notes.txt").exists()
