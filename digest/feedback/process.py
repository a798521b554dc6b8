"""What each message in the feedback mailbox does to the suppression list.

A hard bounce, a complaint, or a mailed unsubscribe request whose token verifies suppresses at
once; a soft bounce is counted for its issue (found from the Message-ID digest gave the copy,
which bounces and complaints quote) and suppresses after `feedback.soft_bounce_limit` issues.
With VERP, the token in the address a bounce came back to names the subscriber, whatever the
report says. Every message handled is filed as processed; anything else (an auto-reply, a
reader's letter, a request whose token does not verify) stays where it was, unread, for a person
to read. Everything recorded is recorded once, so reading the same mail twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter

from msgspec import Struct, field

from digest.feedback.classify import classify, parse
from digest.feedback.mailbox import Mailbox
from digest.feedback.tokens import Tokens, address_pattern, addressed_token, mailto_address, request_tokens
from digest.models import FeedbackEvent, FeedbackKind, Suppression, SuppressionReason, SuppressionSource
from digest.state import State

_OUR_MESSAGE_ID = re.compile(rb"<digest\.(\d+)\.[^.\s>]+\.")
_REASONS = {
    FeedbackKind.HARD_BOUNCE: SuppressionReason.HARD_BOUNCE,
    FeedbackKind.SOFT_BOUNCE: SuppressionReason.SOFT_BOUNCES,
    FeedbackKind.COMPLAINT: SuppressionReason.COMPLAINT,
    FeedbackKind.UNSUBSCRIBE: SuppressionReason.UNSUBSCRIBED,
}


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


class FeedbackReport(Struct):
    counts: Counter[FeedbackKind] = field(default_factory=Counter)
    suppressed: int = 0
    unverified: int = 0  # unsubscribe requests without a token of ours: left for a person
    untraced: int = 0  # bounces that name nobody, without a VERP token: left for a person
    left: int = 0  # messages that are none of these, left where they were

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
            line += f"; {_count(self.untraced, 'bounce')} naming nobody (left unread)"
        if self.left:
            line += f"; {_count(self.left, 'other message')} left"
        return line


class Rules(Struct, frozen=True):
    """What reading feedback needs besides the mail: pure data, and the token lookup."""

    now: dt.datetime
    soft_limit: int
    tokens: Tokens
    # The issue a bounce is counted for when it quotes no Message-ID of ours: most come back
    # within hours of the latest send.
    latest_issue: int = 0
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
    found = _OUR_MESSAGE_ID.search(raw)
    issue = int(found.group(1)) if found else rules.latest_issue
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
    addresses = verdict.addresses
    if rules.return_path and verdict.kind is not FeedbackKind.COMPLAINT:
        _, verp = addressed_token(message, address_pattern(rules.return_path))
        owner = rules.tokens.owner(verp) if verp else None
        if owner:  # the copy went to this subscriber, whatever address the report names
            addresses = (owner,)
    if not addresses:
        return Reading(kind=verdict.kind, left="untraced")
    return Reading(
        tuple(FeedbackEvent(issue, a, verdict.kind, rules.now, verdict.detail) for a in addresses),
        verdict.kind,
    )


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


def process(box: Mailbox, state: State, rules: Rules) -> FeedbackReport:
    report = FeedbackReport()
    for key, raw in box.messages():
        reading = read_message(raw, rules)
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
