"""The SMTP transport: one session to the relay: TLS or STARTTLS (certificates always verified), AUTH, and
the delivery of one message with a typed result.

A refusal for now (4xx) comes back as `DEFERRED`, a permanent one (5xx) as `REFUSED`; a
connection lost after the message data went out as `UNCONFIRMED` (the server may have it).
`connection` says the session itself failed (no connection, a lost one, a timeout, 421 "closing
the channel"): the relay's trouble, not the recipient's. What cannot get better by retrying
(TLS failed, the password refused, no STARTTLS) raises `SendError`.

An address with a non-ASCII local part goes with SMTPUTF8 (RFC 6531) when the relay offers it;
when it does not, that recipient is refused with a reason, and the session goes on.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from collections.abc import Callable

from digest.config import SmtpConfig
from digest.errors import ConfigError, SendError
from digest.models import Recipient
from digest.send.transport import Delivery, Outcome

NO_SMTPUTF8 = "the address needs SMTPUTF8 (a non-ASCII local part), which the relay does not offer"


class _Unreachable(Exception):
    """No session could be opened this time (refused, timed out): worth retrying."""


_LEADING_DOT = re.compile(rb"(?m)^\.")


def to_wire(message: bytes) -> bytes:
    """A message as DATA carries it: a dot at the start of a line doubled, a lone dot at the end
    (RFC 5321 4.5.2). `Copies.wire` makes the same bytes without scanning the whole message."""
    body = _LEADING_DOT.sub(b"..", message)
    return body + (b"" if body.endswith(b"\r\n") else b"\r\n") + b".\r\n"


def _reply(code: int, text: bytes | str) -> str:
    body = text.decode(errors="replace") if isinstance(text, bytes) else text
    return f"{code} {' '.join(body.split())}"


def _refusal(code: int, text: bytes | str) -> Delivery:
    if code >= 500:
        return Delivery(Outcome.REFUSED, _reply(code, text))
    return Delivery(Outcome.DEFERRED, _reply(code, text), connection=code == 421)


def _login(smtp: smtplib.SMTP, user: str, secret: str) -> None:
    """AUTH with one mechanism. smtplib's login() tries the next mechanism after a refusal,
    which some servers never answer; a refused password is refused, whatever the mechanism."""
    smtp.user, smtp.password = user, secret
    offered = (smtp.esmtp_features.get("auth") or "").upper().split()
    mechanism = next((m for m in ("PLAIN", "LOGIN") if m in offered), None)
    if mechanism is None:
        raise SendError(f"the server offers no AUTH mechanism digest speaks ({' '.join(offered) or 'none'})")
    authobject = smtp.auth_plain if mechanism == "PLAIN" else smtp.auth_login
    smtp.auth(mechanism, authobject, initial_response_ok=True)


class Session:
    """One SMTP connection at a time, opened when needed, reopened after a failure."""

    def __init__(self, config: SmtpConfig, password: str | None, resolve: Callable[[str], str]) -> None:
        self.config = config
        self._password = password
        self._resolve = resolve  # a path from the config (the CA file), made absolute
        self._smtp: smtplib.SMTP | None = None

    def _context(self) -> ssl.SSLContext:
        cafile = self._resolve(self.config.ca_file) if self.config.ca_file else None
        return ssl.create_default_context(cafile=cafile)  # verifies the certificate and the host name

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        if c.security == "tls":
            return smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout, context=self._context())
        smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
        smtp.ehlo_or_helo_if_needed()
        if c.security == "starttls":
            if not smtp.has_extn("starttls"):
                smtp.close()
                raise SendError(f"{c.host}:{c.port} does not offer STARTTLS; not sending in the clear")
            smtp.starttls(context=self._context())
            smtp.ehlo()
        return smtp

    def _authenticate(self, smtp: smtplib.SMTP) -> None:
        c = self.config
        if not c.username:
            return
        if self._password is None:
            smtp.close()
            raise ConfigError(f"smtp.username is set but there is no password in ${c.password_env}")
        try:
            _login(smtp, c.username, self._password)
        except smtplib.SMTPAuthenticationError as error:
            smtp.close()
            raise SendError(f"{c.host}: authentication failed ({error.smtp_code})") from None
        except SendError:
            smtp.close()
            raise

    def open(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        c = self.config
        try:
            smtp = self._connect()
            smtp.ehlo_or_helo_if_needed()
            self._authenticate(smtp)
        except ssl.SSLError as error:
            raise SendError(f"{c.host}:{c.port}: TLS failed: {error.reason or error}") from None
        except (OSError, smtplib.SMTPException) as error:
            raise _Unreachable(f"cannot connect to {c.host}:{c.port}: {error}") from None
        self._smtp = smtp
        return smtp

    def close(self) -> None:
        """QUIT politely; a connection that is gone already is just closed."""
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                self._smtp.close()
            self._smtp = None

    def drop(self) -> None:
        """Close without QUIT, after a failure: the next delivery opens a new connection."""
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

    def deliver(
        self, sender: str, recipient: Recipient, wire: bytes, before_data: Callable[[], bool]
    ) -> Delivery:
        """One message (`wire`: as DATA carries it, see `to_wire`) to one recipient. `before_data`
        runs just before the data goes out (from then on the server may end up with the message,
        and the caller's ledger must say so); when it answers False, the message is not sent.

        The commands are written directly: the addresses were checked when the list was read,
        and smtplib's mail()/rcpt()/data() would parse each address and scan the whole message
        again for every copy."""
        try:
            smtp = self.open()
            options = ""
            if not recipient.email.isascii():
                if not smtp.has_extn("smtputf8"):
                    return Delivery(Outcome.REFUSED, NO_SMTPUTF8)
                options = " SMTPUTF8 BODY=8BITMIME" if smtp.has_extn("8bitmime") else " SMTPUTF8"
                smtp.command_encoding = "utf-8"
            try:
                for command in (f"MAIL FROM:<{sender}>{options}", f"RCPT TO:<{recipient.email}>"):
                    code, text = smtp.docmd(command)
                    if code >= 400:
                        return self._refused(smtp, code, text)
            finally:
                smtp.command_encoding = "ascii"  # SMTPUTF8 is for one transaction
        except _Unreachable as error:
            return Delivery(Outcome.DEFERRED, str(error), connection=True)
        except (OSError, smtplib.SMTPException) as error:
            self.drop()
            return Delivery(Outcome.DEFERRED, f"{type(error).__name__}: {error}", connection=True)
        if not before_data():
            smtp.rset()
            return Delivery(Outcome.DEFERRED, "the run stopped before this message")
        try:
            code, text = smtp.docmd("DATA")
            if code != 354:
                return self._refused(smtp, code if code >= 400 else 451, text)
            smtp.send(wire)
            code, text = smtp.getreply()
        except (OSError, smtplib.SMTPException) as error:
            self.drop()
            return Delivery(Outcome.UNCONFIRMED, f"connection lost during delivery: {error}", connection=True)
        if code == 250:
            return Delivery(Outcome.SENT, _reply(code, text))
        return self._refused(smtp, code, text)

    def _refused(self, smtp: smtplib.SMTP, code: int, text: bytes) -> Delivery:
        """A refusal: the transaction is reset, or the session dropped after a 421."""
        if code == 421:
            self.drop()
        else:
            smtp.rset()
        return _refusal(code, text)
