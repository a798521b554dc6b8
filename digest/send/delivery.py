"""The delivery loop: a built issue to every subscriber not yet sent to, resumably, never twice.

The ledger in the state database knows, for each recipient, whether the message is queued,
being sent, sent or failed. A recipient is marked 'sending' just before the message data goes
out and 'sent' as soon as the server accepts it, each in its own transaction. A rerun after
any interruption sends to the queued ones only. One that a dead run was sending is
'unconfirmed': the server may have it, so it is reported, not resent, until the editor says
(`--unconfirmed resend` or `--unconfirmed skip`). At most one copy each, and none left out
without saying so.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial

from digest.config import Config, SmtpConfig
from digest.errors import SendError
from digest.issue_folder import PersonalIssue
from digest.models import DELIVERED, Recipient, SendStatus
from digest.render.message import sender_address
from digest.send.personalize import personal_message
from digest.send.secrets import Secrets
from digest.send.smtp import Delivery, Outcome, Session
from digest.send.subscribers import SubscriberList, normalized
from digest.state import Ledger

MAX_BACKOFF = 300.0

Progress = Callable[[int, int], None]  # (done, total)


class Unconfirmed(StrEnum):
    """What to do with recipients an interrupted run may or may not have reached."""

    RESEND = "resend"  # the only way digest sends anyone a second copy: after a look at the server's log
    SKIP = "skip"  # assume they got it


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

    def raise_if_incomplete(self) -> None:
        """A send that left anyone out (failed, deferred, unconfirmed) is a `SendError` (exit 6)."""
        if not self.complete:
            left = self.total - self.sent - self.already_sent
            raise SendError(f"{left} of {self.total} recipients not sent; a rerun resumes")

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


def prepare(ledger: Ledger, emails: list[str], unconfirmed: Unconfirmed | None) -> list[str]:
    """Queue every subscriber the ledger does not know yet, find what a dead run left 'sending'
    (now 'unconfirmed'), settle those as the editor said; the recipients still to send to."""
    ledger.queue(emails)
    ledger.interrupted()
    if unconfirmed is Unconfirmed.RESEND:
        ledger.settle_unconfirmed(SendStatus.QUEUED)
    elif unconfirmed is Unconfirmed.SKIP:
        ledger.settle_unconfirmed(SendStatus.ASSUMED_SENT)
    statuses = ledger.statuses()
    return [email for email in emails if statuses.get(email) is SendStatus.QUEUED]


class Pacer:
    """`smtp.rate`: message starts at least 1/rate seconds apart (0: no limit)."""

    def __init__(self, rate: float, sleep: Callable[[float], None], clock: Callable[[], float]) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.sleep, self.clock = sleep, clock
        self.next_start = clock()

    def wait(self) -> None:
        wait = self.next_start - self.clock()
        if wait > 0:
            self.sleep(wait)
        self.next_start = max(self.next_start, self.clock()) + self.interval


class Retries:
    """A deferred recipient is tried again `smtp.retries` times, after a backoff that doubles."""

    def __init__(self, config: SmtpConfig, sleep: Callable[[float], None]) -> None:
        self.config, self.sleep = config, sleep
        self.attempts: dict[str, int] = {}

    def again(self, email: str) -> bool:
        """Whether to try `email` again (after the backoff, slept here), or leave it for a rerun."""
        attempts = self.attempts[email] = self.attempts.get(email, 0) + 1
        if attempts > self.config.retries:
            return False
        self.sleep(min(MAX_BACKOFF, self.config.backoff * 2 ** (attempts - 1)))
        return True


_RECORDED = {
    Outcome.SENT: SendStatus.SENT,
    Outcome.REFUSED: SendStatus.FAILED,
    Outcome.UNCONFIRMED: SendStatus.UNCONFIRMED,
}


def report(
    ledger: Ledger, base: SendReport, recipients: Mapping[str, Recipient], pending: list[str]
) -> SendReport:
    """The ledger is the truth: what this run did is read back from it."""
    statuses = ledger.statuses()
    base.sent = sum(1 for e in pending if statuses.get(e) is SendStatus.SENT)
    base.unconfirmed = {e: r for e, r in ledger.replies(SendStatus.UNCONFIRMED).items() if e in recipients}
    base.failed = {e: r for e, r in ledger.replies(SendStatus.FAILED).items() if e in recipients}
    base.deferred = {e: r for e, r in ledger.replies(SendStatus.QUEUED).items() if e in recipients}
    return base


def send_issue(
    issue: PersonalIssue,
    subscribers: SubscriberList,
    ledger: Ledger,
    config: Config,
    *,
    now: dt.datetime,
    secrets: Secrets,
    unconfirmed: Unconfirmed | None = None,
    progress: Progress | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> SendReport:
    """Send `issue` to every subscriber the ledger has not seen sent, one SMTP session at a time.

    Prepare (queue, settle the unconfirmed), then for each recipient: pace to `smtp.rate`,
    compose their copy, deliver it, record the outcome; a deferred one is retried on a new
    connection after a backoff, and left queued for the next run once `smtp.retries` are spent.
    Returns the report, read back from the ledger.
    """
    recipients = {normalized(r.email): r for r in subscribers.recipients}
    pending = prepare(ledger, list(recipients), unconfirmed)
    statuses = ledger.statuses()
    base = SendReport(
        total=len(recipients),
        already_sent=sum(1 for email in recipients if statuses.get(email) in DELIVERED),
        invalid=subscribers.invalid,
        skipped=subscribers.skipped,
    )
    sender = sender_address(config.newsletter.sender)
    session = Session(config.smtp, secrets.password, config.resolve)
    pacer, retries = Pacer(config.smtp.rate, sleep, clock), Retries(config.smtp, sleep)
    queue, done = deque(pending), base.already_sent
    try:
        while queue:
            email = queue.popleft()
            pacer.wait()
            data = personal_message(issue, recipients[email], config, now=now, secret=secrets.unsubscribe)
            delivery = session.deliver(
                sender,
                recipients[email],
                data,
                before_data=partial(ledger.mark, email, SendStatus.SENDING, attempt=True),
            )
            if delivery.outcome is Outcome.DEFERRED:
                if retries.again(email):
                    session.drop()
                    queue.appendleft(email)  # the same recipient again, on a new connection
                    ledger.mark(email, SendStatus.QUEUED)
                else:
                    ledger.mark(email, SendStatus.QUEUED, delivery.reply)  # a rerun tries again
                continue
            ledger.mark(email, _RECORDED[delivery.outcome], delivery.reply)
            done += 1
            if progress:
                progress(done, base.total)
    finally:
        session.close()
    return report(ledger, base, recipients, pending)


def send_one(
    issue: PersonalIssue, recipient: Recipient, config: Config, *, now: dt.datetime, secrets: Secrets
) -> Delivery:
    """One test copy, marked [TEST], recorded nowhere."""
    data = personal_message(issue, recipient, config, now=now, secret=secrets.unsubscribe, test=True)
    session = Session(config.smtp, secrets.password, config.resolve)
    try:
        return session.deliver(sender_address(config.newsletter.sender), recipient, data, lambda: None)
    finally:
        session.close()
