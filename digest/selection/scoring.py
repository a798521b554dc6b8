"""A story's score from its signals, with the editor's weights: the "why" behind popular and lead."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from digest.config import WeightsConfig
from digest.models import Item, Score

DAY = 86400.0


def score(item: Item, pageviews: Mapping[str, int], weights: WeightsConfig, now: dt.datetime) -> Score:
    views = pageviews.get(item.canonical, 0)
    comments = item.comments or 0
    decay = 1.0
    if weights.half_life_days > 0 and item.published is not None:
        age_days = max(0.0, (now - item.published).total_seconds() / DAY)
        decay = 0.5 ** (age_days / weights.half_life_days)
    raw = weights.pageviews * views + weights.comments * comments
    # Rounded so that the score (and the order it gives) is the same on every machine.
    return Score(views, comments, round(decay, 6), round(raw * decay, 4))
