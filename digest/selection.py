"""The select stage: lead story, editor's choice and popular, each pick with the reason for it.

Rules (first version; see README "How stories are picked"):
- only items published inside the window count (and undated ones), except a pinned lead;
- lead: the pinned story (`selection.lead`), else the highest score
  (page views + comment_weight × comments);
- editor's choice: items in the configured category, newest first;
- popular: by page views;
- a story appears once: lead beats editor's choice beats popular, and the next
  candidate takes the freed place.
Every tie is broken by a total order (score, then date, then id), so the same
inputs always give the same issue.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import replace

from digest.config import SelectionConfig
from digest.models import Decision, Item, Outcome, Pick, Section, Selection, Window

SECTION_NAMES = {
    Section.LEAD: "lead story",
    Section.EDITORS_CHOICE: "editor's choice",
    Section.POPULAR: "popular",
}


def issue_window(now: dt.datetime, days: int) -> Window:
    return Window(start=now - dt.timedelta(days=days), end=now)


def _timestamp(item: Item) -> float:
    return item.published.timestamp() if item.published else float("-inf")


def _fmt(number: float) -> str:
    return f"{number:,.0f}"


def select(
    items: Sequence[Item],
    *,
    pageviews: Mapping[str, int],
    config: SelectionConfig,
    window: Window,
) -> tuple[Selection, tuple[str, ...]]:
    """Choose the issue's stories. Returns the selection and any warnings for the editor.

    `items` are unique by id (normalize.merge_duplicates sees to that).
    """
    warnings: list[str] = []
    decisions: dict[str, Decision] = {}
    everything = list(items)

    def views(item: Item) -> int:
        return pageviews.get(item.canonical, 0)

    def score(item: Item) -> float:
        return views(item) + config.comment_weight * (item.comments or 0)

    candidates: list[Item] = []
    for item in everything:
        # An undated story (no date in the item or its feed) counts as new, as in a feed reader.
        if item.published is None or item.published in window:
            candidates.append(item)
            continue
        decisions[item.id] = Decision(
            item,
            Outcome.OUT_OF_WINDOW,
            f"published {item.published:%Y-%m-%d %H:%M}; window is {_span(window)}",
        )

    # --- lead
    lead: Pick | None = None
    if config.lead:
        pinned = next((i for i in everything if config.lead in (i.url, i.id)), None)
        if pinned is None:
            warnings.append(f"pinned lead {config.lead} is in no feed; using the highest score")
        else:
            lead = Pick(pinned, Section.LEAD, 1, score(pinned), "pinned by selection.lead", views(pinned))
    if lead is None and candidates:
        top = min(candidates, key=lambda i: (-score(i), -_timestamp(i), i.id))
        reason = (
            f"highest score in the window: {_fmt(views(top))} page views"
            f" + {config.comment_weight:g} × {top.comments or 0} comments = {_fmt(score(top))}"
        )
        lead = Pick(top, Section.LEAD, 1, score(top), reason, views(top))
    used = {lead.item.id} if lead else set()

    # --- editor's choice
    also: dict[str, list[str]] = {}  # id -> other sections a picked story qualified for
    wanted = config.editors_choice_category.casefold()
    tagged = sorted(
        (i for i in candidates if any(c.casefold() == wanted for c in i.categories)),
        key=lambda i: (-_timestamp(i), i.id),
    )
    editors: list[Pick] = []
    for item in tagged:
        if item.id in used:
            also.setdefault(item.id, []).append(f"in category '{config.editors_choice_category}'")
        elif len(editors) < config.editors_choice_size:
            rank = len(editors) + 1
            reason = f"in category '{config.editors_choice_category}', #{rank} newest"
            editors.append(Pick(item, Section.EDITORS_CHOICE, rank, score(item), reason, views(item)))
            used.add(item.id)
        else:
            decisions[item.id] = Decision(
                item,
                Outcome.NOT_RANKED,
                f"in category '{config.editors_choice_category}', beyond editors_choice_size"
                f" ({config.editors_choice_size})",
                Section.EDITORS_CHOICE,
                score(item),
            )

    # --- popular
    by_views = sorted(candidates, key=lambda i: (-views(i), -(i.comments or 0), -_timestamp(i), i.id))
    popular: list[Pick] = []
    passed = 0  # stories ranked above the next popular pick but shown in a higher section
    for position, item in enumerate(by_views, start=1):
        if len(popular) >= config.popular_size:
            break
        if item.id in used:
            also.setdefault(item.id, []).append(f"#{position} by page views")
            passed += 1
            continue
        reason = f"#{position} by page views ({_fmt(views(item))})"
        if passed:
            reason += f"; moved up past {passed} stor{'y' if passed == 1 else 'ies'} shown above"
        rank = len(popular) + 1
        popular.append(Pick(item, Section.POPULAR, rank, float(views(item)), reason, views(item)))
        used.add(item.id)

    def explained(pick: Pick) -> Pick:
        if pick.item.id not in also:
            return pick
        note = " and ".join(also[pick.item.id])
        return replace(pick, reason=f"{pick.reason}; also {note}: shown once, here")

    lead = explained(lead) if lead else None
    editors = [explained(p) for p in editors]
    for pick in ([lead] if lead else []) + editors + popular:
        decisions[pick.item.id] = Decision(pick.item, Outcome.PICKED, pick.reason, pick.section, pick.score)
    for item in candidates:
        decisions.setdefault(
            item.id,
            Decision(
                item,
                Outcome.NOT_RANKED,
                f"not picked: {_fmt(views(item))} page views",
                None,
                score(item),
            ),
        )
    ordered = tuple(decisions[item.id] for item in everything)
    return Selection(lead, tuple(editors), tuple(popular), ordered), tuple(warnings)


def _span(window: Window) -> str:
    return f"{window.start:%Y-%m-%d %H:%M} to {window.end:%Y-%m-%d %H:%M} UTC"
