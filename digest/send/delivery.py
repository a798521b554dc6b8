"""The delivery loop: a built issue to every subscriber not yet sent to, resumably, never twice.

The ledger in the state database knows, for each recipient, whether the message is queued,
being sent, sent or failed. A recipient is marked 'sending' just before the message data goes
out and 'sent' as soon as the server accepts it, each in its own transaction. A rerun after
any interruption sends to the queued ones only. One that a dead run was sending is
'unconfirmed': the server may have it, so it is reported, not resent, until the editor says
(`--unconfirmed resend` or `--unconfirmed skip`). At most one copy each, and none left out
without saying so.

`smtp.connections` transports (SMTP sessions, or any `Transport`) deliver at once, each in a
thread of its own; every decision and
every ledger write is made by one `Plan` in the calling thread, which the sessions ask: what
next, may the data go now, how did it go. With one connection the session runs in the calling
thread and asks the plan directly. The run stops early, leaving everyone not sent queued, when
the relay keeps failing (`smtp.retries` connection failures in a row) or the daily limit is met.
"""

from __future__ import annotations

import datetime as dt
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from typing import Any

from msgspec import Struct, field

from digest.config import Config
from digest.config.secrets import Secrets
from digest.errors import SendError
from digest.issue_folder import PersonalIssue
from digest.models import DELIVERED, MONTHLY, Recipient, SendStatus, Unconfirmed, Variant
from digest.send.copies import Copies, IssueCopies
from digest.send.dkim import Signer
from digest.send.personalize import envelope_sender, personal_message
from digest.send.subscribers import ListReport, Subscriber
from digest.send.transport import Delivery, Maker, Outcome, Policy, Transport
from digest.send.transports import transport_maker
from digest.send.transports.smtp import to_wire
from digest.state import Ledger

MAX_BACKOFF = 300.0
EXAMPLES = 10  # recipients named per kind of trouble in the report; the rest are counted
DAY = dt.timedelta(days=1)

Progress = Callable[[int, int], None]  # (done, total)


class SendReport(Struct):
    total: int = 0  # recipients in the list (valid, not unsubscribed, one each)
    sent: int = 0  # in this run
    already_sent: int = 0
    # How many are failed, queued, unconfirmed (left to send) and suppressed (never to be sent).
    left: dict[SendStatus, int] = field(default_factory=dict)
    examples: dict[SendStatus, list[tuple[str, str]]] = field(default_factory=dict)  # some, with replies
    listed: ListReport = field(default_factory=ListReport)
    stopped: str | None = None  # why the run ended before the list did

    @property
    def failed(self) -> int:
        return self.left.get(SendStatus.FAILED, 0)

    @property
    def deferred(self) -> int:
        return self.left.get(SendStatus.QUEUED, 0)

    @property
    def unconfirmed(self) -> int:
        return self.left.get(SendStatus.UNCONFIRMED, 0)

    @property
    def suppressed(self) -> int:
        return self.left.get(SendStatus.SUPPRESSED, 0)

    @property
    def complete(self) -> bool:
        return not (self.failed or self.deferred or self.unconfirmed)

    def raise_if_incomplete(self) -> None:
        """A send that left anyone out (failed, deferred, unconfirmed) is a `SendError` (exit 6)."""
        if not self.complete:
            left = self.total - self.sent - self.already_sent - self.suppressed
            why = f"{self.stopped}; " if self.stopped else ""
            raise SendError(f"{why}{left} of {self.total} recipients not sent; a rerun resumes")

    def summary(self) -> str:
        parts = [f"{self.sent} sent", f"{self.already_sent} already sent"]
        for label, count in (
            ("failed", self.failed),
            ("deferred", self.deferred),
            ("unconfirmed", self.unconfirmed),
        ):
            if count:
                parts.append(f"{count} {label}")
        if self.suppressed:
            parts.append(f"{self.suppressed} suppressed")
        if self.listed.invalid_count:
            parts.append(f"{self.listed.invalid_count} invalid addresses skipped")
        if self.listed.skipped:
            parts.append(f"{self.listed.skipped} unsubscribed or bounced skipped")
        for name, (why, count) in sorted(self.listed.skipped_variants.items()):
            parts.append(f"{count} reader{'s' * (count != 1)} of variant {name} skipped: {why}")
        return f"{', '.join(parts)} of {self.total} recipients"


