"""The editor's include and exclude rules: by category (or tag), keyword and source."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache

from digest.config import SelectionConfig, TopicConfig
from digest.models import Item


def _folded(values: list[str]) -> frozenset[str]:
    return frozenset(v.casefold().strip() for v in values)


@cache
def _keyword(word: str) -> re.Pattern[str]:
    # Whole words, case ignored: "EU" must not match "Europe" or "museum".
    return re.compile(rf"(?<!\w){re.escape(word.strip())}(?!\w)", re.IGNORECASE)


def _matching_keyword(item: Item, words: list[str]) -> str | None:
    text = f"{item.title}\n{item.summary}"
    return next((w for w in words if w.strip() and _keyword(w).search(text)), None)


def exclusion(item: Item, config: SelectionConfig) -> str | None:
    """Why the rules leave `item` out, or None when they let it in."""
    categories = {c.casefold() for c in item.categories}
    if config.include_categories and not categories & _folded(config.include_categories):
        return f"in none of include_categories ({', '.join(config.include_categories)})"
    excluded = categories & _folded(config.exclude_categories)
    if excluded:
        return f"category '{sorted(excluded)[0]}' is in exclude_categories"
    if config.include_keywords and _matching_keyword(item, config.include_keywords) is None:
        return "none of include_keywords in headline or summary"
    word = _matching_keyword(item, config.exclude_keywords)
    if word:
        return f"keyword '{word}' is in exclude_keywords"
    source = next((s for s in item.sources if s in config.exclude_sources), None)
    if source:
        return f"source {source} is in exclude_sources"
    return None


def outside_topics(item: Item, topics: Mapping[str, TopicConfig]) -> str | None:
    """Why `item` is in none of a variant's topics (a category or a feed each names), or None."""
    categories = {c.casefold() for c in item.categories}
    for topic in topics.values():
        if categories & _folded(topic.categories) or any(s in topic.feeds for s in item.sources):
            return None
    return f"in none of the variant's topics ({', '.join(topics)})"
