"""The feedback mailbox, a real Maildir of real bounce mail: suppressions made, mail filed, twice the same.

The mail is what comes back from a real send (aiosmtpd): corpus bounces and a complaint rewritten
to name the sample's subscribers and quote their copies' Message-IDs, an unsubscribe request
sent to the mailto address of a copy's List-Unsubscribe, and one forged.
"""

from __future__ import annotations

import datetime as dt
import email
import hashlib
import json
import mailbox
import re
from email import policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from digest.addresses import token
from digest.feedback.process import Rules, read_message
from digest.feedback.tokens import Copies, Tokens

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


RETURN_PATH = "bounces+{token}@commonground.example"


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
    config = sent_issue(cli, smtp, box, extra=f"return_path = {json.dumps(RETURN_PATH)}\n")
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
    assert "1 report about no copy we sent (left unread)" in result.stdout
    assert suppressed(cli, config) == {} and len(mailbox.Maildir(box, create=False)) == 1


def test_soft_bounces_on_enough_different_issues_suppress(cli: Cli, smtp: SmtpServer) -> None:
    box = cli.cwd / "Maildir"
    config = sent_issue(cli, smtp, box)
    Path(config).write_text(
        Path(config).read_text().replace("soft_bounce_limit = 3", "soft_bounce_limit = 2")
    )
    first = sent_copies(smtp)["m.sargsyan@example.com"]
    next_issue(cli, smtp, config)
    second = sent_copies(smtp)["m.sargsyan@example.com"]
    raw = (BOUNCES / SOFT).read_bytes()
    # Each bounce quotes its copy's Message-ID, which says the issue; two of issue 1 count once.
    maildir(box, extra={"a": quoting(raw, first), "b": quoting(raw, first)})
    assert cli("feedback", "--config", config, env=environment()).exit_code == 0
    assert suppressed(cli, config) == {}
    maildir(box, extra={"c": quoting(raw, second)})
    assert cli("feedback", "--config", config, env=environment()).exit_code == 0
    assert suppressed(cli, config) == {"m.sargsyan@example.com": ("soft_bounces", "mailbox")}


def test_send_reads_the_mailbox_first_and_mails_nobody_it_suppressed(cli: Cli, smtp: SmtpServer) -> None:
    box = cli.cwd / "Maildir"
    config = sent_issue(cli, smtp, box)
    hard = corpus(HARD).replace(b"neko@example.co.jp", b"levan@example.net")
    maildir(box, extra={"hard": quoting(hard, sent_copies(smtp)["levan@example.net"])})
    assert "levan@example.net" not in next_issue(cli, smtp, config)
    assert suppressed(cli, config) == {"levan@example.net": ("hard_bounce", "mailbox")}


def forge(raw: bytes, number: int, key: str) -> bytes:
    return raw + f"\nMessage-ID: <digest.{number}.2025-11-24.{key}@commonground.example>\n".encode()


def test_forged_feedback_suppresses_nobody(cli: Cli, smtp: SmtpServer) -> None:
    """A stranger who knows a subscriber's address writes reports about copies never sent."""
    box = cli.cwd / "Maildir"
    config = sent_issue(cli, smtp, box, extra=f"return_path = {json.dumps(RETURN_PATH)}\n")
    soft = corpus(SOFT).replace(b"kijitora@example.com", b"m.sargsyan@example.com")
    hard = corpus(HARD).replace(b"neko@example.co.jp", b"levan@example.net")
    complaint = corpus(COMPLAINT).replace(b"redacted@example.net", b"ana.ionescu@example.org")
    # Her copy's key as digest made it before the secret keyed it: anyone could compute it.
    unkeyed = hashlib.sha256(b"1\0editor@commonground.example").hexdigest()[:20]
    bogus_token = "f" * 32
    mail = {
        # issues that do not exist, each with a well-formed key
        **{f"soft{n}": forge(soft, n, "0" * 20) for n in (7, 8, 9)},
        "overflow": forge(soft, 10**22, "0" * 20),
        "dsn": hard,  # names a subscriber, quotes no copy
        "arf": complaint,  # likewise
        "unkeyed": forge(corpus(COMPLAINT), 1, unkeyed),
        # came back to a VERP address with a token digest never issued
        "verp": f"Delivered-To: {RETURN_PATH.format(token=bogus_token)}\n".encode() + hard,
    }
    maildir(box, extra=mail)
    result = cli("feedback", "--config", config, env=environment())
    assert result.exit_code == 0, result.output
    assert suppressed(cli, config) == {}
    assert f"{len(mail)} reports about no copy we sent (left unread)" in result.stdout
    assert len(mailbox.Maildir(box, create=False)) == len(mail)  # all left for a person


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
        copies=Copies(SECRET, lambda _: ["ana@x.example", "levan@x.example"]),
        unsubscribe_to=mailto,
    )
    reading = read_message(message.as_bytes(), rules)
    assert [e.email for e in reading.events] == ([expected] if expected else [])
    assert reading.left == (None if expected else "other")


def nested(depth: int) -> bytes:
    """A message whose multiparts nest `depth` deep: the email package's walk recurses per level."""
    head = "".join(f'Content-Type: multipart/mixed; boundary="b{n}"\n\n--b{n}\n' for n in range(depth))
    tail = "".join(f"\n--b{n}--\n" for n in reversed(range(depth)))
    return f"From: x@elsewhere.example\nSubject: deep\nMIME-Version: 1.0\n{head}\nhello{tail}".encode()