def daily_limit(limit: int | list[int], first_sent: dt.datetime | None, now: dt.datetime) -> int:
    """The messages allowed in the 24 hours up to `now` (0: no limit). A list warms a new sending
    domain up: one number a day from this state database's first send, the last one after that."""
    if isinstance(limit, int):
        return limit
    day = (now.date() - first_sent.date()).days if first_sent else 0
    return limit[min(day, len(limit) - 1)]


class Job(Struct, frozen=True):
    seq: int
    key: str
    recipient: Recipient
    not_before: float = 0.0  # when its message may start, by the rate limit (on the plan's clock)


class Plan:
    """The run's one decision maker and the ledger's one writer (used from one thread only).

    Hands out recipients in list order, paced to `smtp.rate` across all sessions; records each
    message's 'sending' before its data and its outcome after; counts connection failures in a
    row and the daily allowance, and stops the run when either runs out.
    """

    def __init__(
        self,
        ledger: Ledger,
        policy: Policy,
        *,
        total: int,
        done: int,
        progress: Progress | None,
        clock: Callable[[], float],
        wall: Callable[[], dt.datetime],
    ) -> None:
        self.ledger, self.policy, self.clock, self.wall = ledger, policy, clock, wall
        self.progress, self.total, self.done_count = progress, total, done
        self.interval = 1.0 / self.policy.rate if self.policy.rate else 0.0
        self.next_start = clock()
        self.retry: deque[Job] = deque()  # a connection failed under them: first in line again
        self.batch: deque[Job] = deque()
        self.read_to = 0  # list position of the last recipient read from the ledger
        self.failures = 0  # connection failures in a row
        self.stopped: str | None = None
        self.halted = False  # an error or Ctrl-C: no new message starts
        self.sent = 0
        now = wall()
        limit = daily_limit(self.policy.daily_limit, ledger.first_sent(), now)
        self.allowance = limit - ledger.sent_since(now - DAY) if limit else None
        self.limit = limit

    def _read(self) -> Job | None:
        if not self.batch:
            rows = self.ledger.pending(self.read_to)
            if rows:
                self.read_to = rows[-1][0]
            self.batch.extend(
                Job(seq, key, Recipient(address, name, variant)) for seq, key, address, name, variant in rows
            )
        return self.batch.popleft() if self.batch else None

    def next(self) -> Job | None:
        """The next recipient and when its message may start; None: this session is done."""
        if self.halted or self.stopped:
            self.ledger.commit()
            return None
        if self.allowance is not None and self.allowance <= 0:
            self.stopped = f"the daily limit is reached ({self.limit} in 24 hours, smtp.daily_limit)"
            return None
        job = self.retry.popleft() if self.retry else self._read()
        while job is not None and self.ledger.suppressed_now(job.key):
            self.ledger.record(job.key, SendStatus.SUPPRESSED)  # suppressed while this run went on
            job = self.retry.popleft() if self.retry else self._read()
        if job is None:
            self.ledger.commit()
            return None
        if self.allowance is not None:
            self.allowance -= 1
        start = max(self.next_start, self.clock())
        self.next_start = start + self.interval
        return Job(job.seq, job.key, job.recipient, start)

    def sending(self, job: Job) -> bool:
        """The message's data is about to go: recorded and committed first, together with the
        outcomes `done` recorded since (one commit a message). False: do not send it after all."""
        if self.halted:
            return False
        self.ledger.record(job.key, SendStatus.SENDING, attempt=True, at=self.wall())
        self.ledger.commit()
        return True

    def done(self, job: Job, delivery: Delivery) -> float | None:
        """Record how it went, committed with the next message's 'sending' (if this process dies
        in between, the message is 'unconfirmed': never sent twice, only reported). Returns how
        long the session waits before its next message (after a connection failure), or None."""
        if self.allowance is not None and delivery.outcome in (Outcome.REFUSED, Outcome.DEFERRED):
            self.allowance += 1  # nothing went out: it does not count
        if delivery.outcome is Outcome.DEFERRED:
            self.ledger.record(job.key, SendStatus.QUEUED, delivery.reply)  # this run or the next
            if delivery.connection:
                self.retry.append(job)  # the relay's fault, not the recipient's: first in line again
        else:
            status = _RECORDED[delivery.outcome]
            self.ledger.record(job.key, status, delivery.reply)
            self.done_count += 1
            if status is SendStatus.SENT:
                self.sent += 1
                self.failures = 0
            if self.progress:
                self.progress(self.done_count, self.total)
        if not delivery.connection or self.stopped:
            return None
        self.ledger.commit()  # before a pause, not after it
        self.failures += 1
        if self.failures > self.policy.retries:
            self.stopped = f"the relay failed {self.failures} times in a row, last: {delivery.reply}"
            return None
        return float(min(MAX_BACKOFF, self.policy.backoff * 2 ** (self.failures - 1)))

    def after(self, job: Job, delivery: Delivery) -> tuple[float | None, Job | None]:
        """`done`, then `next`: one question a message for a session in another thread."""
        return self.done(job, delivery), self.next()


