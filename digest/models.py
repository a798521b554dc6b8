"""The data that flows between stages. Frozen: a stage returns new values, never edits old ones."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from digest.urls import canonical_url


@dataclass(frozen=True, slots=True)
class Image:
    url: str
    credit: str | None = None
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True, slots=True)
class Item:
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
    dated_by: str = "item"  # "item", "feed" (the feed's date stood in) or "none"
    sources: tuple[str, ...] = ()  # every feed this story came from, as the user named them

    def __post_init__(self) -> None:
        if not self.canonical:
            object.__setattr__(self, "canonical", canonical_url(self.url))


@dataclass(frozen=True, slots=True)
class Feed:
    """A feed as read: where it came from and its items, in feed order."""

    source: str
    title: str
    items: tuple[Item, ...]
    language: str | None = None
    skipped: int = 0  # entries dropped for want of a usable link


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


@dataclass(frozen=True, slots=True)
class Score:
    """A story's score and its parts: (weighted page views + weighted comments) × recency decay."""

    pageviews: int
    comments: int
    decay: float  # 1.0 for a story published at the issue's moment, 0.5 one half-life earlier
    value: float


NO_SCORE = Score(0, 0, 1.0, 0.0)


@dataclass(frozen=True, slots=True)
class Pick:
    item: Item
    section: Section
    rank: int  # 1-based within its section
    score: Score
    reason: str

    @property
    def label(self) -> str | None:
        """The section label a card shows ("News"), from the item's first category."""
        return self.item.categories[0] if self.item.categories else None


@dataclass(frozen=True, slots=True)
class Decision:
    """What selection did with one story, and why: the manifest's and `--explain`'s rows."""

    item: Item
    outcome: Outcome
    reason: str
    section: Section | None = None
    score: Score = NO_SCORE


@dataclass(frozen=True, slots=True)
class PastIssue:
    number: int
    date: dt.date
    window_end: dt.datetime


@dataclass(frozen=True, slots=True)
class History:
    """What earlier issues did, as seen from the issue being built (its date excluded)."""

    number: int = 1  # this issue's number: kept on a rebuild, else one more than the last
    previous: PastIssue | None = None  # the latest issue dated before this one
    used: Mapping[str, int] = field(default_factory=dict)  # item id or canonical URL → issue number

    def used_in(self, item: Item) -> int | None:
        return self.used.get(item.id) or self.used.get(item.canonical)


@dataclass(frozen=True, slots=True)
class Selection:
    lead: Pick | None
    editors_choice: tuple[Pick, ...]
    popular: tuple[Pick, ...]
    decisions: tuple[Decision, ...] = ()

    @property
    def picks(self) -> tuple[Pick, ...]:
        lead = (self.lead,) if self.lead else ()
        return lead + self.editors_choice + self.popular


@dataclass(frozen=True, slots=True)
class Window:
    start: dt.datetime
    end: dt.datetime

    def __contains__(self, moment: dt.datetime) -> bool:
        return self.start <= moment < self.end


@dataclass(frozen=True, slots=True)
class Rendered:
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


@dataclass(frozen=True, slots=True)
class Issue:
    number: int
    date: dt.date
    slug: str
    selection: Selection
    rendered: Rendered
    window: Window


def feed_to_dict(feed: Feed) -> dict[str, Any]:
    """A JSON-ready form of a feed, for the feed cache."""
    data = asdict(feed)
    for item in data["items"]:
        item["published"] = item["published"].isoformat() if item["published"] else None
    return data


def feed_from_dict(data: dict[str, Any]) -> Feed:
    items = []
    for raw in data["items"]:
        image = Image(**raw["image"]) if raw.get("image") else None
        published = dt.datetime.fromisoformat(raw["published"]) if raw.get("published") else None
        fields = {**raw, "image": image, "published": published}
        fields["categories"] = tuple(raw["categories"])
        fields["sources"] = tuple(raw["sources"])
        items.append(Item(**fields))
    return Feed(**{**data, "items": tuple(items)})
