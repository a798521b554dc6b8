"""Week after week: issues built from a growing feed, with the state database on disk between them."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from digest.state import DB_NAME

from .conftest import Cli

START = dt.datetime(2025, 11, 3, 9, tzinfo=dt.UTC)


def story(n: int, when: dt.datetime, *categories: str) -> str:
    tags = "".join(f"<category>{c}</category>" for c in categories)
    return (
        f"<item><title>Story {n}</title><link>https://w.example/{n}</link><guid>w-{n}</guid>"
        f"<pubDate>{format_datetime(when)}</pubDate>{tags}<description>Body {n}.</description></item>"
    )


def write_feed(folder: Path, count: int) -> None:
    """`count` stories, one every twelve hours from START, every fifth an editor's choice."""
    items = [
        story(n, START + dt.timedelta(hours=12 * n), *(("Editor's choice",) if n % 5 == 0 else ()))
        for n in range(count)
    ]
    (folder / "feed.xml").write_text(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>W</title><link>https://w.example/</link>'
        f"{''.join(items)}</channel></rss>"
    )


def newsletter(folder: Path, extra: str = "") -> Path:
    (folder / "digest.toml").write_text(
        '[newsletter]\nname = "Weekly"\n[sources]\nfeeds = ["feed.xml"]\n[output]\ndir = "issues"\n'
        f'[state]\ndir = "state"\n[selection]\neditors_choice_size = 2\npopular_size = 3\n{extra}'
    )
    return folder / "digest.toml"


def manifest(result_stdout: str) -> Any:
    return json.loads((Path(result_stdout.splitlines()[-1]) / "manifest.json").read_text())


def shown(data: Any) -> set[str]:
    return {pick["title"] for picks in data["sections"].values() for pick in picks}


def test_the_second_weekly_issue_holds_only_new_stories(cli: Cli, tmp_path: Path) -> None:
    config = newsletter(cli.cwd)
    write_feed(cli.cwd, 14)  # one week of stories: 3 to 9 November
    first = cli("build", "--config", str(config), "--date", "2025-11-10")
    assert first.exit_code == 0, first.stderr
    write_feed(cli.cwd, 28)  # the feed grows by a week
    second = cli("build", "--config", str(config), "--date", "2025-11-17")
    assert second.exit_code == 0, second.stderr

    one, two = manifest(first.stdout), manifest(second.stdout)
    assert (one["issue"]["number"], two["issue"]["number"]) == (1, 2)
    assert not shown(one) & shown(two)
    new_this_week = {f"Story {n}" for n in range(14, 28)}
    assert shown(two) <= new_this_week
    # The second window starts where the first ended.
    assert two["window"] == {"start": "2025-11-10T00:00:00+00:00", "end": "2025-11-17T00:00:00+00:00"}
    db = sqlite3.connect(cli.cwd / "state" / DB_NAME)
    assert db.execute("SELECT number, date FROM issues ORDER BY number").fetchall() == [
        (1, "2025-11-10"),
        (2, "2025-11-17"),
    ]


def test_a_rebuild_of_the_same_date_replaces_the_issue(cli: Cli) -> None:
    config = newsletter(cli.cwd)
    write_feed(cli.cwd, 14)
    for _ in range(2):
        result = cli("build", "--config", str(config), "--date", "2025-11-10")
        assert result.exit_code == 0, result.stderr
    assert manifest(result.stdout)["issue"]["number"] == 1
    db = sqlite3.connect(cli.cwd / "state" / DB_NAME)
    assert db.execute("SELECT count(*) FROM issues").fetchone() == (1,)


def test_nothing_new_since_the_last_issue_exits_3_and_writes_nothing(cli: Cli) -> None:
    config = newsletter(cli.cwd)
    write_feed(cli.cwd, 14)
    assert cli("build", "--config", str(config), "--date", "2025-11-10").exit_code == 0
    result = cli("build", "--config", str(config), "--date", "2025-11-17")  # the feed did not grow
    assert result.exit_code == 3
    assert "no new stories published between 2025-11-10 00:00 and 2025-11-17 00:00 UTC" in result.stderr
    assert not (cli.cwd / "issues" / "2025-11-17").exists()


def test_fewer_new_stories_than_the_minimum_exits_3(cli: Cli) -> None:
    config = newsletter(cli.cwd, "min_items = 20\n")
    write_feed(cli.cwd, 14)
    result = cli("build", "--config", str(config), "--date", "2025-11-10")
    assert result.exit_code == 3
    assert "only 14 new stories" in result.stderr and "selection.min_items (20)" in result.stderr


def test_lead_and_pick_flags_pin_stories(cli: Cli) -> None:
    config = newsletter(cli.cwd)
    write_feed(cli.cwd, 14)
    result = cli(
        "build",
        "--config",
        str(config),
        "--date",
        "2025-11-10",
        "--lead",
        "https://w.example/2",
        "--pick",
        "w-3",
        "--pick",
        "https://w.example/4",
    )
    assert result.exit_code == 0, result.stderr
    sections = manifest(result.stdout)["sections"]
    assert [p["title"] for p in sections["lead"]] == ["Story 2"]
    assert [p["title"] for p in sections["editors_choice"]][:2] == ["Story 3", "Story 4"]


def test_explain_prints_every_story_and_why(cli: Cli) -> None:
    config = newsletter(cli.cwd, 'exclude_keywords = ["Body 7"]\n')
    write_feed(cli.cwd, 16)
    result = cli("build", "--config", str(config), "--date", "2025-11-10", "--explain")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1].endswith("2025-11-10")
    table = "\n".join(lines[:-1])
    for word in ("outcome", "picked", "lead", "editors_choice", "popular", "excluded", "out_of_window"):
        assert word in table
    assert "keyword 'Body 7' is in exclude_keywords" in table
    # One row per story: 16 stories.
    assert sum(1 for line in lines if "Story " in line) == 16