_RECORDED = {
    Outcome.SENT: SendStatus.SENT,
    Outcome.REFUSED: SendStatus.FAILED,
    Outcome.UNCONFIRMED: SendStatus.UNCONFIRMED,
}


class _Call:
    """A session's question to the plan, and where the answer goes (a plain class: a queue)."""

    def __init__(self, name: str, args: tuple[Any, ...]) -> None:
        self.name, self.args = name, args
        self.answer: queue.Queue[Any] = queue.Queue(maxsize=1)


class _Remote:
    """A session's way to the plan from another thread: each call waits for the plan's answer."""

    def __init__(self, inbox: queue.Queue[_Call | tuple[str, BaseException | None]]) -> None:
        self.inbox = inbox

    def _ask(self, name: str, *args: Any) -> Any:
        call = _Call(name, args)
        self.inbox.put(call)
        return call.answer.get()

    def next(self) -> Job | None:
        job: Job | None = self._ask("next")
        return job

    def sending(self, job: Job) -> bool:
        go: bool = self._ask("sending", job)
        return go

    def after(self, job: Job, delivery: Delivery) -> tuple[float | None, Job | None]:
        answer: tuple[float | None, Job | None] = self._ask("after", job, delivery)
        return answer


def _deliver_all(
    plan: Plan | _Remote,
    session: Transport,
    copy_for: Callable[[Recipient], bytes],
    sender: Callable[[Recipient], str],
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> None:
    """One session's loop: ask for a recipient, wait for its turn, deliver, report, repeat."""
    try:
        job = plan.next()
        while job is not None:
            wait = job.not_before - clock()
            if wait > 0:
                sleep(wait)
            wire = copy_for(job.recipient)
            delivery = session.deliver(sender(job.recipient), job.recipient, wire, partial(plan.sending, job))
            pause, job = plan.after(job, delivery)
            if pause:
                session.drop()
                sleep(pause)
    finally:
        session.close()


def _run_sessions(
    plan: Plan,
    sessions: list[Transport],
    copy_for: Callable[[Recipient], bytes],
    sender: Callable[[Recipient], str],
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> None:
    """Several sessions in threads of their own; the plan answers them here, in this thread."""
    inbox: queue.Queue[_Call | tuple[str, BaseException | None]] = queue.Queue()
    remote = _Remote(inbox)

    def worker(session: Transport) -> None:
        error: BaseException | None = None
        try:
            _deliver_all(remote, session, copy_for, sender, sleep, clock)
        except BaseException as failure:  # handed to the main thread, which raises it
            error = failure
        inbox.put(("exit", error))

    threads = [
        threading.Thread(target=worker, args=(s,), daemon=True, name=f"smtp-{n}")
        for n, s in enumerate(sessions)
    ]
    for thread in threads:
        thread.start()
    running, errors, interrupted = len(threads), [], False
    while running:
        try:
            message = inbox.get()
        except KeyboardInterrupt:  # let the sessions finish the message they are on, then stop
            plan.halted = interrupted = True
            continue
        if isinstance(message, tuple):
            running -= 1
            if message[1] is not None:
                errors.append(message[1])
                plan.halted = True
            continue
        try:
            message.answer.put(getattr(plan, message.name)(*message.args))
        except BaseException as failure:
            plan.halted = True
            errors.append(failure)
            message.answer.put({"sending": False, "after": (None, None)}.get(message.name))
    if interrupted:
        raise KeyboardInterrupt
    if errors:
        raise errors[0]


def assigned(
    subscribers: Iterator[Subscriber], variants: Mapping[str, str | None], listed: ListReport
) -> Iterator[tuple[str, str, str, str]]:
    """Each reader with the variant they get: theirs when the issue has it (a variant chosen after
    the build gets the whole issue); the readers of a variant skipped this time are left out,
    counted in `listed` with the reason."""
    month_end = any(name.endswith(MONTHLY) for name in variants)
    for subscriber in subscribers:
        recipient = subscriber.recipient
        if subscriber.variant.monthly and not month_end:
            listed.skip_variant("monthly", "a monthly reader gets the month's last issue")
            continue
        # A variant chosen after the build: the whole issue, or the whole month's.
        whole = Variant(monthly=True).name if subscriber.variant.monthly else ""
        name = recipient.variant if recipient.variant in variants else whole
        skipped = variants.get(name, "not built with this issue") if name else None
        if skipped:
            listed.skip_variant(name, skipped)
            continue
        yield subscriber.key, recipient.email, recipient.name, name


def prepare(
    ledger: Ledger,
    subscribers: Iterator[Subscriber],
    unconfirmed: Unconfirmed | None,
    variants: Mapping[str, str | None],
    listed: ListReport,
) -> int:
    """Take the list into the ledger (queueing those it does not know), find what a dead run
    left 'sending' (now 'unconfirmed'), settle those as the editor said. Returns the list's size."""
    total = ledger.take_list(assigned(subscribers, variants, listed))
    ledger.interrupted()
    if unconfirmed is Unconfirmed.RESEND:
        ledger.settle_unconfirmed(SendStatus.QUEUED)
    elif unconfirmed is Unconfirmed.SKIP:
        ledger.settle_unconfirmed(SendStatus.ASSUMED_SENT)
    return total


def send_issue(
    issue: PersonalIssue,
    subscribers: Iterator[Subscriber],
    listed: ListReport,
    ledger: Ledger,
    config: Config,
    *,
    now: dt.datetime,
    secrets: Secrets,
    unconfirmed: Unconfirmed | None = None,
    progress: Progress | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    wall: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    transport: Maker | None = None,
    signer: Signer | None = None,
) -> SendReport:
    """Send `issue` to every subscriber the ledger has not seen sent, over `smtp.connections`
    transports (SMTP unless `transport` makes others). `listed` fills as `subscribers` is read.
    Returns the report, read from the ledger.

    `now` is the messages' Date; `wall` the clock the daily limit counts by; `clock` and
    `sleep` pace the messages (tests give their own). `signer`: each copy DKIM-signed.
    """
    total = prepare(ledger, subscribers, unconfirmed, issue.variants, listed)
    before = ledger.counts()
    already = sum(before.get(s, 0) for s in DELIVERED)
    policy = Policy.of(config.smtp)
    plan = Plan(ledger, policy, total=total, done=already, progress=progress, clock=clock, wall=wall)
    copies = IssueCopies(
        issue, partial(Copies, config=config, now=now, secret=secrets.unsubscribe, signer=signer)
    )
    sender = envelope_sender(config, secrets.unsubscribe)
    make = transport or transport_maker()
    sessions = [make(config, secrets.password) for _ in range(policy.connections)]
    try:
        if len(sessions) == 1:
            _deliver_all(plan, sessions[0], copies.wire, sender, sleep, clock)
        else:
            _run_sessions(plan, sessions, copies.wire, sender, sleep, clock)
    finally:
        ledger.commit()  # the last outcomes, however the run ends
    counts = ledger.counts()
    left = {s: counts.get(s, 0) for s in (SendStatus.FAILED, SendStatus.QUEUED, SendStatus.UNCONFIRMED)}
    return SendReport(
        total=total,
        sent=plan.sent,
        already_sent=already,
        left={
            s: n
            for s, n in (*left.items(), (SendStatus.SUPPRESSED, counts.get(SendStatus.SUPPRESSED, 0)))
            if n
        },
        examples={s: ledger.examples(s, EXAMPLES) for s, n in left.items() if n},
        listed=listed,
        stopped=plan.stopped,
    )


def send_one(
    issue: PersonalIssue,
    recipient: Recipient,
    config: Config,
    *,
    now: dt.datetime,
    secrets: Secrets,
    transport: Maker | None = None,
    signer: Signer | None = None,
    headers: Mapping[str, str] | None = None,
) -> Delivery:
    """One test copy, marked [TEST], recorded nowhere (signed as every copy is); `headers` go on
    top of it (what tells this copy from any other, for whoever looks for it)."""
    data = personal_message(issue, recipient, config, now=now, secret=secrets.unsubscribe, test=True)
    data = b"".join(f"{name}: {value}\r\n".encode() for name, value in (headers or {}).items()) + data
    if signer:
        data = signer.sign(data)
    session = (transport or transport_maker())(config, secrets.password)
    try:
        sender = envelope_sender(config, secrets.unsubscribe)
        return session.deliver(sender(recipient), recipient, to_wire(data), lambda: True)
    finally:
        session.close()
