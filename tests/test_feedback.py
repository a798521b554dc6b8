"""The feedback mailbox, a real Maildir of real bounce mail: suppressions made, mail filed, twice the same.

The mail is what comes back from a real send (aiosmtpd): corpus bounces and a complaint rewritten
to name the sample's subscribers and quote their copies' Message-IDs, an unsubscribe request
sent to the mailto address of a copy's List-Unsubscribe, and one forged.
"""

from __future__ import annotations

import datetime as dt
import email
import json
import mailbox
import re
from email import policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from digest.feedback.process import Rules, read_message
from digest.feedback.tokens import Tokens
from digest.send.personalize import token

from .conftest import CORPUS, Cli
from .smtp import SmtpServer
from .test_send import SECRET, environment, newsletter

BOUNCES = CORPUS / "bounces"
pytestmark = pytest.mark.skipif(not BOUNCES.is_dir(), reason=f"the bounce corpus is absent ({BOUNCES})")

HARD = "bsd/lhost-amavis-01.eml"  # neko@example.co.jp, permanent
SOFT = "bsd/lhost-amazonses-17.eml"  # kijitora@example.com, 4.4.7
COMPLAINT = "bsd/arf-01.eml"  # redacted@example.net
AUTO_REPLY = "bsd/rfc3834-01.eml"
ORDINARY = "not-a-bounce/is-not-bounce-01.eml"
NAMES_NOBODY = "bsd/lhost-sendmail-25.eml"  # a 5.1.1 DSN whose recipient no parser can read


def corpus(name: str) -> bytes:
    return (BOUNCES / name).read_bytes()


def maildir(folder: Path, *names: str, extra: dict[str, bytes] | None = None) -> Path:
    box = mailbox.Maildir(folder, create=True)
    for name in names:
        box.add(corpus(name))
    for data in (extra or {}).values():
        box.add(data)
    return folder


def with_feedback(config: Path, box: Path | str, limit: int = 3, extra: str = "") -> str:
    text = config.read_text() + f'[feedback]\nmailbox = "{box}"\nsoft_bounce_limit = {limit}\n{extra}'
    config.write_text(text)
    return str(config)


def suppressed(cli: Cli, config: str) -> dict[str, tuple[str, str]]:
    rows = json.loads(cli("subscribers", "suppressed", "--format", "json", "--config", config).stdout)
    return {r["email"]: (r["reason"], r["source"]) for r in rows}


def sent_copies(smtp: SmtpServer) -> dict[str, EmailMessage]:
    """The copies the server took, by recipient."""
    return {
        rcpts[0].lower(): email.message_from_bytes(data, policy=policy.default)
        for rcpts, data in smtp.recorder.messages
    }


def quoting(raw: bytes, copy: EmailMessage) -> bytes:
    """A bounce or complaint that quotes `copy`'s Message-ID, as real ones quote the headers."""
    return raw + f"\nMessage-ID: {copy['Message-ID']}\n".encode()


def request(sender: str, mailto: str) -> bytes:
    """What a mail client sends for a List-Unsubscribe mailto URL."""
    parts = urlsplit(mailto)
    message = EmailMessage()
    message["From"], message["To"] = sender, unquote(parts.path)
    message["Subject"] = parse_qs(parts.query).get("subject", ["unsubscribe"])[0]
    message.set_content("This message will unsubscribe you.")
    return message.as_bytes()


def mailto_of(copy: EmailMessage) -> str:
    found = re.search(r"<(mailto:[^>]+)>", str(copy["List-Unsubscribe"]))
    assert found, copy["List-Unsubscribe"]
    return found.group(1)


def feedback_mail(copies: dict[str, EmailMessage]) -> dict[str, bytes]:
    """What comes back after the sample issue went out: one message of each kind."""
    # Ana's request, with a token that is not hers (nor anyone's).
    ana = mailto_of(copies["ana.ionescu@example.org"])
    forged = ana.replace(token(SECRET, "ana.ionescu@example.org"), "0" * 32)
    assert forged != ana
    return {
        "hard": quoting(
            corpus(HARD).replace(b"neko@example.co.jp", b"levan@example.net"), copies["levan@example.net"]
        ),
        "soft": quoting(
            corpus(SOFT).replace(b"kijitora@example.com", b"m.sargsyan@example.com"),
            copies["m.sargsyan@example.com"],
        ),
        "complaint": quoting(
            corpus(COMPLAINT).replace(b"redacted@example.net", b"editor@commonground.example"),
            copies["editor@commonground.example"],
        ),
        "unsubscribe": request(
            "Ana Ionescu <ana.ionescu@example.org>", mailto_of(copies["ana.ionescu@example.org"])
        ),
        "forged": request("m.sargsyan@example.com", forged),
        "auto-reply": corpus(AUTO_REPLY),
        "ordinary": corpus(ORDINARY),
    }


