"""`digest check --deliverability --via-imap`, tier 3: a signed test copy goes through a real SMTP
receiver on loopback, which does what a receiving server does (verifies DKIM against the zone a
dnslib server publishes, writes Authentication-Results, files spam in Junk) and delivers into
Dovecot over IMAP; digest finds the copy there, reads the verdict, and deletes the copy."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import dkim as dkimpy
import dns.resolver
import pytest
from aiosmtpd.controller import Controller
from imapclient import IMAPClient
from typer.testing import Result

from digest.config import load_config
from digest.deliverability.dns import nameserver_address
from digest.deliverability.message import aligned
from digest.deliverability.records import txt
from digest.send.dkim import Key, load_keys, parse_key

from .conftest import Cli
from .dns_server import serving
from .dovecot import DOVECOT, PASSWORD, USER, Dovecot, running_dovecot
from .smtp import free_port
from .test_deliverability import SECRET, SIGNED, sample_newsletter
from .test_dkim import rsa_pem

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not shutil.which(DOVECOT), reason="Dovecot is not installed (make test installs it)"),
]
SERVER = "mx.test.example"


def imap(server: Dovecot) -> IMAPClient:
    client = IMAPClient("127.0.0.1", server.port, ssl=True, ssl_context=server.context(), timeout=10)
    client.login(USER, PASSWORD)
    return client


class Receiver:
    """An MX: verifies each message's DKIM signature as received (dkimpy, asking the test's DNS
    server), says so in Authentication-Results, and delivers it by IMAP: to INBOX when DKIM passes
    and is aligned with From (DMARC), else to Junk. `drop`: takes the message and delivers nothing."""

    def __init__(self, dovecot: Dovecot, nameserver: str, drop: bool = False) -> None:
        self.dovecot, self.drop = dovecot, drop
        self.resolver = dns.resolver.Resolver(configure=False)
        host, self.resolver.port = nameserver_address(nameserver)
        self.resolver.nameservers = [host]

    def _txt(self, name: bytes, timeout: float = 5) -> bytes | None:
        try:
            answer = self.resolver.resolve(name.decode(), "TXT")
        except dns.exception.DNSException:
            return None
        return b"".join(answer[0].strings)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data: bytes = envelope.original_content
        if self.drop:
            return "250 OK"
        passed = dkimpy.verify(data, dnsfunc=self._txt)
        message = message_from_bytes(data, policy=policy.default)
        from_domain = str(message["From"].addresses[0].domain)
        signer = dkimpy.DKIM(data)
        signer.verify(dnsfunc=self._txt)
        domain = (signer.domain or b"").decode()
        dmarc = passed and aligned(domain, from_domain)
        verdict = {True: "pass", False: "fail"}
        results = (
            f"Authentication-Results: {SERVER};\r\n dkim={verdict[passed]} header.d={domain};\r\n"
            f" dmarc={verdict[dmarc]} header.from={from_domain}\r\n"
        )
        client = imap(self.dovecot)
        try:
            client.append("INBOX" if dmarc else "Junk", results.encode() + data)
        finally:
            client.logout()
        return "250 OK"


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    with running_dovecot() as server:
        client = imap(server)
        client.create_folder("Junk")
        client.logout()
        yield server


def newsletter(cli: Cli, dovecot: Dovecot, port: int) -> tuple[Path, Key]:
    extra = (
        f'[feedback]\nmailbox = "{dovecot.url()}"\nca_file = "{dovecot.cert}"\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
    )
    config = sample_newsletter(cli.cwd / "news", SIGNED + extra)
    text = config.read_text()
    config.write_text(text.replace('[smtp]\nhost = "localhost"\nport = 587\nsecurity = "starttls"\n', ""))
    assert cli("build", "--config", str(config)).exit_code == 0
    [key] = load_keys(load_config(config), {})
    return config, key


def check(cli: Cli, config: Path, *more: str) -> Result:
    env = SECRET | {"DIGEST_FEEDBACK_PASSWORD": PASSWORD}
    address = "feedback@commonground.example"
    return cli(
        "check",
        "--deliverability",
        "--offline",
        "--via-imap",
        address,
        "--config",
        str(config),
        *more,
        env=env,
    )


@contextmanager
def receiving(dovecot: Dovecot, zone: str, drop: bool = False) -> Iterator[int]:
    """The receiver on a port of its own, asking a DNS server that serves `zone`."""
    with serving(zone) as nameserver:
        port = free_port()
        controller = Controller(Receiver(dovecot, nameserver, drop), hostname="127.0.0.1", port=port)
        controller.start()
        try:
            yield port
        finally:
            controller.stop()


def folders(dovecot: Dovecot) -> dict[str, int]:
    client = imap(dovecot)
    try:
        counts = {}
        for name in ("INBOX", "Junk"):
            client.select_folder(name, readonly=True)
            counts[name] = len(client.search("ALL"))
        return counts
    finally:
        client.logout()


def test_a_copy_that_authenticates_lands_in_the_inbox_and_is_deleted_after(
    cli: Cli, dovecot: Dovecot
) -> None:
    config, key = newsletter(cli, dovecot, 1)  # the receiver's port is filled in when it runs
    zone = txt(key.name, key.record()) + "\n"
    with receiving(dovecot, zone) as port:
        config.write_text(config.read_text().replace("port = 1\n", f"port = {port}\n"))
        result = check(cli, config)
    assert result.exit_code == 0, result.output
    assert "receiver: 0 errors, 0 warnings; folder INBOX; dkim pass; dmarc pass" in result.stdout
    assert folders(dovecot) == {"INBOX": 0, "Junk": 0}  # the test copy read, then deleted


def test_a_copy_signed_with_a_key_not_published_goes_to_junk_exit_11(cli: Cli, dovecot: Dovecot) -> None:
    config, key = newsletter(cli, dovecot, 1)
    other = Key(parse_key(rsa_pem(), "another"), key.selector, key.domain)
    with receiving(dovecot, txt(other.name, other.record()) + "\n") as port:
        config.write_text(config.read_text().replace("port = 1\n", f"port = {port}\n"))
        result = check(cli, config)
    assert result.exit_code == 11, result.output
    lines = [line for line in result.stderr.splitlines() if ": receiver: " in line]
    assert lines == [
        "digest: error: receiver: filed in Junk: the receiver took the copy for spam",
        f"digest: error: receiver: dkim=fail at {SERVER}",
        f"digest: error: receiver: dmarc=fail at {SERVER}",
    ]


def test_a_copy_that_never_arrives_is_an_error_after_the_wait(cli: Cli, dovecot: Dovecot) -> None:
    config, key = newsletter(cli, dovecot, 1)
    with receiving(dovecot, txt(key.name, key.record()) + "\n", drop=True) as port:
        config.write_text(config.read_text().replace("port = 1\n", f"port = {port}\n"))
        result = check(cli, config, "--wait", "2")
    assert result.exit_code == 11
    assert (
        "digest: error: receiver: the test copy did not arrive in 2 s (looked in INBOX, Junk at 127.0.0.1:"
        in result.stderr
    )


def test_via_imap_wants_the_feedback_mailbox_on_imap(cli: Cli) -> None:
    config = sample_newsletter(cli.cwd / "news", SIGNED)
    assert cli("build", "--config", str(config)).exit_code == 0
    result = cli(
        "check",
        "--deliverability",
        "--offline",
        "--via-imap",
        "a@b.example",
        "--config",
        str(config),
        env=SECRET,
    )
    assert result.exit_code == 2
    assert "--via-imap looks in the [feedback] mailbox on IMAP" in result.stderr
