"""Variants: one issue, each reader's own (the topics and language they chose), from one snapshot.

A list with three topic sets and two languages, sent through a real SMTP server: every reader gets
exactly the variant their row chooses (its stories, its language, their own Message-ID), once,
under SIGKILL too; a variant with no new story is skipped for its readers, with the reason."""

from __future__ import annotations

import json
import re
import signal
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from digest.addresses import copy_key

from .conftest import Cli
from .smtp import SmtpServer
from .test_send import SECRET, digest, environment, newsletter, unconfirmed_in

SEGMENTS = """
[segments]
languages = ["fr"]
[segments.topics.analysis]
categories = ["Analysis"]
[segments.topics.opinion]
categories = ["Opinion", "Interview"]
[segments.topics.sport]
categories = ["Sport"]
"""
READERS = {  # address: (topics, language, the variant they get)
    "ana@example.org": ("analysis", "", "analysis"),
    "levan@example.net": ("opinion; analysis", "fr", "analysis+opinion.fr"),
    "mariam@example.com": ("analysis", "FR", "analysis.fr"),
    "zoe@example.org": ("opinion", "de", "opinion"),  # no German variant: the newsletter's language
    "editor@example.org": ("", "", ""),  # no topics: the whole issue
    "lena@example.org": ("analysis opinion", "", "analysis+opinion"),
    "kim@example.org": ("sport", "", "sport"),  # no story this time
}


def segmented(folder: Path, smtp: SmtpServer, readers: dict[str, tuple[str, str, str]] = READERS) -> Path:
    config = newsletter(folder, smtp, extra=SEGMENTS)
    rows = "".join(
        f"{address},Reader,{topics},{language}\n" for address, (topics, language, _) in readers.items()
    )
    (folder / "subscribers.csv").write_text("email,name,topics,language\n" + rows)
    return config


def stories(html: str) -> set[str]:
    return set(re.findall(r'href="(https://www\.commonground\.example/news/[^"?]+)', html))


def variant_stories(issue: Path, name: str) -> set[str]:
    folder = issue / "variants" / name if name else issue
    manifest = json.loads((folder / "manifest.json").read_text())
    return {pick["url"] for section in manifest["sections"].values() for pick in section}


def received(smtp: SmtpServer) -> dict[str, EmailMessage]:
    copies: dict[str, EmailMessage] = {}
    for rcpts, data in smtp.recorder.messages:
        message = message_from_bytes(data, policy=policy.default)
        assert isinstance(message, EmailMessage)
        [address] = rcpts
        assert address not in copies, f"{address} got two copies"
        copies[address] = message
    return copies


def test_each_reader_gets_exactly_their_variant_once(cli: Cli, smtp: SmtpServer) -> None:
    config = segmented(cli.cwd / "news", smtp)
    built = cli("build", "--config", str(config))
    assert built.exit_code == 0, built.output
    issue = Path(built.stdout.splitlines()[-1])
    manifest = json.loads((issue / "manifest.json").read_text())
    assert {v["name"]: v["skipped"] for v in manifest["variants"]} == {
        "analysis": None,
        "analysis+opinion": None,
        "analysis+opinion.fr": None,
        "analysis.fr": None,
        "opinion": None,
        "sport": "no new story in its topics (sport)",
    }
    sent = cli("send", "--config", str(config), env=environment())
    assert sent.exit_code == 0, sent.output
    assert "1 reader of variant sport skipped: no new story in its topics (sport)" in sent.stdout
    copies = received(smtp)
    assert set(copies) == set(READERS) - {"kim@example.org"}
    for address, message in copies.items():
        variant = READERS[address][2]
        html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
        assert stories(html) == variant_stories(issue, variant), address
        french = "Le choix de la rédaction" in html or "Les plus lus" in html
        assert french == variant.endswith(".fr"), address
        number = manifest["issue"]["number"]
        assert f".{copy_key(number, address, SECRET)}@" in str(message["Message-ID"]), address
    history = cli("history", "--config", str(config))
    by_variant = "all 1, analysis 1, analysis+opinion 1, analysis+opinion.fr 1, analysis.fr 1, opinion 1"
    assert f"#1 sent by variant: {by_variant}\n" in history.stdout
    # The analysis readers see analysis stories (and the pinned lead), nothing of opinion alone.
    assert variant_stories(issue, "analysis") < variant_stories(issue, "")
    assert variant_stories(issue, "analysis") != variant_stories(issue, "opinion")


