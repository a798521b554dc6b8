"""The feedback mailbox, a real Maildir of real bounce mail: suppressions made, mail filed, twice the same."""

from __future__ import annotations

import json
import mailbox
from pathlib import Path

import pytest

from .conftest import CORPUS, Cli
from .smtp import SmtpServer
from .test_send import environment, newsletter

BOUNCES = CORPUS / "bounces"
pytestmark = pytest.mark.skipif(not BOUNCES.is_dir(), reason=f"the bounce corpus is absent ({BOUNCES})")

HARD = "bsd/lhost-amavis-01.eml"  # neko@example.co.jp, permanent
SOFT = "bsd/lhost-amazonses-17.eml"  # kijitora@example.com, 4.4.7
COMPLAINT = "bsd/arf-01.eml"  # redacted@example.net
AUTO_REPLY = "bsd/rfc3834-01.eml"
ORDINARY = "not-a-bounce/is-not-bounce-01.eml"


def maildir(folder: Path, *names: str, extra: dict[str, bytes] | None = None) -> Path:
    box = mailbox.Maildir(folder, create=True)
    for name in names:
        box.add((BOUNCES / name).read_bytes())
    for data in (extra or {}).values():
        box.add(data)
    return folder


def with_feedback(config: Path, box: Path, limit: int = 3) -> str:
    text = config.read_text() + f'[feedback]\nmailbox = "{box}"\nsoft_bounce_limit = {limit}\n'
    config.write_text(text)
    return str(config)


def suppressed(cli: Cli, config: str) -> dict[str, tuple[str, str]]:
    rows = json.loads(cli("subscribers", "suppressed", "--format", "json", "--config", config).stdout)
    return {r["email"]: (r["reason"], r["source"]) for r in rows}


def test_bounces_and_complaints_suppress_and_the_rest_is_left_unread(cli: Cli, smtp: SmtpServer) -> None:
    box = maildir(cli.cwd / "Maildir", HARD, SOFT, COMPLAINT, AUTO_REPLY, ORDINARY)
    config = with_feedback(newsletter(cli.cwd / "news", smtp), box)
    result = cli("feedback", "--config", config)
    assert result.exit_code == 0, result.output
    assert (
        "feedback: 1 hard bounces, 1 soft bounces, 1 complaints; 2 suppressed; 2 other messages left"
        in result.stdout
    )
    assert suppressed(cli, config) == {
        "neko@example.co.jp": ("hard_bounce", "mailbox"),
        "redacted@example.net": ("complaint", "mailbox"),
    }  # one soft bounce is not enough
    left = mailbox.Maildir(box, create=False)
    assert sorted(m["Subject"] or "" for m in left) == sorted(
        mailbox.MaildirMessage((BOUNCES / n).read_bytes())["Subject"] or "" for n in (AUTO_REPLY, ORDINARY)
    )
    assert all(m.get_subdir() == "new" for m in left)  # still unread
    assert len(left.get_folder("Processed")) == 3
    again = cli("feedback", "--config", config)
    assert "feedback: 0 hard bounces, 0 soft bounces, 0 complaints; 0 suppressed" in again.stdout
    assert len(suppressed(cli, config)) == 2


def test_soft_bounces_on_enough_different_issues_suppress(cli: Cli, smtp: SmtpServer) -> None:
    raw = (BOUNCES / SOFT).read_bytes()
    # The bounce quotes the copy's Message-ID, which says the issue; two bounces of issue 1 count once.
    copies = {
        f"{n}-{issue}": raw + f"\nMessage-ID: <digest.{issue}.2025-11-24.abc@x.example>\n".encode()
        for n, issue in enumerate((1, 1, 2))
    }
    box = maildir(cli.cwd / "Maildir", extra=copies)
    config = with_feedback(newsletter(cli.cwd / "news", smtp), box, limit=2)
    assert cli("feedback", "--config", config).exit_code == 0
    assert suppressed(cli, config) == {"kijitora@example.com": ("soft_bounces", "mailbox")}


def test_send_reads_the_mailbox_first_and_mails_nobody_it_suppressed(cli: Cli, smtp: SmtpServer) -> None:
    hard = (BOUNCES / HARD).read_bytes().replace(b"neko@example.co.jp", b"levan@example.net")
    box = maildir(cli.cwd / "Maildir", extra={"hard": hard})
    config = with_feedback(newsletter(cli.cwd / "news", smtp), box)
    cli("build", "--config", config)
    result = cli("send", "--config", config, env=environment())
    assert result.exit_code == 0, result.output
    assert "feedback: 1 hard bounces" in result.stdout
    assert "levan@example.net" not in smtp.recorder.copies and len(smtp.recorder.copies) == 3


def test_a_folder_that_is_not_a_maildir_is_one_line_exit_2(cli: Cli, smtp: SmtpServer) -> None:
    (cli.cwd / "plain").mkdir()
    config = with_feedback(newsletter(cli.cwd / "news", smtp), cli.cwd / "plain")
    result = cli("feedback", "--config", config)
    assert result.exit_code == 2 and "not a Maildir" in result.stderr


def test_a_mailbox_of_1000_bounces_is_read_whole(cli: Cli, smtp: SmtpServer) -> None:
    names = [p.relative_to(BOUNCES).as_posix() for p in sorted(BOUNCES.glob("bsd/lhost-*.eml"))]
    box = maildir(cli.cwd / "Maildir", *(names * 4)[:1000])
    config = with_feedback(newsletter(cli.cwd / "news", smtp), box)
    result = cli("feedback", "--config", config)
    assert result.exit_code == 0, result.output
    opened = mailbox.Maildir(box, create=False)
    assert len(opened) + len(opened.get_folder("Processed")) == 1000  # each one filed or left, none lost