EXPECTED = {
    "levan@example.net": ("hard_bounce", "mailbox"),
    "editor@commonground.example": ("complaint", "mailbox"),
    "ana.ionescu@example.org": ("unsubscribed", "mailbox"),
}  # m.sargsyan: one soft bounce is not enough, and the request in her name is forged
SUMMARY = (
    "feedback: 2 bounces (1 soft), 1 complaint, 1 unsubscribe; 3 suppressed;"
    " 1 unsubscribe request not verified (left unread); 2 other messages left"
)
AGAIN = (
    "feedback: 0 bounces, 0 complaints, 0 unsubscribes; 0 suppressed;"
    " 1 unsubscribe request not verified (left unread); 2 other messages left"
)


def sent_issue(
    cli: Cli, smtp: SmtpServer, box: Path | str, extra: str = "", env: dict[str, str] | None = None
) -> str:
    """The sample built and sent to its four subscribers, feedback read from `box`."""
    if isinstance(box, Path):
        maildir(box)  # empty: nothing came back yet
    config = with_feedback(newsletter(cli.cwd / "news", smtp), box, extra=extra)
    assert cli("build", "--config", config).exit_code == 0
    result = cli("send", "--config", config, env=env or environment())
    assert result.exit_code == 0, result.output
    assert len(smtp.recorder.messages) == 4
    return config


def next_issue(cli: Cli, smtp: SmtpServer, config: str, env: dict[str, str] | None = None) -> set[str]:
    """A story more, the next week's issue built and sent: whom it went to."""
    feed = Path(config).parent / "news.rss"
    text = feed.read_text()
    item = text[text.index("<item>") : text.index("</item>") + len("</item>")]
    new = re.sub(r"<pubDate>.*</pubDate>", "<pubDate>Fri, 28 Nov 2025 09:00:00 +0000</pubDate>", item)
    feed.write_text(text.replace(item, new.replace("chisinau", "next-week") + item, 1))
    assert cli("build", "--config", config, "--date", "2025-12-01").exit_code == 0
    before = len(smtp.recorder.messages)
    result = cli("send", "--config", config, env=env or environment())
    assert result.exit_code == 0, result.output
    return {r.lower() for rcpts, _ in smtp.recorder.messages[before:] for r in rcpts}


def test_each_kind_of_feedback_suppresses_the_right_address_once(cli: Cli, smtp: SmtpServer) -> None:
    box = cli.cwd / "Maildir"
    config = sent_issue(cli, smtp, box)
    mail = feedback_mail(sent_copies(smtp))
    maildir(box, extra=mail)
    result = cli("feedback", "--config", config, env=environment())
    assert result.exit_code == 0, result.output
    assert SUMMARY in result.stdout
    assert suppressed(cli, config) == EXPECTED
    left = mailbox.Maildir(box, create=False)
    assert sorted(m.as_bytes() for m in left) == sorted(
        mailbox.MaildirMessage(mail[k]).as_bytes() for k in ("forged", "auto-reply", "ordinary")
    )
    assert all(m.get_subdir() == "new" for m in left)  # still unread
    assert len(left.get_folder("Processed")) == 4
    again = cli("feedback", "--config", config, env=environment())
    assert AGAIN in again.stdout
    assert suppressed(cli, config) == EXPECTED
    assert next_issue(cli, smtp, config) == {"m.sargsyan@example.com"}


def test_history_shows_each_issues_rates_and_warns_above_the_thresholds(cli: Cli, smtp: SmtpServer) -> None:
    box = cli.cwd / "Maildir"
    config = sent_issue(cli, smtp, box)
    maildir(box, extra=feedback_mail(sent_copies(smtp)))
    cli("feedback", "--config", config, env=environment())
    result = cli("history", "--config", config)
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if line.strip().startswith("1 "))
    assert "2 (50.0%)" in row and "1 (25.0%)" in row  # levan and m.sargsyan bounced; editor complained
    assert "warning: issue 1: bounce rate 50.0% is above 5.0%" in result.stderr
    assert "warning: issue 1: complaint rate 25.0% is above 0.1%" in result.stderr


