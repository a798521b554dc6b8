"""The select stage: lead story, editor's choice and popular, each decision with its reason.

The rules, in the order they apply (README, "How stories are picked"):
1. Pins always go in: the pinned lead, then the editor's picks, in the editor's order,
   whatever their date, the rules or earlier issues.
2. Other stories are candidates when they were published in the window (undated ones
   count as new), are not in an earlier issue, and pass the include/exclude rules.
3. Lead, if none is pinned: the best-scoring candidate in `lead_categories`, else the
   best-scoring candidate (with an image first, if `lead_prefer_image`).
4. Editor's choice: the picks, then candidates in `editors_choice_categories`, newest
   first, up to `editors_choice_size`.
5. Popular: candidates by score, up to `popular_size`.
6. A story appears once (lead beats editor's choice beats popular, and the next
   candidate takes the freed place); `max_per_source` caps the stories of one feed.
Every order ends in a total order (score, date, id): the same inputs give the same issue.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence

from msgspec import Struct
from msgspec.structs import replace

from digest.config import SelectionConfig, TopicConfig
from digest.models import Decision, History, Item, Outcome, Pick, Score, Section, Selection, Window
from digest.selection.filters import exclusion, outside_topics
from digest.selection.picks import NO_PICKS, Picks
from digest.selection.scoring import score
from digest.urls import canonical_url, is_url


class Choice(Struct, frozen=True):
    selection: Selection
    warnings: tuple[str, ...]
    new: int  # candidates: stories in the window, not sent before, not excluded (pins aside)


FIRST_ISSUE = History()


def issue_window(now: dt.datetime, config: SelectionConfig, history: History = FIRST_ISSUE) -> Window:
    previous = history.previous
    if config.window == "since-last-issue" and previous is not None and previous.window_end < now:
        return Window(start=previous.window_end, end=now)
    return Window(start=now - dt.timedelta(days=config.window_days), end=now)


def _timestamp(item: Item) -> float:
    return item.published.timestamp() if item.published else float("inf")  # undated: newest


def _span(window: Window) -> str:
    return f"{window.start:%Y-%m-%d %H:%M} to {window.end:%Y-%m-%d %H:%M} UTC"


def _has_category(item: Item, wanted: Sequence[str]) -> str | None:
    folded = {w.casefold(): w for w in wanted}
    return next((folded[c.casefold()] for c in item.categories if c.casefold() in folded), None)


class _Run:
    """One selection: the bookkeeping shared by the sections (what is used, per-source counts)."""

    def __init__(
        self,
        items: Sequence[Item],
        pageviews: Mapping[str, int],
        config: SelectionConfig,
        window: Window,
        now: dt.datetime,
        history: History,
        topics: Mapping[str, TopicConfig],
    ) -> None:
        self.items, self.config, self.window, self.history = items, config, window, history
        self.topics = topics
        self.scores = {item.id: score(item, pageviews, config.weights, now) for item in items}
        self.used: set[str] = set()
        self.per_source: Counter[str] = Counter()
        self.also: dict[str, list[str]] = {}  # id → other sections a picked story qualified for
        self.demoted: dict[str, str] = {}
        self.decisions: dict[str, Decision] = {}
        self.warnings: list[str] = []
        self.index: dict[str, Item] = {}
        for item in reversed(items):  # first occurrence wins
            for key in (item.id, item.url, item.canonical):
                self.index[key] = item

    def score(self, item: Item) -> Score:
        return self.scores[item.id]

    def order(self, item: Item) -> tuple[float, float, str]:
        return (-self.score(item).value, -_timestamp(item), item.id)

    def find(self, pin: str) -> Item | None:
        found = self.index.get(pin) or (self.index.get(canonical_url(pin)) if is_url(pin) else None)
        if found is None:
            self.warnings.append(f"pinned story {pin} is in no feed")
        return found

    def fits(self, item: Item) -> bool:
        """Within its source's quota; a story that is not is remembered as demoted."""
        limit = self.config.max_per_source
        source = item.sources[0] if item.sources else ""
        if limit and self.per_source[source] >= limit:
            self.demoted[item.id] = f"{source} already has {limit} stories in the issue (max_per_source)"
            return False
        return True

    def take(self, item: Item, section: Section, reason: str, rank: int) -> Pick:
        self.used.add(item.id)
        self.per_source[item.sources[0] if item.sources else ""] += 1
        return Pick(item, section, rank, self.score(item), reason)

    def screen(self) -> list[Item]:
        """The candidates; every other story gets its decision here (a pin's is replaced later)."""
        candidates = []
        for item in self.items:
            if item.published is not None and item.published not in self.window:
                why = f"published {item.published:%Y-%m-%d %H:%M}; the window is {_span(self.window)}"
                self.decide(item, Outcome.OUT_OF_WINDOW, why)
            elif (number := self.history.used_in(item)) is not None:
                self.decide(item, Outcome.ALREADY_SENT, f"in issue #{number}")
            elif (rule := self.excluded(item)) is not None:
                self.decide(item, Outcome.EXCLUDED, rule)
            else:
                candidates.append(item)
        return candidates

    def excluded(self, item: Item) -> str | None:
        """Why the editor's rules, or the variant's topics, leave `item` out; None: they let it in."""
        return exclusion(item, self.config) or (outside_topics(item, self.topics) if self.topics else None)

    def decide(self, item: Item, outcome: Outcome, reason: str, section: Section | None = None) -> None:
        self.decisions[item.id] = Decision(item, outcome, reason, section, self.score(item))


def _pinned_note(run: _Run, item: Item) -> str:
    if item.published is not None and item.published not in run.window:
        return " (outside the window, but pinned)"
    number = run.history.used_in(item)
    return f" (in issue #{number} already, but pinned)" if number is not None else ""


