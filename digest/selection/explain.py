"""`digest build --explain`: every story and what selection did with it, as table rows."""

from __future__ import annotations

from digest.models import Decision, Outcome, Selection

EXPLAIN_COLUMNS = ("outcome", "section", "score", "views", "comments", "decay", "story", "why")

# Picked stories first (lead, editor's choice, popular), then the rest by how close they came.
_ORDER = {
    Outcome.PICKED: 0,
    Outcome.DEMOTED: 1,
    Outcome.NOT_RANKED: 2,
    Outcome.ALREADY_SENT: 3,
    Outcome.EXCLUDED: 4,
    Outcome.OUT_OF_WINDOW: 5,
}
_SECTIONS = {"lead": 0, "editors_choice": 1, "popular": 2}


def _key(decision: Decision, rank: dict[str, int]) -> tuple[int, int, int, float]:
    section = _SECTIONS.get(decision.section.value, 3) if decision.section else 3
    return (_ORDER[decision.outcome], section, rank.get(decision.item.id, 0), -decision.score.value)


def explain_rows(selection: Selection) -> list[tuple[str, ...]]:
    rank = {pick.item.id: pick.rank for pick in selection.picks}
    ordered = sorted(selection.decisions, key=lambda d: _key(d, rank))
    return [
        (
            d.outcome.value,
            d.section.value if d.section else "",
            f"{d.score.value:,.0f}",
            f"{d.score.pageviews:,}",
            f"{d.score.comments:,}",
            f"{d.score.decay:.2f}",
            d.item.title,
            d.reason,
        )
        for d in ordered
    ]
