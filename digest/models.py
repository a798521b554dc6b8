"""The data that flows between stages. Frozen: a stage returns new values, never edits old ones.

Every record digest passes around, here and in each stage, is a `msgspec.Struct` rather than a
dataclass: the same frozen, slotted, comparable value, but created at import in a thirtieth of
the time (a stdlib dataclass compiles its generated methods with `exec`, ≈ 4 M instructions a
class; a cold build creates some fifty of them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

import msgspec
from msgspec import Struct, field
from msgspec.structs import force_setattr

from digest.urls import canonical_url


class Image(Struct, frozen=True):
    url: str
    credit: str | None = None
    width: int | None = None
    height: int | None = None


class DatedBy(StrEnum):
    """Where a story's date came from."""

    ITEM = "item"
    FEED = "feed"  # the entry had none: the feed's own date stood in
    NONE = "none"  # neither had one: the story counts as new


class Item(Struct, frozen=True):
    """One story, normalized from whatever feed format it came in."""

    id: str  # the guid, else the canonical URL
    url: str  # absolute http(s), as the feed gave it: the link readers follow
    title: str
    summary: str  # plain text, paragraphs separated by a blank line; the templates escape it
    published: dt.datetime | None  # always timezone-aware when set
    canonical: str = ""  # identity across feeds and against analytics (no tracking parameters)
    categories: tuple[str, ...] = ()
    author: str | None = None
    source_line: str | None = None  # "commonground.example with agencies"
    image: Image | None = None
    comments: int | None = None
    language: str | None = None
    dated_by: DatedBy = DatedBy.ITEM
    sources: tuple[str, ...] = ()  # every feed this story came from, as the user named them

    def __post_init__(self) -> None:
        if not self.canonical:
            force_setattr(self, "canonical", canonical_url(self.url))


class Feed(Struct, frozen=True):
    """A feed as read: where it came from and its items, in feed order."""

    source: str
    title: str
    items: tuple[Item, ...]
    language: str | None = None
    skipped: int = 0  # entries dropped for want of a usable link


class SourceStatus(StrEnum):
    OK = "ok"
    NOT_MODIFIED = "not_modified"  # a 304: served from the feed cache
    FAILED = "failed"


class SourceReport(Struct, frozen=True):
    """How reading one source went: the manifest's `sources` rows and the build's warnings."""

    source: str
    status: SourceStatus
    items: int = 0
    title: str | None = None
    error: str | None = None
    via: str | None = None  # the OPML list that named it
    skipped: int = 0  # entries without a usable link


class Section(StrEnum):
    LEAD = "lead"
    EDITORS_CHOICE = "editors_choice"
    POPULAR = "popular"


class Outcome(StrEnum):
    PICKED = "picked"
    NOT_RANKED = "not_ranked"  # a candidate that did not make the cut
    DEMOTED = "demoted"  # made the cut, but its source had filled its quota
    EXCLUDED = "excluded"  # by an include/exclude rule
    ALREADY_SENT = "already_sent"  # in an earlier issue
    OUT_OF_WINDOW = "out_of_window"


class Score(Struct, frozen=True):
    """A story's score and its parts: (weighted page views + weighted comments) × recency decay."""

    pageviews: int
    comments: int
    decay: float  # 1.0 for a story published at the issue's moment, 0.5 one half-life earlier
    value: float


NO_SCORE = Score(0, 0, 1.0, 0.0)


class Pick(Struct, frozen=True):
    item: Item
    section: Section
    rank: int  # 1-based within its section
    score: Score
    reason: str

    @property
    def label(self) -> str | None:
        """The section label a card shows ("News"), from the item's first category."""
        return self.item.categories[0] if self.item.categories else None


class Decision(Struct, frozen=True):
    """What selection did with one story, and why: the manifest's and `--explain`'s rows."""

    item: Item
    outcome: Outcome
    reason: str
    section: Section | None = None
    score: Score = NO_SCORE


