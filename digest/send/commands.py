"""The send stage: a built issue to every subscriber over SMTP, resumably, never twice.

The ledger in the state database knows, for each recipient, whether the message is queued,
being sent, sent or failed. A recipient is marked 'sending' just before the message data goes
out and 'sent' as soon as the server accepts it, each in its own transaction. A rerun after
any interruption sends to the queued ones only. One that a dead run was sending is
'unconfirmed': the server may have it, so it is reported, not resent, until the editor says
(`--unconfirmed resend` or `--unconfirmed skip`). At most one copy each, and none left out
without saying so.

Transient failures (4xx, a dropped connection, a timeout) are retried with backoff on a new
connection; a permanent refusal (5xx) is recorded with the server's reply.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import smtplib
import ssl
import time
from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from digest.config import Config, SmtpConfig
from digest.errors import ConfigError, InputError, SendError
from digest.issue_folder import write_folder
from digest.render.message import compose, sender_address, sender_domain
from digest.send.lock import exclusive
from digest.send.personalize import Fill, Recipient, fill_html, fill_text, greeting_for, personal_url
from digest.send.subscribers import SubscriberList, load_subscribers, normalized
from digest.state import Ledger, State, open_state

LOOPBACK = ("localhost", "127.0.0.1", "::1")
LOCK_NAME = "send.lock"
MAX_BACKOFF = 300.0

Progress = Callable[[int, int], None]  # (done, total)


class _Transient(Exception):
    """A failure worth retrying on a new connection: 4xx, a lost connection, a timeout."""


@dataclass(frozen=True, slots=True)
class BuiltIssue:
    """What `digest send` reads back from an issue folder."""

    number: int
    folder: Path
    slug: str
    subject: str
    html: str
    text: str
    unsubscribe_url: str | None  # with {email} and {token} when personal

    @classmethod
    def of(cls, state: State, which: str | None) -> BuiltIssue:
        """The issue `which` (number, date, or None for the latest) as the state database knows it."""
        number, folder = state.issue_folder(which)
        return cls.read(folder, number)

    @classmethod
    def read(cls, folder: Path, number: int) -> BuiltIssue:
        try:
            manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
            issue = manifest["issue"]
            return cls(
                number=number,
                folder=folder,
                slug=issue["slug"],
                subject=issue["subject"],
                html=(folder / "personal.html").read_text(encoding="utf-8"),
                text=(folder / "personal.txt").read_text(encoding="utf-8"),
                unsubscribe_url=issue.get("personal_unsubscribe_url") or issue.get("unsubscribe_url"),
            )
        except FileNotFoundError as error:
            raise InputError(
                f"not a built issue: {Path(error.filename).name} is missing", path=str(folder)
            ) from None
        except (OSError, ValueError, KeyError) as error:
            raise InputError(f"cannot read the built issue: {error}", path=str(folder)) from None


@dataclass
class SendReport:
    total: int = 0
    sent: int = 0  # in this run
    already_sent: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # email -> the server's reply
    deferred: dict[str, str] = field(default_factory=dict)  # transient failures that outlasted the retries
    unconfirmed: dict[str, str] = field(default_factory=dict)
    invalid: tuple[tuple[int, str, str], ...] = ()  # (line, address, why): reported, never sent to
    skipped: int = 0

    @property
    def complete(self) -> bool:
        return not (self.failed or self.deferred or self.unconfirmed)

    def summary(self) -> str:
        parts = [f"{self.sent} sent", f"{self.already_sent} already sent"]
        for label, group in (
            ("failed", self.failed),
            ("deferred", self.deferred),
            ("unconfirmed", self.unconfirmed),
        ):
            if group:
                parts.append(f"{len(group)} {label}")
        if self.invalid:
            parts.append(f"{len(self.invalid)} invalid addresses skipped")
        if self.skipped:
            parts.append(f"{self.skipped} unsubscribed or bounced skipped")
        return f"{', '.join(parts)} of {self.total} recipients"


def smtp_password(config: SmtpConfig, base: Callable[[str], str]) -> str | None:
    """The SMTP password, from the environment or a file: never from digest.toml."""
    if config.password_file:
        try:
            return Path(base(config.password_file)).read_text(encoding="utf-8").strip()
        except OSError as error:
            raise ConfigError(f"smtp.password_file: cannot read it ({error.strerror})") from None
    return os.environ.get(config.password_env) or None


def personal_message(
    issue: BuiltIssue,
    recipient: Recipient,
    config: Config,
    *,
    now: dt.datetime,
    secret: str | None,
    test: bool = False,
) -> bytes:
    send = config.send
    unsubscribe = personal_url(issue.unsubscribe_url, recipient, secret) if issue.unsubscribe_url else None
    fill = Fill(greeting_for(recipient, send.greeting, send.greeting_fallback), unsubscribe)
    key = hashlib.sha256(f"{issue.number}\0{normalized(recipient.email)}".encode()).hexdigest()[:20]
    # The same id for the same issue and recipient: a copy sent again is recognisably the same.
    domain = sender_domain(config.newsletter.sender)
    message_id = f"<digest.{issue.number}.{issue.slug}.{'test.' if test else ''}{key}@{domain}>"
    to = f"{recipient.name} <{recipient.email}>" if recipient.name else recipient.email
    message = compose(
        newsletter=config.newsletter,
        subject=f"[TEST] {issue.subject}" if test else issue.subject,
        text=fill_text(issue.text, fill),
        html=fill_html(issue.html, fill),
        date=now,
        message_id=message_id,
        unsubscribe_url=unsubscribe,
        to=to,
    )
    return message.as_bytes()


class Session:
    """One SMTP connection at a time, opened when needed, reopened after a failure."""

    def __init__(self, config: SmtpConfig, secret: str | None, base: Callable[[str], str]) -> None:
        self.config = config
        self._password = secret
        self._base = base
        self._smtp: smtplib.SMTP | None = None

    def _context(self) -> ssl.SSLContext:
        cafile = self._base(self.config.ca_file) if self.config.ca_file else None
        return ssl.create_default_context(cafile=cafile)  # verifies the certificate and the host name

    def open(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        c = self.config
        try:
            if c.security == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    c.host, c.port, timeout=c.timeout, context=self._context()
                )
            else:
                smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
                smtp.ehlo_or_helo_if_needed()
                if c.security == "starttls":
                    smtp.ehlo()
                    if not smtp.has_extn("starttls"):
                        smtp.close()
                        raise SendError(
                            f"{c.host}:{c.port} does not offer STARTTLS; not sending in the clear"
                        )
                    smtp.starttls(context=self._context())
                    smtp.ehlo()
            smtp.ehlo_or_helo_if_needed()
            if c.username:
                if self._password is None:
                    smtp.close()
                    raise ConfigError(f"smtp.username is set but there is no password in ${c.password_env}")
                try:
                    _login(smtp, c.username, self._password)
                except smtplib.SMTPAuthenticationError as error:
                    smtp.close()
                    raise SendError(f"{c.host}: authentication failed ({error.smtp_code})") from None
        except ssl.SSLError as error:
            raise SendError(f"{c.host}:{c.port}: TLS failed: {error.reason or error}") from None
        except (OSError, smtplib.SMTPException) as error:
            raise _Transient(f"cannot connect to {c.host}:{c.port}: {error}") from None
        self._smtp = smtp
        return smtp

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                self._smtp.close()
            self._smtp = None

    def drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None


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


def _reply(code: int, text: bytes | str) -> str:
    body = text.decode(errors="replace") if isinstance(text, bytes) else text
    return f"{code} {' '.join(body.split())}"


def deliver(
    session: Session, ledger: Ledger | None, sender: str, recipient: Recipient, data: bytes
) -> str | None:
    """One message. Returns None when sent, or the server's permanent refusal; raises _Transient.

    The ledger knows recipients by their normalized address; the server gets it as written.
    Without a ledger (a test copy) nothing is recorded.
    """
    key = normalized(recipient.email)

    def mark(status: str, reply: str | None = None, *, attempt: bool = False) -> None:
        if ledger is not None:
            ledger.mark(key, status, reply, attempt=attempt)

    smtp = session.open()
    try:
        for command, argument in ((smtp.mail, sender), (smtp.rcpt, recipient.email)):
            code, text = command(argument)
            if code >= 400:
                smtp.rset()
                if code < 500:
                    raise _Transient(_reply(code, text))
                return _reply(code, text)
    except (OSError, smtplib.SMTPException) as error:
        session.drop()
        raise _Transient(f"{type(error).__name__}: {error}") from None
    # From here the server may end up with the message: the ledger says so first.
    mark("sending", attempt=True)
    try:
        code, text = smtp.data(data)
    except smtplib.SMTPDataError as error:  # the server refused to take data at all
        mark("queued")
        if error.smtp_code < 500:
            raise _Transient(_reply(error.smtp_code, error.smtp_error)) from None
        return _reply(error.smtp_code, error.smtp_error)
    except (OSError, smtplib.SMTPException) as error:
        session.drop()
        mark("unconfirmed", f"connection lost during delivery: {error}")
        return None
    if code == 250:
        mark("sent", _reply(code, text))
        return None
    mark("queued")  # not accepted: the server has no copy
    if code < 500:
        raise _Transient(_reply(code, text))
    return _reply(code, text)


def send_issue(
    issue: BuiltIssue,
    subscribers: SubscriberList,
    ledger: Ledger,
    config: Config,
    *,
    now: dt.datetime,
    password: str | None,
    secret: str | None,
    base: Callable[[str], str],
    unconfirmed: str | None = None,  # None: report them; "resend"; "skip" (assume they got it)
    progress: Progress | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> SendReport:
    smtp_config = config.smtp
    report = SendReport(
        total=len(subscribers.recipients), invalid=subscribers.invalid, skipped=subscribers.skipped
    )
    by_email = {normalized(r.email): r for r in subscribers.recipients}
    ledger.queue(list(by_email))
    ledger.interrupted()
    if unconfirmed == "resend":
        ledger.settle_unconfirmed("queued")
    elif unconfirmed == "skip":
        ledger.settle_unconfirmed("assumed_sent")
    statuses = ledger.statuses()
    pending = [email for email in by_email if statuses.get(email) == "queued"]
    report.already_sent = sum(1 for email in by_email if statuses.get(email) in ("sent", "assumed_sent"))
    sender = sender_address(config.newsletter.sender)
    session = Session(smtp_config, password, base)
    interval = 1.0 / smtp_config.rate if smtp_config.rate else 0.0
    next_start = clock()
    attempts: dict[str, int] = {}
    queue = deque(pending)
    done = report.already_sent
    try:
        while queue:
            email = queue.popleft()
            wait = next_start - clock()
            if wait > 0:
                sleep(wait)
            next_start = max(next_start, clock()) + interval
            data = personal_message(issue, by_email[email], config, now=now, secret=secret)
            try:
                refusal = deliver(session, ledger, sender, by_email[email], data)
            except _Transient as error:
                attempts[email] = attempts.get(email, 0) + 1
                if attempts[email] > smtp_config.retries:
                    ledger.mark(email, "queued", str(error))  # a rerun tries again
                    continue
                session.drop()
                sleep(min(MAX_BACKOFF, smtp_config.backoff * 2 ** (attempts[email] - 1)))
                queue.appendleft(email)  # the same recipient again, on a new connection
                continue
            if refusal is not None:
                ledger.mark(email, "failed", refusal)
            done += 1
            if progress:
                progress(done, report.total)
    finally:
        session.close()
    # The ledger is the truth: the report is read back from it.
    statuses = ledger.statuses()
    report.sent = sum(1 for e in pending if statuses.get(e) == "sent")
    report.unconfirmed = {e: r for e, r in ledger.replies("unconfirmed").items() if e in by_email}
    report.failed = {e: r for e, r in ledger.replies("failed").items() if e in by_email}
    report.deferred = {e: r for e, r in ledger.replies("queued").items() if e in by_email}
    return report


def check_transport(config: SmtpConfig) -> None:
    """No password over an unencrypted connection, except to this machine."""
    if config.security == "none" and config.username and config.host not in LOOPBACK:
        raise ConfigError(
            f"smtp.security is 'none': AUTH to {config.host} would send the password in the clear"
        )


def sender_lock(state_dir: Path) -> AbstractContextManager[None]:
    """One `digest send` or `digest run` at a time, per state folder."""
    return exclusive(state_dir / LOCK_NAME)


@dataclass(frozen=True, slots=True)
class Secrets:
    password: str | None
    unsubscribe: str | None


def secrets(config: Config) -> Secrets:
    """The SMTP password and the unsubscribe secret, from the environment (or a file)."""
    check_transport(config.smtp)
    unsubscribe = os.environ.get(config.send.secret_env) or None
    return Secrets(smtp_password(config.smtp, config.resolve), unsubscribe)


def _subscribers(config: Config) -> SubscriberList:
    return load_subscribers(Path(config.resolve(config.send.subscribers)), config.send.subscribers)


def _keys(config: Config, issue: BuiltIssue, *, smtp: bool = True) -> Secrets:
    """The secrets this issue needs: the unsubscribe secret when its link has {token}, and (to
    talk to the server at all) the SMTP password."""
    keys = secrets(config) if smtp else Secrets(None, os.environ.get(config.send.secret_env) or None)
    if issue.unsubscribe_url and "{token}" in issue.unsubscribe_url and not keys.unsubscribe:
        raise ConfigError("the unsubscribe link has {token}: set the secret in $DIGEST_UNSUBSCRIBE_SECRET")
    return keys


def _read_issue(state_dir: Path, which: str | None) -> BuiltIssue:
    with open_state(state_dir) as state:
        return BuiltIssue.of(state, which)


def send_built_issue(
    config: Config,
    state_dir: Path,
    which: str | None,
    *,
    now: dt.datetime,
    unconfirmed: str | None = None,
    progress: Progress | None = None,
    locked: bool = False,
) -> SendReport:
    """`digest send`: under the lock, the issue to every subscriber not yet sent to.

    `locked`: the caller holds the lock already (`digest run`, for its build and its send).
    """
    with nullcontext() if locked else sender_lock(state_dir), open_state(state_dir) as state:
        issue = BuiltIssue.of(state, which)
        keys = _keys(config, issue)
        report = send_issue(
            issue,
            _subscribers(config),
            state.ledger(issue.number),
            config,
            now=now,
            password=keys.password,
            secret=keys.unsubscribe,
            base=config.resolve,
            unconfirmed=unconfirmed,
            progress=progress,
        )
    return report


def send_test(config: Config, state_dir: Path, which: str | None, address: str, *, now: dt.datetime) -> str:
    """One copy marked [TEST] to `address`; not recorded as the issue's send."""
    issue = _read_issue(state_dir, which)
    keys = _keys(config, issue)
    recipient = Recipient(address)
    data = personal_message(issue, recipient, config, now=now, secret=keys.unsubscribe, test=True)
    session = Session(config.smtp, keys.password, config.resolve)
    try:
        refusal = deliver(session, None, sender_address(config.newsletter.sender), recipient, data)
    except _Transient as error:
        raise SendError(f"the test copy was not sent: {error}") from None
    finally:
        session.close()
    if refusal:
        raise SendError(f"the server refused the test copy: {refusal}")
    return address


def dry_run(
    config: Config, state_dir: Path, which: str | None, out: Path | None, *, now: dt.datetime
) -> Path:
    """Every subscriber's message as an .eml file in a folder, instead of sending."""
    issue = _read_issue(state_dir, which)
    keys = _keys(config, issue, smtp=False)
    subscribers = _subscribers(config)
    files = {
        f"{n:05d}-{normalized(r.email)}.eml": personal_message(
            issue, r, config, now=now, secret=keys.unsubscribe
        )
        for n, r in enumerate(subscribers.recipients, start=1)
    }
    return write_folder(out or issue.folder / "dry-run", files)