def test_mail_that_cannot_be_read_is_left_and_named_and_the_send_goes_on(cli: Cli, smtp: SmtpServer) -> None:
    box = cli.cwd / "Maildir"
    config = sent_issue(cli, smtp, box, extra="max_message_bytes = 65536\n")
    copies = sent_copies(smtp)
    hard = corpus(HARD).replace(b"neko@example.co.jp", b"levan@example.net")
    maildir(box, extra={"hard": quoting(hard, copies["levan@example.net"]), "deep": nested(1000)})
    new = box / "new"
    (new / "2-large").write_bytes(quoting(hard, copies["m.sargsyan@example.com"]) + b"x" * 70_000)
    # A link to a file elsewhere that would unsubscribe Ana: never followed.
    (cli.cwd / "elsewhere.eml").write_bytes(
        quoting(
            corpus(HARD).replace(b"neko@example.co.jp", b"ana.ionescu@example.org"),
            copies["ana.ionescu@example.org"],
        )
    )
    (new / "3-link").symlink_to(cli.cwd / "elsewhere.eml")
    mailed = next_issue(cli, smtp, config)
    assert (
        "levan@example.net" not in mailed and {"ana.ionescu@example.org", "m.sargsyan@example.com"} <= mailed
    )
    assert suppressed(cli, config) == {"levan@example.net": ("hard_bounce", "mailbox")}
    again = cli("feedback", "--config", config, env=environment())
    assert again.exit_code == 0 and "Traceback" not in again.output
    line = again.stdout
    assert "3 messages not read:" in line, line
    assert "new/2-large (72," in line and "over the limit of 65,536 (feedback.max_message_bytes)" in line
    assert "new/3-link (a symbolic link, not followed)" in line
    assert "(cannot be read: RecursionError)" in line
    assert (new / "3-link").is_symlink() and (new / "2-large").exists()  # left where they were


def test_a_reader_at_an_internationalised_domain_is_one_subscriber_on_every_path(
    cli: Cli, smtp: SmtpServer
) -> None:
    """Chloé's address in Unicode, Dora's in its xn-- form: each way back out reaches the one key."""
    from .test_endpoint import BODY, serving
    from .test_endpoint import request as http_request

    box = cli.cwd / "Maildir"
    maildir(box)
    verp = f"return_path = {json.dumps(RETURN_PATH)}\n"
    config = with_feedback(newsletter(cli.cwd / "news", smtp), box, extra=verp)
    listed = ["chloe@bücher.example,Chloé", "Dora@XN--BCHER-KVA.example,Dora", "emil@bücher.example,Emil"]
    rows = ["email,name", *listed, "stays@bücher.example,\n"]
    (cli.cwd / "news" / "subscribers.csv").write_text("\n".join(rows))
    assert cli("build", "--config", config).exit_code == 0
    assert cli("send", "--config", config, env=environment()).exit_code == 0
    copies = sent_copies(smtp)
    ascii_domain = "@xn--bcher-kva.example"
    assert sorted(copies) == sorted(f"{n}{ascii_domain}" for n in ("chloe", "dora", "emil", "stays"))
    # Chloé presses one-click unsubscribe: the link in her copy, posted to the endpoint.
    link = re.search(r"<(https://[^>]+)>", str(copies[f"chloe{ascii_domain}"]["List-Unsubscribe"]))
    assert link
    with serving(cli.cwd / "news" / "state") as base:
        assert http_request(base + "/u?" + urlsplit(link.group(1)).query, BODY)[0] == 200
    # Dora's copy bounces back to her VERP address, the report naming her in Unicode.
    senders = dict(zip((to[0] for to, _ in smtp.recorder.messages), smtp.recorder.senders, strict=True))
    hard = corpus(HARD).replace(b"neko@example.co.jp", "dora@bücher.example".encode())
    hard = f"Delivered-To: {senders['Dora@xn--bcher-kva.example']}\n".encode() + hard
    # Emil mails the unsubscribe address of his copy's List-Unsubscribe.
    emil = request("emil@bücher.example", mailto_of(copies[f"emil{ascii_domain}"]))
    maildir(box, extra={"hard": hard, "emil": emil})
    result = cli("feedback", "--config", config, env=environment())
    assert "1 bounce, 0 complaints, 1 unsubscribe; 2 suppressed" in result.stdout, result.output
    assert suppressed(cli, config) == {
        f"chloe{ascii_domain}": ("unsubscribed", "endpoint"),
        f"dora{ascii_domain}": ("hard_bounce", "mailbox"),
        f"emil{ascii_domain}": ("unsubscribed", "mailbox"),
    }
    assert next_issue(cli, smtp, config) == {f"stays{ascii_domain}"}
    exported = cli("subscribers", "export", "--config", config).stdout
    assert exported.splitlines()[1:] == [
        "chloe@bücher.example,Chloé,unsubscribed",
        "Dora@XN--BCHER-KVA.example,Dora,bounced",
        "emil@bücher.example,Emil,unsubscribed",
        "stays@bücher.example,,",
    ]