class PastIssue(Struct, frozen=True):
    number: int
    date: dt.date
    window_end: dt.datetime


class History(Struct, frozen=True):
    """What earlier issues did, as seen from the issue being built (its date excluded)."""

    number: int = 1  # this issue's number: kept on a rebuild, else one more than the last
    previous: PastIssue | None = None  # the latest issue dated before this one
    used: Mapping[str, int] = field(default_factory=dict)  # item id or canonical URL → issue number

    def used_in(self, item: Item) -> int | None:
        return self.used.get(item.id) or self.used.get(item.canonical)


class Selection(Struct, frozen=True):
    lead: Pick | None
    editors_choice: tuple[Pick, ...]
    popular: tuple[Pick, ...]
    decisions: tuple[Decision, ...] = ()

    @property
    def picks(self) -> tuple[Pick, ...]:
        lead = (self.lead,) if self.lead else ()
        return lead + self.editors_choice + self.popular


class Window(Struct, frozen=True):
    start: dt.datetime
    end: dt.datetime

    def __contains__(self, moment: dt.datetime) -> bool:
        return self.start <= moment < self.end


def issue_moment(date: dt.date) -> dt.datetime:
    """An issue dated D covers the stories published before D began (UTC)."""
    return dt.datetime.combine(date, dt.time.min, tzinfo=dt.UTC)


class Rendered(Struct, frozen=True):
    subject: str
    preheader: str
    html: str
    text: str
    view_online_url: str | None = None  # the footer's links as sent, placeholders filled in
    unsubscribe_url: str | None = None
    mjml: str = ""  # the source mjml-python rendered: for validators and for debugging a theme
    # The same parts with markers where each subscriber's greeting and unsubscribe link go.
    personal_html: str = ""
    personal_text: str = ""
    personal_unsubscribe_url: str | None = None  # with {email} and {token} still to fill


class Issue(Struct, frozen=True):
    number: int
    date: dt.date
    slug: str
    selection: Selection
    rendered: Rendered
    window: Window


class IssueSummary(Struct, frozen=True):
    """A past issue as `digest history` and `digest archive` list it."""

    number: int
    date: dt.date
    subject: str
    folder: Path
    items: int
    sent: int  # recipients the ledger has as sent
    recipients: int  # recipients in the ledger (0: never sent)
    suppressed: int = 0  # of those, on the suppression list: never mailed
    bounces: int = 0  # addresses whose copy bounced (hard or soft), from the feedback mailbox
    complaints: int = 0
    by_variant: dict[str, int] = {}  # copies sent of each variant ("": the whole issue), when it had any

    def variants_line(self) -> str | None:
        """ "all 120, analysis 30, analysis.fr 12": what went out of each variant, when there were some."""
        if set(self.by_variant) <= {""}:
            return None
        return ", ".join(f"{name or 'all'} {count}" for name, count in sorted(self.by_variant.items()))

    def rate(self, count: int) -> float | None:
        """`count` as a share of the copies delivered (None before any)."""
        return count / self.sent if self.sent else None

    @property
    def warnings(self) -> list[str]:
        """The rates that passed the providers' thresholds."""
        found = []
        for label, count, limit in (
            ("bounce", self.bounces, BOUNCE_RATE_LIMIT),
            ("complaint", self.complaints, COMPLAINT_RATE_LIMIT),
        ):
            rate = self.rate(count)
            if rate is not None and rate > limit:
                found.append(f"{label} rate {rate:.1%} is above {limit:.1%}")
        return found

    @property
    def send_status(self) -> str:
        if not self.recipients:
            return "not sent"
        to_mail = self.recipients - self.suppressed
        status = "sent" if self.sent == to_mail else f"{self.sent} of {to_mail} sent"
        return f"{status}, {self.suppressed} suppressed" if self.suppressed else status


class Recipient(Struct, frozen=True):
    email: str
    name: str = ""
    variant: str = ""  # the name of the issue's variant this reader gets ("": the whole issue)