def _lead(run: _Run, pinned: Item | None, reserved: set[str], candidates: list[Item]) -> Pick | None:
    """The lead: the pin, else chosen by the rules among candidates not pinned elsewhere."""
    config = run.config
    if pinned is not None:
        return run.take(pinned, Section.LEAD, f"pinned as lead{_pinned_note(run, pinned)}", 1)
    candidates = [c for c in candidates if c.id not in reserved]
    pool, why = candidates, "best score in the window"
    in_category = [c for c in candidates if _has_category(c, config.lead_categories)]
    if in_category:
        pool, why = in_category, f"best score in lead_categories ({', '.join(config.lead_categories)})"
    if config.lead_prefer_image and any(c.image for c in pool):
        pool, why = [c for c in pool if c.image], why + ", with an image"
    if not pool:
        return None
    top = min(pool, key=run.order)
    return run.take(top, Section.LEAD, why, 1)


def _editors_choice(run: _Run, pinned: list[Item], candidates: list[Item]) -> list[Pick]:
    config = run.config
    chosen: list[Pick] = []
    for item in pinned:
        if item.id in run.used:
            continue
        reason = f"picked by the editor, #{len(chosen) + 1}{_pinned_note(run, item)}"
        chosen.append(run.take(item, Section.EDITORS_CHOICE, reason, len(chosen) + 1))
    if len(chosen) > config.editors_choice_size:
        run.warnings.append(
            f"{len(chosen)} editor's picks, more than editors_choice_size ({config.editors_choice_size}):"
            " all are shown"
        )
    tagged = [c for c in candidates if _has_category(c, config.editors_choice_categories)]
    for item in sorted(tagged, key=lambda i: (-_timestamp(i), i.id)):
        category = _has_category(item, config.editors_choice_categories)
        if item.id in run.used:
            run.also.setdefault(item.id, []).append(f"in category '{category}'")
        elif len(chosen) >= config.editors_choice_size:
            why = f"in category '{category}', beyond editors_choice_size ({config.editors_choice_size})"
            run.decide(item, Outcome.NOT_RANKED, why, Section.EDITORS_CHOICE)
        elif run.fits(item):
            reason = f"in category '{category}', #{len(chosen) + 1} newest"
            chosen.append(run.take(item, Section.EDITORS_CHOICE, reason, len(chosen) + 1))
    return chosen


def _popular(run: _Run, candidates: list[Item]) -> list[Pick]:
    popular: list[Pick] = []
    passed = 0  # stories ranked above the next pick but shown in a higher section
    for position, item in enumerate(sorted(candidates, key=run.order), start=1):
        if len(popular) >= run.config.popular_size:
            break
        if item.id in run.used:
            run.also.setdefault(item.id, []).append(f"#{position} by score")
            passed += 1
            continue
        if not run.fits(item):
            continue
        reason = f"#{position} by score"
        if passed:
            reason += f"; moved up past {passed} stor{'y' if passed == 1 else 'ies'} shown above"
        popular.append(run.take(item, Section.POPULAR, reason, len(popular) + 1))
    return popular


def select(
    items: Sequence[Item],
    *,
    pageviews: Mapping[str, int],
    config: SelectionConfig,
    window: Window,
    now: dt.datetime,
    picks: Picks = NO_PICKS,
    history: History = FIRST_ISSUE,
    topics: Mapping[str, TopicConfig] | None = None,
) -> Choice:
    """Choose the issue's stories. `items` are unique by id (normalize.merge_duplicates).
    `topics`: a variant's, whose stories alone are candidates (pins always go in)."""
    run = _Run(items, pageviews, config, window, now, history, topics or {})
    lead_pin = run.find(picks.lead) if picks.lead else None
    pinned_picks = [item for pin in picks.editors_choice if (item := run.find(pin)) is not None]
    candidates = run.screen()
    lead = _lead(run, lead_pin, {item.id for item in pinned_picks}, candidates)
    editors = _editors_choice(run, pinned_picks, candidates)
    popular = _popular(run, candidates)

    def noted(pick: Pick) -> Pick:
        also = run.also.get(pick.item.id)
        return (
            replace(pick, reason=f"{pick.reason}; also {' and '.join(also)}: shown once, here")
            if also
            else pick
        )

    lead = noted(lead) if lead else None
    editors = [noted(p) for p in editors]
    for pick in ([lead] if lead else []) + editors + popular:
        run.decide(pick.item, Outcome.PICKED, pick.reason, pick.section)
    for item in candidates:
        if item.id not in run.decisions:
            if item.id in run.demoted:
                run.decide(item, Outcome.DEMOTED, run.demoted[item.id])
            else:
                run.decide(item, Outcome.NOT_RANKED, "below the cut: popular is full")
    decisions = tuple(run.decisions[item.id] for item in items if item.id in run.decisions)
    selection = Selection(lead, tuple(editors), tuple(popular), decisions)
    return Choice(selection, tuple(dict.fromkeys(run.warnings)), len(candidates))


def drop_last(selection: Selection, reason: str) -> Selection:
    """The selection without its lowest-ranked story: the last popular one, else the last editor's
    choice (used to bring an issue under a size budget). The lead is never dropped."""
    popular, editors = list(selection.popular), list(selection.editors_choice)
    gone = popular.pop() if popular else editors.pop()
    decisions = tuple(
        replace(d, outcome=Outcome.DEMOTED, reason=reason, section=None) if d.item.id == gone.item.id else d
        for d in selection.decisions
    )
    return Selection(selection.lead, tuple(editors), tuple(popular), decisions)