def test_rebuild_makes_every_variant_again_byte_for_byte(cli: Cli, smtp: SmtpServer) -> None:
    config = segmented(cli.cwd / "news", smtp)
    built = cli("build", "--config", str(config))
    issue = Path(built.stdout.splitlines()[-1])
    before = {p.relative_to(issue): p.read_bytes() for p in issue.rglob("*") if p.is_file()}
    assert any(str(p).startswith("variants/analysis+opinion.fr/") for p in before)
    (cli.cwd / "news" / "subscribers.csv").write_text("email\nnobody@example.org\n")  # the snapshot decides
    again = cli("rebuild", str(issue), "--config", str(config))
    assert again.exit_code == 0, again.output
    after = {p.relative_to(issue): p.read_bytes() for p in issue.rglob("*") if p.is_file()}
    assert after == before


@pytest.mark.slow  # digest in processes of its own, one of them killed
def test_a_sigkill_mid_send_then_a_rerun_gives_each_reader_their_variant_once(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    readers = {
        f"r{n}@example.org": (["analysis", "opinion", ""][n % 3], ["", "fr"][n % 2], "") for n in range(18)
    }
    config = segmented(tmp_path / "news", smtp, readers)
    assert digest("build", "--config", str(config), cwd=tmp_path).wait(timeout=60) == 0
    first = digest("send", "--config", str(config), cwd=tmp_path)
    smtp.recorder.faults.kill = (first.pid, 7)
    first.wait(timeout=60)
    assert first.returncode == -signal.SIGKILL
    smtp.recorder.faults.kill = None
    rerun = digest("send", "--config", str(config), cwd=tmp_path)
    rerun.communicate(timeout=60)
    settled = digest("send", "--config", str(config), "--unconfirmed", "resend", cwd=tmp_path)
    assert settled.wait(timeout=60) == 0
    unconfirmed = unconfirmed_in(tmp_path / "news" / "state")
    assert unconfirmed == set()
    counts = smtp.recorder.copies
    assert set(counts) == set(readers) and max(counts.values()) <= 2
    # The one in flight when the sender died may have two copies (the editor chose to resend);
    # whatever the number, each copy is of the reader's own variant.
    issue = next((tmp_path / "news" / "issues").iterdir())
    for rcpts, data in smtp.recorder.messages:
        [address] = rcpts
        topics, language, _ = readers[address]
        name = f"{topics or 'all'}.fr" if language else topics
        html = message_from_bytes(data, policy=policy.default).get_body(("html",)).get_content()  # type: ignore[union-attr]
        assert stories(html) == variant_stories(issue, "" if name == "" else name), address
    assert sum(1 for n in counts.values() if n == 2) <= 1


def test_explain_variant_prints_why_each_story_is_in_that_variant_or_not(cli: Cli, smtp: SmtpServer) -> None:
    config = segmented(cli.cwd / "news", smtp)
    result = cli("build", "--config", str(config), "--explain", "--variant", "analysis.fr")
    assert result.exit_code == 0, result.output
    assert "in none of the variant's topics (analysis)" in result.stdout
    assert "digest: variant: sport skipped: no new story in its topics (sport)" in result.stderr
    unknown = cli("build", "--config", str(config), "--explain", "--variant", "economy")
    assert unknown.exit_code == 2
    assert "--variant: no variant 'economy' in this issue (it has analysis, analysis.fr, " in unknown.stderr


def month_of_news(folder: Path, week: int) -> None:
    """A feed of November 2025 up to week `week` (four stories a week), and that week's page views:
    the first week's stories read most, so the month's popular ones reach back to it."""
    items = []
    for n in range(4 * week):
        day = 2 + (n // 4) * 7 + n % 4
        items.append(
            f"<item><title>Story {n} of week {n // 4 + 1}</title>"
            f"<link>https://www.commonground.example/news/2025/11/story-{n}</link>"
            f"<guid>story-{n}</guid><pubDate>{day:02d} Nov 2025 09:00:00 +0000</pubDate>"
            f"<category>News</category><description>About {n}.</description></item>"
        )
    (folder / "news.rss").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>CommonGround</title>'
        f"<link>https://www.commonground.example/</link>{''.join(items)}</channel></rss>"
    )
    views = [
        f"https://www.commonground.example/news/2025/11/story-{n},{1000 if n < 4 else 10}"
        for n in range(4 * week)
    ]
    (folder / "analytics.csv").write_text(
        "url,pageviews\n" + "\n".join(views[-4:] if week > 1 else views) + "\n"
    )


def test_a_monthly_reader_gets_one_issue_at_month_end_with_the_month_s_stories(
    cli: Cli, smtp: SmtpServer
) -> None:
    folder = cli.cwd / "news"
    config = newsletter(folder, smtp, extra="[segments]\nmonthly = true\n")
    (folder / "picks.toml").write_text("")
    (folder / "subscribers.csv").write_text(
        "email,cadence\nweekly@example.org,\nmonthly@example.org,monthly\nweekly2@example.org,Weekly\n"
    )
    summaries = []
    for week, day in enumerate(("2025-11-07", "2025-11-14", "2025-11-21", "2025-11-28"), start=1):
        month_of_news(folder, week)
        if week == 4:  # an issue of the month whose snapshot is gone: said, and done without
            (folder / "issues" / "2025-11-21" / "inputs.zip").unlink()
        built = cli("build", "--config", str(config), "--date", day)
        assert built.exit_code == 0, built.output
        if week == 4:
            assert "the monthly variants go without an issue of the month: " in built.stderr
        sent = cli("send", "--config", str(config), day, env=environment())
        assert sent.exit_code == 0, sent.output
        summaries.append(sent.stdout)
    assert smtp.recorder.copies == {
        "weekly@example.org": 4,
        "weekly2@example.org": 4,
        "monthly@example.org": 1,
    }
    assert all(
        "1 reader of variant monthly skipped: a monthly reader gets the month's last issue" in s
        for s in summaries[:3]
    )
    [(_, data)] = [(r, d) for r, d in smtp.recorder.messages if r == ["monthly@example.org"]]
    html = message_from_bytes(data, policy=policy.default).get_body(("html",)).get_content()  # type: ignore[union-attr]
    weeks = {int(w) for w in re.findall(r"Story \d+ of week (\d)", html)}
    assert weeks >= {1, 4}, weeks  # the first week's most read stories, and the last week's news
    # Each story once in it, as its own manifest says; the weekly readers' last copy is the week's alone.
    manifest = json.loads(
        (folder / "issues" / "2025-11-28" / "variants" / "all.monthly" / "manifest.json").read_text()
    )
    urls = [pick["url"] for section in manifest["sections"].values() for pick in section]
    assert len(urls) == len(set(urls)) and stories(html) == set(urls)
    [(_, last)] = [(r, d) for r, d in smtp.recorder.messages if r == ["weekly@example.org"]][-1:]
    weekly_html = message_from_bytes(last, policy=policy.default).get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert {int(w) for w in re.findall(r"Story \d+ of week (\d)", weekly_html)} == {4}
    # The month's issue rebuilds from its snapshot alone, the month's earlier inputs kept in it.
    issue = folder / "issues" / "2025-11-28"
    before = {path: path.read_bytes() for path in issue.rglob("*") if path.is_file()}
    for earlier in ("2025-11-07", "2025-11-14"):
        (folder / "issues" / earlier / "inputs.zip").unlink()
    assert cli("rebuild", str(issue), "--config", str(config)).exit_code == 0
    assert {path: path.read_bytes() for path in issue.rglob("*") if path.is_file()} == before


def test_a_language_digest_has_no_words_in_is_a_config_error(cli: Cli, smtp: SmtpServer) -> None:
    config = newsletter(cli.cwd / "news", smtp, extra='[segments]\nlanguages = ["it"]\n')
    result = cli("build", "--config", str(config))
    assert result.exit_code == 2
    assert "segments.languages: digest has no words in 'it' (it has ar, de, en, es, fr, ru)" in result.stderr
