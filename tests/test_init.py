"""`digest init`: a new newsletter folder in which `digest build` works at once."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from digest.config import load_config
from digest.feeds.load import read_feed
from digest.init import moved_feed
from digest.resources import starter_dir
from digest.send.dkim import load_keys

from .conftest import SAMPLE, Cli


def test_init_then_build_makes_an_issue_that_passes_check(cli: Cli) -> None:
    created = cli("init", "weekly")
    assert created.exit_code == 0, created.stderr
    folder = cli.cwd / "weekly"
    assert {p.name for p in folder.iterdir()} == {
        "digest.toml",
        "picks.toml",
        "templates",
        "example-feed.xml",
        "analytics.csv",
    }
    built = cli("build", "--config", str(folder / "digest.toml"))
    assert built.exit_code == 0, built.stderr
    issue = Path(built.stdout.splitlines()[-1])
    assert issue.parent == folder / "issues"
    assert (issue / "index.html").stat().st_mode & 0o777 == 0o644
    assert (folder / "digest.toml").stat().st_mode & 0o777 == 0o644
    assert cli("check", str(issue)).exit_code == 0


def test_init_never_overwrites(cli: Cli) -> None:
    (cli.cwd / "picks.toml").write_text("mine")
    result = cli("init")
    assert result.exit_code == 2
    assert "picks.toml: already exists; nothing was changed" in result.stderr
    assert (cli.cwd / "picks.toml").read_text() == "mine"
    assert not (cli.cwd / "digest.toml").exists()


def test_the_starter_config_sets_only_real_keys() -> None:
    config = load_config(starter_dir() / "digest.toml")  # an unknown key would raise
    assert config.sources.feeds == ["example-feed.xml"]
    assert config.output.templates == "templates"


def test_the_stand_in_feed_is_moved_to_the_days_before_now(tmp_path: Path) -> None:
    now = dt.datetime(2030, 5, 6, 12, tzinfo=dt.UTC)
    (tmp_path / "moved.xml").write_text(moved_feed((SAMPLE / "news.rss").read_text(), now))

    def dates(path: Path) -> list[dt.datetime]:
        return [i.published for i in read_feed(str(path)).items if i.published]

    moved, original = dates(tmp_path / "moved.xml"), dates(SAMPLE / "news.rss")
    assert max(moved) == now - dt.timedelta(hours=6)
    assert max(moved) - min(moved) == max(original) - min(original)  # the same two weeks, later


def test_the_starter_config_names_every_key_in_its_section() -> None:
    """The README promises it: every key of every section, set or commented out."""
    from digest.config import Config
    from digest.config.problems import _fields, _sections

    text = (starter_dir() / "digest.toml").read_text()
    named: dict[str, set[str]] = {}
    section = ""
    for line in text.splitlines():
        header = re.match(r"^#?\s*\[([\w.]+)\]", line)
        if header:
            section = header.group(1)
            continue
        key = re.match(r'^#?\s*("[^"]+"|[a-z][a-z0-9_]*)\s*=', line)
        if key:
            named.setdefault(section, set()).add(key.group(1))

    def missing(schema: type, prefix: str) -> list[str]:
        found = []
        for name in _fields(schema):
            sub = _sections(schema).get(name)
            if sub is not None:
                found += missing(sub, f"{prefix}{name}.")
            elif name not in named.get(prefix.rstrip("."), set()) and name != "labels":
                found.append(prefix + name)
        return found

    assert missing(Config, "") == []
    assert "labels" in named  # its keys are the templates' messages: one shown as an example


def test_init_dkim_makes_a_private_key_and_prints_the_records_that_publish_it(cli: Cli) -> None:
    made = cli("init", "weekly", "--dkim")
    assert made.exit_code == 0, made.output
    key_file = cli.cwd / "weekly" / "dkim.pem"
    assert key_file.stat().st_mode & 0o777 == 0o600  # a secret: never readable by others
    config = load_config(cli.cwd / "weekly" / "digest.toml")
    [key] = load_keys(config, {})  # the new config signs with it
    selector = config.dkim.selector
    assert selector is not None and re.fullmatch(r"digest\d{6}", selector)
    lines = made.stdout.splitlines()
    dkim_line = next(line for line in lines if line.startswith(f"{selector}._domainkey.example.org. "))
    published = "".join(re.findall(r'"([^"]*)"', dkim_line))
    assert published == key.record() and all(len(s) <= 255 for s in re.findall(r'"([^"]*)"', dkim_line))
    assert 'example.org. 3600 IN TXT "v=spf1 mx ~all"' in lines
    assert '_dmarc.example.org. 3600 IN TXT "v=DMARC1; p=none; rua=mailto:dmarc-reports@example.org"' in lines
    # Again: the key is kept (it may be published), the same record printed.
    before = key_file.read_bytes()
    again = cli("init", "weekly", "--dkim")
    assert again.exit_code == 0 and key_file.read_bytes() == before
    assert "kept" in again.stdout and dkim_line in again.stdout.splitlines()


def test_init_dkim_in_a_newsletter_without_dkim_says_what_to_add(cli: Cli) -> None:
    assert cli("init", "weekly").exit_code == 0
    made = cli("init", "weekly", "--dkim")
    assert made.exit_code == 0, made.output
    assert "  [dkim]" in made.stdout and '  key_file = "dkim.pem"' in made.stdout
    assert (cli.cwd / "weekly" / "dkim.pem").is_file()
