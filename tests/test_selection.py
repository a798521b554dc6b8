"""The select stage: one table of cases per rule, then properties that hold for any input."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.analytics import Site, load_analytics
from digest.config import SelectionConfig
from digest.feeds.load import read_feed
from digest.models import History, Image, Item, Outcome, PastIssue, Section, Selection, issue_moment
from digest.selection.picks import NO_PICKS, Picks
from digest.selection.select import FIRST_ISSUE, Choice, issue_window, select

from .conftest import SAMPLE

NOW = issue_moment(dt.date(2025, 11, 24))
EC = "Editor's choice"


def item(
    n: int,
    *,
    days_ago: float = 1,
    categories: tuple[str, ...] = (),
    comments: int = 0,
    source: str = "feed",
    image: bool = False,
    title: str | None = None,
    summary: str = "",
) -> Item:
    return Item(
        id=f"id-{n}",
        url=f"https://x.example/{n}",
        title=title or f"Story {n}",
        summary=summary,
        published=NOW - dt.timedelta(days=days_ago),
        categories=categories,
        comments=comments,
        image=Image(f"https://x.example/{n}.jpg") if image else None,
        sources=(source,),
    )


def views(**by_number: int) -> dict[str, int]:
    return {f"https://x.example/{k.removeprefix('n')}": v for k, v in by_number.items()}


def titles(selection: Selection) -> dict[str, list[str]]:
    return {
        "lead": [selection.lead.item.title] if selection.lead else [],
        "editors_choice": [p.item.title for p in selection.editors_choice],
        "popular": [p.item.title for p in selection.popular],
    }


def run(
    items: list[Item],
    pageviews: dict[str, int] | None = None,
    *,
    picks: Picks = NO_PICKS,
    history: History = FIRST_ISSUE,
    **options: Any,
) -> Choice:
    options.setdefault("weights", {"half_life_days": 0})  # no decay unless a case asks for it
    config = msgspec.convert(options, SelectionConfig)
    window = issue_window(NOW, config, history)
    return select(
        items, pageviews=pageviews or {}, config=config, window=window, now=NOW, picks=picks, history=history
    )


def outcome(choice: Choice, n: int) -> tuple[Outcome, str]:
    decision = next(d for d in choice.selection.decisions if d.item.id == f"id-{n}")
    return decision.outcome, decision.reason


# --- the sample


def test_the_sample_issue_shows_the_gaza_story_once_and_the_next_story_moves_up() -> None:
    feed = read_feed(str(SAMPLE / "news.rss"), "news.rss")
    pageviews = load_analytics([(SAMPLE / "analytics.csv", "analytics.csv")], Site())
    lead = "https://www.commonground.example/news/2025/11/eu-azerbaijan-security-dialogue"
    config = SelectionConfig()
    choice = select(
        feed.items,
        pageviews=pageviews,
        config=config,
        window=issue_window(NOW, config),
        now=NOW,
        picks=Picks(lead=lead),
    )
    picked = titles(choice.selection)
    gaza = "UN Security Council approves Gaza Peace Plan"
    assert sum(section.count(gaza) for section in picked.values()) == 1
    assert gaza in picked["editors_choice"]
    # The Gaza story has the best score in the window; the popular list starts with the next one.
    best = max(choice.selection.decisions, key=lambda d: d.score.value if d.outcome is Outcome.PICKED else -1)
    assert best.item.title == gaza
    assert picked["popular"][0] == "Iran and the IAEA agree a new inspection timetable"
    assert len(picked["popular"]) == 5
    assert picked["lead"] == ["EU - Azerbaijan Security Dialogue held in Brussels"]
    gaza_pick = next(p for p in choice.selection.editors_choice if p.item.title == gaza)
    assert "also #1 by score: shown once, here" in gaza_pick.reason


# --- window


def test_the_first_issue_takes_the_last_window_days_only() -> None:
    choice = run([item(1, days_ago=3), item(2, days_ago=8), item(3, days_ago=40)], window_days=7)
    assert titles(choice.selection)["lead"] == ["Story 1"]
    assert outcome(choice, 2)[0] is outcome(choice, 3)[0] is Outcome.OUT_OF_WINDOW
    assert choice.new == 1


@pytest.mark.parametrize(
    ("mode", "previous_days_ago", "expected_new"),
    [
        ("since-last-issue", 10, 3),  # since the last issue, ten days ago: the 9-day-old story counts
        ("since-last-issue", 2, 1),  # an issue two days ago: only the newer story
        ("days", 10, 2),  # a fixed seven days, whatever the history
        ("since-last-issue", None, 2),  # no earlier issue: seven days
    ],
)
def test_the_window_runs_from_the_last_issue_or_over_fixed_days(
    mode: str, previous_days_ago: int | None, expected_new: int
) -> None:
    previous = None
    if previous_days_ago is not None:
        when = NOW - dt.timedelta(days=previous_days_ago)
        previous = PastIssue(1, when.date(), when)
    items = [item(1, days_ago=1), item(2, days_ago=5), item(3, days_ago=9)]
    choice = run(items, history=History(number=2, previous=previous), window=mode, window_days=7)
    assert choice.new == expected_new


# --- lead


@pytest.mark.parametrize(
    ("options", "picks", "expected"),
    [
        ({}, Picks(), "Story 2"),  # the best score
        ({}, Picks(lead="https://x.example/3"), "Story 3"),  # pinned by URL
        ({}, Picks(lead="id-1"), "Story 1"),  # pinned by guid
        ({}, Picks(lead="https://X.example/3?utm_source=mail"), "Story 3"),  # by canonical URL
        ({"lead_categories": ["Featured"]}, Picks(), "Story 3"),  # the best-scoring "Featured" one
        ({"lead_categories": ["Nothing"]}, Picks(), "Story 2"),  # no such story: the best score
        ({"lead_prefer_image": True}, Picks(), "Story 4"),  # the best-scoring with an image
        ({"weights": {"half_life_days": 0, "comments": 100}}, Picks(), "Story 4"),  # comments weigh more
    ],
)
def test_lead_is_pinned_else_in_a_lead_category_else_the_best_score(
    options: dict[str, Any], picks: Picks, expected: str
) -> None:
    items = [
        item(1),
        item(2),
        item(3, categories=("Featured",)),
        item(4, comments=40, image=True),
    ]
    choice = run(items, views(n1=10, n2=500, n3=20), picks=picks, **options)
    assert titles(choice.selection)["lead"] == [expected]


def test_a_pinned_lead_goes_in_even_outside_the_window_or_sent_before() -> None:
    old = item(9, days_ago=30)
    choice = run([item(1), old], picks=Picks(lead="id-9"), history=History(number=3, used={"id-9": 2}))
    assert choice.selection.lead is not None and choice.selection.lead.item == old
    assert "pinned" in choice.selection.lead.reason


def test_an_unknown_pin_is_a_warning_and_the_rules_decide() -> None:
    choice = run([item(1)], picks=Picks(lead="https://x.example/missing", editors_choice=("nope",)))
    assert choice.warnings == (
        "pinned story https://x.example/missing is in no feed",
        "pinned story nope is in no feed",
    )
    assert titles(choice.selection)["lead"] == ["Story 1"]


# --- editor's choice


def test_editors_choice_is_the_picks_in_order_then_the_category_newest_first() -> None:
    items = [item(n, days_ago=n, categories=("News", EC)) for n in range(1, 6)]
    items += [item(6), item(7)]
    picks = Picks(editors_choice=("https://x.example/7", "id-6"))
    choice = run(items, views(n1=1000), picks=picks, editors_choice_size=4, popular_size=0)
    assert titles(choice.selection)["editors_choice"] == ["Story 7", "Story 6", "Story 2", "Story 3"]
    assert outcome(choice, 5) == (Outcome.NOT_RANKED, f"in category '{EC}', beyond editors_choice_size (4)")


def test_more_picks_than_places_are_all_shown_with_a_warning() -> None:
    choice = run(
        [item(n) for n in range(1, 5)],
        picks=Picks(editors_choice=("id-1", "id-2", "id-3")),
        editors_choice_size=2,
    )
    assert titles(choice.selection)["editors_choice"] == ["Story 1", "Story 2", "Story 3"]
    assert any("more than editors_choice_size (2)" in w for w in choice.warnings)


def test_several_editors_choice_categories_and_case_are_accepted() -> None:
    items = [item(1, categories=("editor's CHOICE",)), item(2, categories=("Staff pick",)), item(3)]
    choice = run(items, views(n3=9), editors_choice_categories=[EC, "Staff pick"])
    assert sorted(titles(choice.selection)["editors_choice"]) == ["Story 1", "Story 2"]


# --- popular and the score


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        ({"half_life_days": 0}, ["Story 1", "Story 2", "Story 3"]),  # by page views
        ({"half_life_days": 0, "pageviews": 0}, ["Story 3", "Story 2", "Story 1"]),  # by comments
        ({"half_life_days": 1}, ["Story 2", "Story 3", "Story 1"]),  # views halve each day of age
    ],
)
def test_popular_is_by_score_with_the_editors_weights(weights: dict[str, float], expected: list[str]) -> None:
    items = [
        item(1, days_ago=6, comments=1),
        item(2, days_ago=1, comments=2),
        item(3, days_ago=0.5, comments=3),
    ]
    choice = run(items, views(n1=3000, n2=1000, n3=300), lead="none", weights=weights, popular_size=3)
    picked = titles(choice.selection)
    assert picked["lead"] + picked["popular"] == expected
    assert choice.selection.popular[0].score.value == pytest.approx(
        max(d.score.value for d in choice.selection.decisions if d.section is Section.POPULAR)
    )


def test_the_score_keeps_its_parts() -> None:
    choice = run([item(1, days_ago=7, comments=4)], views(n1=1000), weights={"half_life_days": 7})
    score = choice.selection.lead.score if choice.selection.lead else None
    assert score is not None
    assert (score.pageviews, score.comments, score.decay, score.value) == (1000, 4, 0.5, 520.0)


def test_a_story_shown_above_is_skipped_and_the_next_moves_up() -> None:
    items = [item(1, categories=(EC,)), item(2), item(3), item(4), item(5)]
    choice = run(
        items, views(n1=900, n2=800, n3=700, n4=600, n5=500), picks=Picks(lead="id-2"), popular_size=2
    )
    assert titles(choice.selection)["popular"] == ["Story 3", "Story 4"]
    assert choice.selection.popular[0].reason == "#3 by score; moved up past 2 stories shown above"


def test_sizes_of_zero_leave_a_section_empty() -> None:
    choice = run([item(1, categories=(EC,)), item(2)], editors_choice_size=0, popular_size=0)
    assert titles(choice.selection) == {"lead": ["Story 1"], "editors_choice": [], "popular": []}


# --- include, exclude, quota, history


@pytest.mark.parametrize(
    ("options", "kept"),
    [
        ({}, [1, 2, 3, 4]),
        ({"include_categories": ["sport"]}, [2]),
        ({"exclude_categories": ["Sport"]}, [1, 3, 4]),
        ({"include_keywords": ["EU"]}, [1]),  # a whole word: not "Europe", not "museum"
        ({"exclude_keywords": ["eu", "weather"]}, [2, 3]),
        ({"exclude_sources": ["wire"]}, [1, 2, 3]),
    ],
)
def test_include_and_exclude_rules(options: dict[str, Any], kept: list[int]) -> None:
    items = [
        item(1, title="EU summit"),
        item(2, categories=("Sport",), title="Europe cup", summary="A museum visit"),
        item(3, title="Elections"),
        item(4, source="wire", title="Weather", summary="Rain."),
    ]
    choice = run(items, popular_size=5, **options)
    shown = {p.item.id for p in choice.selection.picks}
    assert shown == {f"id-{n}" for n in kept}
    for n in set(range(1, 5)) - set(kept):
        assert outcome(choice, n)[0] is Outcome.EXCLUDED


def test_a_source_quota_keeps_one_feed_from_filling_the_issue() -> None:
    items = [item(n, source="big") for n in range(1, 6)] + [item(6, source="small"), item(7, source="small")]
    choice = run(
        items, views(n1=90, n2=80, n3=70, n4=60, n5=50, n6=5, n7=4), max_per_source=2, popular_size=4
    )
    picked = titles(choice.selection)
    assert picked["lead"] + picked["popular"] == ["Story 1", "Story 2", "Story 6", "Story 7"]
    assert outcome(choice, 3) == (Outcome.DEMOTED, "big already has 2 stories in the issue (max_per_source)")


def test_a_story_from_an_earlier_issue_is_not_picked_again_unless_pinned() -> None:
    history = History(number=5, used={"id-1": 4, "https://x.example/2": 3})
    choice = run([item(1), item(2), item(3)], views(n1=900, n2=800, n3=1), history=history)
    assert titles(choice.selection) == {"lead": ["Story 3"], "editors_choice": [], "popular": []}
    assert outcome(choice, 1) == (Outcome.ALREADY_SENT, "in issue #4")
    assert outcome(choice, 2) == (Outcome.ALREADY_SENT, "in issue #3")
    pinned = run([item(1), item(3)], picks=Picks(editors_choice=("id-1",)), history=history)
    assert titles(pinned.selection)["editors_choice"] == ["Story 1"]


def test_undated_stories_count_as_new() -> None:
    undated = Item(
        id="u", url="https://x.example/u", title="Undated", summary="", published=None, sources=("f",)
    )
    choice = run([item(1, days_ago=8), undated])
    assert titles(choice.selection)["lead"] == ["Undated"]


def test_every_story_gets_exactly_one_decision() -> None:
    items = [item(n, days_ago=n * 2) for n in range(1, 8)]
    choice = run(items, popular_size=1)
    assert [d.item.id for d in choice.selection.decisions] == [i.id for i in items]
    sections = [d.section for d in choice.selection.decisions if d.outcome is Outcome.PICKED]
    assert sections == [Section.LEAD, Section.POPULAR]


# --- properties: whatever the stories, the rules and the pins


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[Item], dict[str, int], Picks, History, dict[str, Any]]:
    count = draw(st.integers(0, 25))
    categories = st.sets(st.sampled_from([EC, "Featured", "News", "Sport"]), max_size=2)
    items = [
        item(
            n,
            days_ago=draw(st.floats(-2, 20, allow_nan=False)),
            categories=tuple(sorted(draw(categories))),
            comments=draw(st.integers(0, 50)),
            source=draw(st.sampled_from(["a", "b", "c"])),
            image=draw(st.booleans()),
        )
        for n in range(count)
    ]
    pageviews = {i.url: draw(st.integers(0, 1000)) for i in items}
    ids = [i.id for i in items]
    lead = draw(st.sampled_from([None, *ids])) if ids else None
    pins = tuple(draw(st.lists(st.sampled_from(ids), max_size=4, unique=True))) if ids else ()
    used = {i: 1 for i in draw(st.sets(st.sampled_from(ids), max_size=count))} if ids else {}
    options = {
        "editors_choice_size": draw(st.integers(0, 5)),
        "popular_size": draw(st.integers(0, 8)),
        "max_per_source": draw(st.integers(0, 4)),
        "lead_prefer_image": draw(st.booleans()),
        "lead_categories": draw(st.sampled_from([[], ["Featured"]])),
        "weights": {"half_life_days": draw(st.sampled_from([0, 1, 7]))},
    }
    return items, pageviews, Picks(lead, pins), History(number=2, used=used), options


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_properties_of_every_selection(
    scenario: tuple[list[Item], dict[str, int], Picks, History, dict[str, Any]],
) -> None:
    items, pageviews, picks, history, options = scenario
    choice = run(items, pageviews, picks=picks, history=history, **options)
    selection = choice.selection
    shown = [p.item.id for p in selection.picks]
    pinned = set(picks.pinned)

    # No story twice.
    assert len(shown) == len(set(shown))
    # Section sizes: pins may exceed editors_choice_size (with a warning), nothing else may.
    assert len(selection.editors_choice) <= max(options["editors_choice_size"], len(picks.editors_choice))
    assert len(selection.popular) <= options["popular_size"]
    # Pinned stories are always in the issue.
    assert pinned <= set(shown)
    # A story from an earlier issue comes back only when pinned.
    assert {i for i in shown if i in history.used} <= pinned
    # The quota holds for every story the rules chose (pins are the editor's call).
    if options["max_per_source"]:
        chosen_by_rule = [p.item for p in selection.picks if p.item.id not in pinned]
        for source in ("a", "b", "c"):
            assert sum(1 for i in chosen_by_rule if i.sources[0] == source) <= options["max_per_source"]
    # Every story has exactly one decision.
    assert sorted(d.item.id for d in selection.decisions) == sorted(i.id for i in items)
    # Determinism, whatever the order the feeds gave the stories in.
    again = run(list(reversed(items)), pageviews, picks=picks, history=history, **options)
    assert titles(again.selection) == titles(selection)
    assert [p.reason for p in again.selection.picks] == [p.reason for p in selection.picks]
