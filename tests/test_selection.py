"""The select stage: lead, editor's choice and popular; each story once, each decision explained."""

from __future__ import annotations

import datetime as dt

import pytest

from digest.build import issue_moment
from digest.config import SelectionConfig
from digest.models import Item, Outcome, Section, Selection
from digest.selection import issue_window, select
from digest.sources import load_analytics, read_feed

from .conftest import SAMPLE

NOW = issue_moment(dt.date(2025, 11, 24))
WINDOW = issue_window(NOW, 7)
EC = "Editor's choice"


def item(n: int, *, days_ago: float = 1, categories: tuple[str, ...] = (), comments: int = 0) -> Item:
    return Item(
        id=f"id-{n}",
        url=f"https://x.example/{n}",
        title=f"Story {n}",
        summary="",
        published=NOW - dt.timedelta(days=days_ago),
        categories=categories,
        comments=comments,
    )


def views(**by_number: int) -> dict[str, int]:
    return {f"https://x.example/{k.removeprefix('n')}": v for k, v in by_number.items()}


def titles(selection: Selection) -> dict[str, list[str]]:
    return {
        "lead": [selection.lead.item.title] if selection.lead else [],
        "editors_choice": [p.item.title for p in selection.editors_choice],
        "popular": [p.item.title for p in selection.popular],
    }


def run(items: list[Item], pageviews: dict[str, int], **settings: object) -> Selection:
    config = SelectionConfig.model_validate(settings)
    selection, _ = select(items, pageviews=pageviews, config=config, window=WINDOW)
    return selection


def test_the_sample_issue_shows_the_gaza_story_once_and_the_next_story_moves_up() -> None:
    feed = read_feed(str(SAMPLE / "news.rss"), "news.rss")
    pageviews = load_analytics(str(SAMPLE / "analytics.csv"), "analytics.csv")
    config = SelectionConfig(
        lead="https://www.commonground.example/news/2025/11/eu-azerbaijan-security-dialogue",
        editors_choice_size=3,
        popular_size=5,
    )
    selection, warnings = select(feed.items, pageviews=pageviews, config=config, window=WINDOW)
    picked = titles(selection)
    gaza = "UN Security Council approves Gaza Peace Plan"
    all_titles = [t for section in picked.values() for t in section]
    assert all_titles.count(gaza) == 1
    assert gaza in picked["editors_choice"]
    # Gaza has the most page views in the window; the popular list starts with the runner-up.
    assert picked["popular"][0] == "Iran and the IAEA agree a new inspection timetable"
    assert len(picked["popular"]) == 5
    assert picked["lead"] == ["EU - Azerbaijan Security Dialogue held in Brussels"]
    assert warnings == ()
    gaza_pick = next(p for p in selection.editors_choice if p.item.title == gaza)
    assert "also #1 by page views" in gaza_pick.reason
    # The story with the most page views overall was published before the window.
    reconstruction = next(d for d in selection.decisions if "reconstruction" in d.item.title)
    assert reconstruction.outcome is Outcome.OUT_OF_WINDOW


@pytest.mark.parametrize(
    ("settings", "pageviews", "expected_lead"),
    [
        ({}, views(n1=10, n2=500, n3=20), "Story 2"),
        ({"lead": "https://x.example/3"}, views(n1=10, n2=500, n3=20), "Story 3"),
        ({"lead": "id-1"}, views(n1=10, n2=500, n3=20), "Story 1"),
        # comments count through comment_weight: 10 × 40 comments beats 300 views
        ({}, views(n2=300), "Story 4"),
        ({"lead": "https://x.example/old"}, views(n2=500), "Story 2"),  # pinned but unknown
    ],
)
def test_lead_is_the_pinned_story_else_the_highest_score(
    settings: dict[str, object], pageviews: dict[str, int], expected_lead: str
) -> None:
    items = [item(1), item(2), item(3), item(4, comments=40)]
    assert titles(run(items, pageviews, **settings))["lead"] == [expected_lead]


def test_a_pinned_lead_outside_the_window_is_still_the_lead() -> None:
    old = item(9, days_ago=30)
    selection = run([item(1), old], {}, lead="id-9")
    assert selection.lead is not None and selection.lead.item == old


def test_an_unknown_pinned_lead_is_a_warning() -> None:
    config = SelectionConfig(lead="https://x.example/missing")
    _, warnings = select([item(1)], pageviews={}, config=config, window=WINDOW)
    assert warnings == ("pinned lead https://x.example/missing is in no feed; using the highest score",)


def test_editors_choice_is_the_category_newest_first_up_to_its_size() -> None:
    items = [item(n, days_ago=n, categories=("News", EC)) for n in range(1, 6)]
    items.append(item(6, categories=("News",)))
    selection = run(items, views(n6=1000), editors_choice_size=3, popular_size=0)
    assert titles(selection)["editors_choice"] == ["Story 1", "Story 2", "Story 3"]
    fifth = next(d for d in selection.decisions if d.item.id == "id-5")
    assert fifth.outcome is Outcome.NOT_RANKED and "beyond editors_choice_size" in fifth.reason


def test_the_category_match_ignores_case() -> None:
    selection = run([item(1, categories=("editor's CHOICE",)), item(2)], views(n2=9), lead="id-2")
    assert titles(selection)["editors_choice"] == ["Story 1"]


def test_popular_is_by_page_views_skipping_stories_shown_above() -> None:
    items = [item(1, categories=(EC,)), item(2), item(3), item(4), item(5)]
    selection = run(items, views(n1=900, n2=800, n3=700, n4=600, n5=500), lead="id-2", popular_size=2)
    assert titles(selection)["popular"] == ["Story 3", "Story 4"]
    first = selection.popular[0]
    assert first.reason.startswith("#3 by page views (700)")
    assert "moved up past 2 stories" in first.reason


def test_sizes_of_zero_leave_a_section_empty() -> None:
    selection = run([item(1, categories=(EC,)), item(2)], {}, editors_choice_size=0, popular_size=0)
    assert titles(selection) == {"lead": ["Story 1"], "editors_choice": [], "popular": []}


def test_items_outside_the_window_are_not_candidates_but_undated_ones_are() -> None:
    undated = Item(id="u", url="https://x.example/u", title="Undated", summary="", published=None)
    future = item(7, days_ago=-1)
    selection = run([item(1, days_ago=8), undated, future, item(2)], views(n2=5))
    assert titles(selection) == {"lead": ["Story 2"], "editors_choice": [], "popular": ["Undated"]}
    outcomes = {d.item.title: d.outcome for d in selection.decisions}
    assert outcomes["Story 1"] is outcomes["Story 7"] is Outcome.OUT_OF_WINDOW


def test_ties_are_broken_the_same_way_whatever_the_feed_order() -> None:
    items = [item(n, days_ago=1) for n in range(1, 8)]
    forward = run(items, {}, popular_size=4)
    backward = run(list(reversed(items)), {}, popular_size=4)
    assert titles(forward) == titles(backward)


def test_every_candidate_gets_one_decision() -> None:
    items = [item(n, days_ago=n * 2) for n in range(1, 8)]
    selection = run(items, {}, popular_size=1)
    assert [d.item.id for d in selection.decisions] == [i.id for i in items]
    sections = [d.section for d in selection.decisions if d.outcome is Outcome.PICKED]
    assert sections == [Section.LEAD, Section.POPULAR]
