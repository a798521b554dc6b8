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