def test_verp_traces_a_bounce_to_its_subscriber_whatever_it_names(cli: Cli, smtp: SmtpServer) -> None:
    box = cli.cwd / "Maildir"
    config = sent_issue(cli, smtp, box, extra='return_path = "bounces+{token}@commonground.example"\n')
    senders = dict(zip((r[0].lower() for r, _ in smtp.recorder.messages), smtp.recorder.senders, strict=True))
    assert len(set(senders.values())) == 4 and all(
        re.fullmatch(r"bounces\+[0-9a-f]{32}@commonground\.example", s) for s in senders.values()
    )
    # A bounce for a forwarding address, and one that names nobody, each sent back to a copy's
    # envelope sender (the receiving server writes Delivered-To).
    forwarded = corpus(HARD).replace(b"neko@example.co.jp", b"levan@forward.example")
    nobody = corpus(NAMES_NOBODY)
    to = {"forwarded": senders["levan@example.net"], "nobody": senders["editor@commonground.example"]}
    maildir(
        box,
        extra={
            k: f"Delivered-To: {to[k]}\n".encode() + m
            for k, m in (("forwarded", forwarded), ("nobody", nobody))
        },
    )
    result = cli("feedback", "--config", config, env=environment())
    assert result.exit_code == 0, result.output
    assert suppressed(cli, config) == {
        "levan@example.net": ("hard_bounce", "mailbox"),
        "editor@commonground.example": ("hard_bounce", "mailbox"),
    }  # not levan@forward.example


def test_a_bounce_naming_nobody_without_verp_is_left_for_a_person(cli: Cli, smtp: SmtpServer) -> None:
    box = maildir(cli.cwd / "Maildir", NAMES_NOBODY)
    config = with_feedback(newsletter(cli.cwd / "news", smtp), box)
    result = cli("feedback", "--config", config)
    assert "1 bounce naming nobody (left unread)" in result.stdout
    assert suppressed(cli, config) == {} and len(mailbox.Maildir(box, create=False)) == 1


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
    assert "feedback: 1 bounce, 0 complaints" in result.stdout
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


def test_mail_that_trips_a_bounce_detector_is_left_without_a_traceback(cli: Cli, smtp: SmtpServer) -> None:
    # Lines ending in CR CR LF: flufl.bounce's Yale detector raises on what the headers become.
    odd = corpus(ORDINARY).replace(b"\r\n", b"\r\r\n")
    box = maildir(cli.cwd / "Maildir", extra={"odd": odd})
    config = with_feedback(newsletter(cli.cwd / "news", smtp), box)
    result = cli("feedback", "--config", config)
    assert result.exit_code == 0 and result.stderr == "", result.output
    assert "1 other message left" in result.stdout


@pytest.mark.parametrize(
    ("mailto", "to", "subject", "expected"),
    [
        # the token in the address, a subject of the reader's own
        ("mailto:leave+{token}@x.example", "leave+TOKEN@x.example", "please", "ana@x.example"),
        # the token in the subject, the address with a +tag the mail server added
        (
            "mailto:leave@x.example?subject=unsubscribe%20{token}",
            "leave+news@x.example",
            "unsubscribe TOKEN",
            "ana@x.example",
        ),
        # a token, but sent to another address: a reader's letter, not a request
        ("mailto:leave@x.example?subject={token}", "editor@x.example", "TOKEN", None),
    ],
)
def test_a_request_is_recognised_by_where_it_was_sent_and_its_token(
    mailto: str, to: str, subject: str, expected: str | None
) -> None:
    mine = token(SECRET, "ana@x.example")
    message = EmailMessage()
    message["From"], message["To"] = "someone.else@elsewhere.example", to.replace("TOKEN", mine)
    message["Subject"] = subject.replace("TOKEN", mine)
    message.set_content("Sent from my phone")
    rules = Rules(
        now=dt.datetime(2025, 11, 25, tzinfo=dt.UTC),
        soft_limit=3,
        tokens=Tokens(SECRET, lambda: ["ana@x.example", "levan@x.example"]),
        unsubscribe_to=mailto,
    )
    reading = read_message(message.as_bytes(), rules)
    assert [e.email for e in reading.events] == ([expected] if expected else [])
    assert reading.left == (None if expected else "other")
