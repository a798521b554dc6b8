"""What each message in the feedback mailbox does to the suppression list.

Whatever a stranger can write to the mailbox, only feedback about a copy digest sent counts (the
README's "Trust"). A bounce or complaint counts when it is traced to a copy in the send ledger:
by the VERP token of the address it came back to (with `feedback.return_path`; a token digest
never issued is forged, and the message is left), else by the Message-ID of a copy it quotes,
which the ledger confirms (issue and recipient; keyed with the unsubscribe secret, so it cannot
be made up from an address). It suppresses that copy's recipient, whatever address the report
names. A hard bounce or a complaint suppresses at once; a soft bounce counts for its issue and
suppresses after `feedback.soft_bounce_limit` issues. A mailed unsubscribe request suppresses
when its token is one digest gave a copy. Every message handled is filed as processed; anything
else stays where it was, unread, for a person. Each message is read on its own: one that is
too large, is not a file, or cannot be parsed is left and named, and the rest goes on.
Everything recorded is recorded once, so reading the same mail twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable

from msgspec import Struct, field

from digest.feedback.classify import classify, parse
from digest.feedback.mailbox import Mailbox
from digest.feedback.tokens import (
    Copies,
    Tokens,
    address_pattern,
    addressed_token,
    mailto_address,
    request_tokens,
)
from digest.models import FeedbackEvent, FeedbackKind, Suppression, SuppressionReason, SuppressionSource
from digest.state import State

_log = logging.getLogger("digest.feedback")
_REASONS = {
    FeedbackKind.HARD_BOUNCE: SuppressionReason.HARD_BOUNCE,
    FeedbackKind.SOFT_BOUNCE: SuppressionReason.SOFT_BOUNCES,
    FeedbackKind.COMPLAINT: SuppressionReason.COMPLAINT,
    FeedbackKind.UNSUBSCRIBE: SuppressionReason.UNSUBSCRIBED,
}
NAMED = 3  # messages left unread that the summary names; the rest are counted


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


class FeedbackReport(Struct):
    counts: Counter[FeedbackKind] = field(default_factory=Counter)
    suppressed: int = 0
    unverified: int = 0  # unsubscribe requests without a token of ours: left for a person
    untraced: int = 0  # bounces and complaints about no copy digest sent: left for a person
    left: int = 0  # messages that are none of these, left where they were
    unread: list[tuple[str, str]] = field(default_factory=list)  # (key, why): too large, unparsable…

    def summary(self) -> str:
        bounces = self.counts[FeedbackKind.HARD_BOUNCE] + self.counts[FeedbackKind.SOFT_BOUNCE]
        soft = self.counts[FeedbackKind.SOFT_BOUNCE]
        line = (
            f"feedback: {_count(bounces, 'bounce')}{f' ({soft} soft)' if soft else ''},"
            f" {_count(self.counts[FeedbackKind.COMPLAINT], 'complaint')},"
            f" {_count(self.counts[FeedbackKind.UNSUBSCRIBE], 'unsubscribe')};"
            f" {self.suppressed} suppressed"
        )
        if self.unverified:
            line += f"; {_count(self.unverified, 'unsubscribe request')} not verified (left unread)"
        if self.untraced:
            line += f"; {_count(self.untraced, 'report')} about no copy we sent (left unread)"
        if self.left:
            line += f"; {_count(self.left, 'other message')} left"
        if self.unread:
            named = ", ".join(f"{key} ({why})" for key, why in self.unread[:NAMED])
            more = f", and {len(self.unread) - NAMED} more" if len(self.unread) > NAMED else ""
            line += f"; {_count(len(self.unread), 'message')} not read: {named}{more}"
        return line


class Rules(Struct, frozen=True):
    """What reading feedback needs besides the mail: pure data, and the token lookup."""

    now: dt.datetime
    soft_limit: int
    tokens: Tokens  # the VERP and mailto tokens digest gave
    copies: Copies  # the copies the ledger knows, by the Message-ID they were sent with
    # The issue a bounce traced by VERP alone is counted for: the latest that went to its address.
    last_mailed: Callable[[str], int | None] = lambda _: None
    unsubscribe_to: str | None = None  # List-Unsubscribe's mailto URL
    return_path: str | None = None  # feedback.return_path, with {token}


class Reading(Struct, frozen=True):
    """What one message is: the events it brings, or why it is left where it is."""

    events: tuple[FeedbackEvent, ...] = ()
    kind: FeedbackKind | None = None
    left: str | None = None  # None: handled; else "unverified", "untraced" or "other"


def read_message(raw: bytes, rules: Rules) -> Reading:
    """One message, understood (no side effect: the state is not touched)."""
    message = parse(raw)
    verdict = classify(message)
    if verdict.kind is None and rules.unsubscribe_to:
        ours, in_address = addressed_token(message, address_pattern(mailto_address(rules.unsubscribe_to)))
        if ours:
            owners = {o for t in request_tokens(message, in_address) if (o := rules.tokens.owner(t))}
            if not owners:
                return Reading(left="unverified")
            kind = FeedbackKind.UNSUBSCRIBE
            return Reading(
                tuple(FeedbackEvent(0, o, kind, rules.now, "mailto") for o in sorted(owners)), kind
            )
    if verdict.kind is None:
        return Reading(left="other")
    copy = rules.copies.quoted(raw)
    owner = copy[1] if copy else None
    if rules.return_path and verdict.kind is not FeedbackKind.COMPLAINT:
        _, verp = addressed_token(message, address_pattern(rules.return_path))
        if verp:  # came back to a VERP address: its token decides, and only a token we gave
            owner = rules.tokens.owner(verp)
    if owner is None:
        return Reading(kind=verdict.kind, left="untraced")
    issue = copy[0] if copy and copy[1] == owner else rules.last_mailed(owner)
    if issue is None:
        return Reading(kind=verdict.kind, left="untraced")
    return Reading((FeedbackEvent(issue, owner, verdict.kind, rules.now, verdict.detail),), verdict.kind)


def apply(reading: Reading, state: State, rules: Rules) -> int:
    """Record a message's events and suppress whom they call for; returns how many are new."""
    entries = []
    for event in reading.events:
        times = state.record_feedback(event)
        if event.kind is FeedbackKind.SOFT_BOUNCE and times < rules.soft_limit:
            continue
        entries.append(
            Suppression(event.email, _REASONS[event.kind], SuppressionSource.MAILBOX, event.at, event.detail)
        )
    return state.suppress(entries)


def process(box: Mailbox, state: State, rules: Rules, max_bytes: int) -> FeedbackReport:
    report = FeedbackReport()
    for key, raw in box.messages(max_bytes):
        if isinstance(raw, str):  # not read: why
            report.unread.append((key, raw))
            continue
        try:
            reading = read_message(raw, rules)
        except Exception as error:  # a stranger's message must never stop the rest (or a send)
            _log.debug("message %s could not be read", key, exc_info=True)
            report.unread.append((key, f"cannot be read: {type(error).__name__}"))
            continue
        if reading.left == "unverified":
            report.unverified += 1
        elif reading.left == "untraced":
            report.untraced += 1
        elif reading.left:
            report.left += 1
        elif reading.kind:
            report.counts[reading.kind] += 1
            report.suppressed += apply(reading, state, rules)
            box.file(key)
    return report
