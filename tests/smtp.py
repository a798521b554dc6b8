"""A real SMTP server on loopback for the send tests (aiosmtpd), with faults on demand.

STARTTLS (or implicit TLS, or none) with a self-signed certificate made for the test run, AUTH
that only a known password passes (or only a mechanism digest does not speak), and switches to
refuse a recipient, answer 421 for a while, drop the connection after k messages, or kill the
sending process as a message arrives.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import ssl
import time
from collections import Counter
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

USER = "digest"
PASSWORD = "pw-S3cret-7f9c-never-print-me"


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    san = x509.SubjectAlternativeName(
        [x509.DNSName("localhost"), x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@dataclass
class Faults:
    refuse: set[str] = field(default_factory=set)  # recipients answered 550
    busy: int = 0  # MAIL answered 421 this many times
    drop_after: int | None = None  # close the connection once, after this many messages
    kill: tuple[int, int] | None = None  # (pid, k): SIGKILL the sender as message k arrives
    delay: float = 0.0  # seconds per message


class Recorder:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []
        self.senders: list[str] = []  # each message's envelope sender (MAIL FROM)
        self.faults = Faults()
        self.dropped = False  # the drop_after fault has fired

    @property
    def copies(self) -> Counter[str]:
        return Counter(r.lower() for rcpts, _ in self.messages for r in rcpts)

    def parsed(self) -> list[Any]:
        return [message_from_bytes(data, policy=policy.default) for _, data in self.messages]

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        faults = self.faults
        if faults.drop_after is not None and len(self.messages) >= faults.drop_after and not self.dropped:
            self.dropped = True
            server.transport.close()
            return "421 4.4.2 closing the connection"
        if faults.busy > 0:
            faults.busy -= 1
            return "421 4.3.2 busy, try again later"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address.lower() in self.faults.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.faults.delay:
            time.sleep(self.faults.delay)
        self.messages.append((list(envelope.rcpt_tos), envelope.original_content or envelope.content))
        self.senders.append(envelope.mail_from)
        kill = self.faults.kill
        if kill and len(self.messages) == kill[1]:
            os.kill(kill[0], signal.SIGKILL)  # the message is in; the sender never hears 250
            time.sleep(0.2)
        return "250 2.0.0 queued"


class CramOnlyRecorder(Recorder):
    """A server whose only AUTH mechanism is CRAM-MD5, which digest does not speak."""

    async def auth_CRAM__MD5(self, server: Any, args: list[str]) -> AuthResult:
        return AuthResult(success=False, handled=False)


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USER.encode()
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535 itself


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


Security = Literal["starttls", "tls", "none"]


class SmtpServer:
    """`security`: STARTTLS required (a submission port), implicit TLS (port 465's way), or a
    server that offers no TLS at all. `cram_only`: AUTH offers only CRAM-MD5. `smtputf8`: the
    server takes addresses with non-ASCII local parts (RFC 6531)."""

    def __init__(
        self,
        folder: Path,
        *,
        security: Security = "starttls",
        cram_only: bool = False,
        smtputf8: bool = False,
    ) -> None:
        self.cert, key = make_certificate(folder)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, key)
        self.security = security
        self.recorder = CramOnlyRecorder() if cram_only else Recorder()
        self.port = free_port()
        self.controller = Controller(
            self.recorder,
            hostname="127.0.0.1",
            port=self.port,
            tls_context=context if security == "starttls" else None,
            ssl_context=context if security == "tls" else None,
            require_starttls=security == "starttls",
            authenticator=_authenticate,
            # aiosmtpd counts only STARTTLS as TLS for AUTH; implicit TLS is encrypted from the start.
            auth_require_tls=security == "starttls",
            auth_exclude_mechanism=["PLAIN", "LOGIN"] if cram_only else None,
            enable_SMTPUTF8=smtputf8,
        )

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    def toml(self, *, ca: bool = True) -> str:
        """digest's [smtp] section for this server: implicit TLS for a TLS server, else STARTTLS
        (which a server without TLS does not offer)."""
        lines = [
            "[smtp]",
            'host = "127.0.0.1"',
            f"port = {self.port}",
            f'security = "{"tls" if self.security == "tls" else "starttls"}"',
            f'username = "{USER}"',
            "timeout = 10",
            "backoff = 0.05",
        ]
        if ca:
            lines.append(f'ca_file = "{self.cert}"')
        return "\n".join(lines) + "\n"
