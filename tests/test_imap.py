"""The feedback mailbox on a real IMAP server (Dovecot, over TLS on loopback): the same mail as
the Maildir tests, handled the same way, and a server that cannot be used is one line, exit 8."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from imapclient import IMAPClient

from .conftest import Cli
from .dovecot import DOVECOT, PASSWORD, USER, Dovecot, running_dovecot
from .smtp import SmtpServer, free_port
from .test_feedback import (
    AGAIN,
    BOUNCES,
    EXPECTED,
    HARD,
    SUMMARY,
    corpus,
    feedback_mail,
    nested,
    next_issue,
    quoting,
    sent_copies,
    sent_issue,
    suppressed,
    with_feedback,
)
from .test_send import environment, newsletter

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not BOUNCES.is_dir(), reason=f"the bounce corpus is absent ({BOUNCES})"),
    pytest.mark.skipif(not shutil.which(DOVECOT), reason="Dovecot is not installed (make test installs it)"),
]


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    with running_dovecot() as server:
        yield server


def imap(server: Dovecot) -> IMAPClient:
    client = IMAPClient("127.0.0.1", server.port, ssl=True, ssl_context=server.context(), timeout=10)
    client.login(USER, PASSWORD)
    return client


def folder(server: Dovecot, name: str) -> list[tuple[bytes, tuple[bytes, ...]]]:
    """Each message in a folder, with its flags, read without marking it."""
    client = imap(server)
    try:
        if not client.folder_exists(name):
            return []
        client.select_folder(name, readonly=True)
        found = client.fetch(client.search("ALL"), ["BODY.PEEK[]", "FLAGS"])
        return sorted((m[b"BODY[]"], m[b"FLAGS"]) for m in found.values())
    finally:
        client.logout()


def crlf(data: bytes) -> bytes:
    """A message as IMAP carries it: lines end in CRLF."""
    return b"\r\n".join(data.splitlines()) + b"\r\n"


def env() -> dict[str, str]:
    return {**environment(), "DIGEST_FEEDBACK_PASSWORD": PASSWORD}


def test_an_imap_mailbox_is_read_like_a_maildir_and_left_unread(
    cli: Cli, smtp: SmtpServer, dovecot: Dovecot
) -> None:
    config = sent_issue(cli, smtp, dovecot.url(), extra=f'ca_file = "{dovecot.cert}"\n', env=env())
    mail = feedback_mail(sent_copies(smtp))
    client = imap(dovecot)
    for data in mail.values():
        client.append("INBOX", crlf(data))
    client.logout()
    result = cli("feedback", "--config", config, env=env())
    assert result.exit_code == 0, result.output
    assert SUMMARY in result.stdout
    assert suppressed(cli, config) == EXPECTED
    left = folder(dovecot, "INBOX")
    assert len(left) == 3 and all(b"\\Seen" not in flags for _, flags in left)
    assert {body for body, _ in left} == {crlf(mail[k]) for k in ("forged", "auto-reply", "ordinary")}
    assert len(folder(dovecot, "Processed")) == 4
    again = cli("feedback", "--config", config, env=env())
    assert AGAIN in again.stdout
    assert suppressed(cli, config) == EXPECTED and len(folder(dovecot, "INBOX")) == 3
    assert next_issue(cli, smtp, config, env=env()) == {"m.sargsyan@example.com"}


def test_a_wrong_password_is_one_line_exit_8_and_nothing_is_sent(
    cli: Cli, smtp: SmtpServer, dovecot: Dovecot
) -> None:
    extra = f'ca_file = "{dovecot.cert}"\n'
    config = with_feedback(newsletter(cli.cwd / "news", smtp), dovecot.url(), extra=extra)
    cli("build", "--config", config)
    result = cli("send", "--config", config, env={**env(), "DIGEST_FEEDBACK_PASSWORD": "wrong"})
    assert result.exit_code == 8
    assert "refused the login of feedback" in result.stderr and len(result.stderr.splitlines()) == 1
    assert not smtp.recorder.messages


@pytest.mark.parametrize("trouble", ["closed port", "untrusted certificate", "no password"])
def test_a_mailbox_that_cannot_be_used_is_one_line(
    cli: Cli, smtp: SmtpServer, dovecot: Dovecot, trouble: str
) -> None:
    url = (
        dovecot.url().replace(str(dovecot.port), str(free_port()))
        if trouble == "closed port"
        else dovecot.url()
    )
    extra = "" if trouble == "untrusted certificate" else f'ca_file = "{dovecot.cert}"\n'
    config = with_feedback(newsletter(cli.cwd / "news", smtp), url, extra=extra)
    result = cli("feedback", "--config", config, env=environment() if trouble == "no password" else env())
    expected = {
        "closed port": (8, "cannot connect to the feedback mailbox"),
        "untrusted certificate": (8, "CERTIFICATE_VERIFY_FAILED"),
        "no password": (2, "set its password in $DIGEST_FEEDBACK_PASSWORD"),
    }[trouble]
    assert (result.exit_code, len(result.stderr.splitlines())) == (expected[0], 1), result.output
    assert expected[1] in result.stderr


def test_a_message_over_the_limit_is_never_downloaded_and_the_rest_is_read(
    cli: Cli, smtp: SmtpServer, dovecot: Dovecot
) -> None:
    extra = f'ca_file = "{dovecot.cert}"\nmax_message_bytes = 131072\n'
    config = sent_issue(cli, smtp, dovecot.url(), extra=extra, env=env())
    copies = sent_copies(smtp)
    hard = corpus(HARD).replace(b"neko@example.co.jp", b"levan@example.net")
    client = imap(dovecot)
    client.append("INBOX", crlf(quoting(hard, copies["m.sargsyan@example.com"]) + b"x" * 200_000))
    client.append("INBOX", crlf(nested(1000)))
    client.append("INBOX", crlf(quoting(hard, copies["levan@example.net"])))
    client.logout()
    result = cli("feedback", "--config", config, env=env())
    assert result.exit_code == 0, result.output
    assert "2 messages not read:" in result.stdout and "over the limit of 131,072" in result.stdout
    assert "cannot be read: RecursionError" in result.stdout
    assert suppressed(cli, config) == {"levan@example.net": ("hard_bounce", "mailbox")}
    assert len(folder(dovecot, "INBOX")) == 2 and len(folder(dovecot, "Processed")) == 1