MONTHLY = ".monthly"  # the end of a monthly variant's name


class Variant(Struct, frozen=True, order=True):
    """One version of an issue: the stories of some topics (none named: every story), in one
    language ("": the newsletter's own), for weekly or monthly readers. A reader gets exactly
    one, by their list columns."""

    topics: tuple[str, ...] = ()  # sorted, each named in [segments.topics]
    language: str = ""
    monthly: bool = False  # built with the month's last issue, from the whole month's stories

    @property
    def name(self) -> str:
        """The variant's folder and label: "all", "economy+security", "all.fr", "economy.fr",
        "all.monthly", "economy.fr.monthly"."""
        base = "+".join(self.topics) or "all"
        named = f"{base}.{self.language}" if self.language else base
        return f"{named}{MONTHLY}" if self.monthly else named


WHOLE = Variant()  # every story in the newsletter's language: the issue folder itself


class SendStatus(StrEnum):
    """A recipient's line in the send ledger.

    queued → sending → sent, or failed (a permanent refusal). A run that dies during delivery
    leaves `sending`, which the next run turns into `unconfirmed`: the editor settles it as
    `queued` (resend) or `assumed_sent` (skip).
    """

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    UNCONFIRMED = "unconfirmed"
    ASSUMED_SENT = "assumed_sent"
    SUPPRESSED = "suppressed"  # on the suppression list: never mailed


class Unconfirmed(StrEnum):
    """What to do with recipients an interrupted run may or may not have reached."""

    RESEND = "resend"  # the only way digest sends anyone a second copy: after a look at the server's log
    SKIP = "skip"  # assume they got it


class SuppressionReason(StrEnum):
    UNSUBSCRIBED = "unsubscribed"
    HARD_BOUNCE = "hard_bounce"
    SOFT_BOUNCES = "soft_bounces"  # temporary failures, on enough different issues
    COMPLAINT = "complaint"
    MANUAL = "manual"
    IMPORTED = "imported"  # from another system's list, reason unknown


class SuppressionSource(StrEnum):
    ENDPOINT = "endpoint"  # the one-click unsubscribe endpoint
    MAILBOX = "mailbox"  # the feedback mailbox: bounces, complaints, mailto unsubscribes
    COMMAND = "command"  # digest subscribers suppress
    FILE = "file"  # digest subscribers import


class Suppression(Struct, frozen=True):
    """An address never to be mailed again, and why: where it came from, when, what was said."""

    email: str  # normalized
    reason: SuppressionReason
    source: SuppressionSource
    at: dt.datetime
    detail: str = ""  # the server's status or text, the file it came from, a note


class FeedbackKind(StrEnum):
    """What a reader's mail server or the reader sent back about a copy."""

    HARD_BOUNCE = "hard_bounce"
    SOFT_BOUNCE = "soft_bounce"
    COMPLAINT = "complaint"
    UNSUBSCRIBE = "unsubscribe"  # a request mailed to List-Unsubscribe's mailto address


class FeedbackEvent(Struct, frozen=True):
    issue: int  # the issue the copy was of (the latest when the mail does not say; 0: none)
    email: str  # normalized
    kind: FeedbackKind
    at: dt.datetime
    detail: str = ""


DELIVERED = (SendStatus.SENT, SendStatus.ASSUMED_SENT)
# Where mailbox providers start to act on a sender (Amazon SES reviews an account at 5 % bounces;
# Gmail and Yahoo want complaints well under 0.3 %, and 0.1 % is the line they advise to stay under).
BOUNCE_RATE_LIMIT = 0.05
COMPLAINT_RATE_LIMIT = 0.001


def feed_to_dict(feed: Feed) -> dict[str, Any]:
    """A JSON-ready form of a feed, for the feed cache and the issue's snapshot."""
    data: dict[str, Any] = msgspec.to_builtins(feed)
    return data


def feed_from_dict(data: dict[str, Any]) -> Feed:
    return msgspec.convert(data, Feed)
