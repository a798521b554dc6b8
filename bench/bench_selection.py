"""Selection figures: one issue chosen among 20,000 candidates, with every rule switched on."""

from __future__ import annotations

import datetime as dt
import random
import statistics
import time

from digest.config import SelectionConfig
from digest.models import History, Item
from digest.selection.picks import Picks
from digest.selection.select import issue_window, select

CANDIDATES = 20_000
NOW = dt.datetime(2025, 11, 24, tzinfo=dt.UTC)


def candidates(count: int) -> tuple[list[Item], dict[str, int]]:
    rng = random.Random(42)  # the same stories on every run
    sections = ("News", "Analysis", "Opinion", "Sport", "Featured", "Editor's choice")
    items = [
        Item(
            id=f"bench-{n}",
            url=f"https://bench.example/news/{n}",
            title=f"Story {n} about the week's politics",
            summary="A summary of ordinary length for a news story, with a few sentences in it.",
            published=NOW - dt.timedelta(minutes=rng.randrange(0, 7 * 24 * 60)),
            categories=(rng.choice(sections),),
            comments=rng.randrange(0, 200),
            sources=(f"feed-{n % 20}",),
        )
        for n in range(count)
    ]
    return items, {item.canonical: rng.randrange(0, 50_000) for item in items}


def twenty_thousand() -> None:
    items, pageviews = candidates(CANDIDATES)
    config = SelectionConfig(
        lead_categories=["Featured"],
        exclude_categories=["Sport"],
        exclude_keywords=["gossip"],
        max_per_source=2,
        editors_choice_size=5,
        popular_size=10,
    )
    history = History(number=9, used={f"bench-{n}": 8 for n in range(0, CANDIDATES, 50)})
    picks = Picks(lead="bench-7", editors_choice=("bench-11", "https://bench.example/news/13"))
    window = issue_window(NOW, config, history)
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        choice = select(
            items, pageviews=pageviews, config=config, window=window, now=NOW, picks=picks, history=history
        )
        samples.append((time.perf_counter() - start) * 1000)
    assert len(choice.selection.decisions) == CANDIDATES
    print(f"selection among {CANDIDATES:,} candidates (all rules on), median of 5:")
    print(f"  {'select()':<44} {statistics.median(samples):7.1f} ms")
