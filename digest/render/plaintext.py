"""Text helpers for the templates: wrapping for the plain-text part, excerpts for both parts.

The plain-text version is rendered from its own template (`digest.txt.j2`), never
by stripping the HTML; these filters keep its lines readable in a mail client.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import Any

TEXT_WIDTH = 78


def wrap(text: str, width: int = TEXT_WIDTH, indent: str = "", first: str | None = None) -> str:
    """Wrap each paragraph to `width`; a word longer than a line (a URL) stands alone, unbroken."""
    filled = [
        textwrap.fill(
            paragraph,
            width=width,
            initial_indent=indent if first is None else first,
            subsequent_indent=indent,
            break_long_words=False,
            break_on_hyphens=False,
        )
        for paragraph in text.split("\n\n")
        if paragraph.strip()
    ]
    return "\n\n".join(filled)


def paragraphs(text: str, limit: int = 600) -> list[str]:
    """The leading paragraphs of `text`, cut at a word boundary once `limit` characters are used."""
    kept: list[str] = []
    budget = limit
    for paragraph in text.split("\n\n"):
        if budget <= 0:
            break
        if len(paragraph) > budget:
            cut = paragraph[:budget].rsplit(" ", 1)[0].rstrip(" ,;:-–—")
            kept.append(cut + "…")
            break
        kept.append(paragraph)
        budget -= len(paragraph)
    return kept


def excerpt(text: str, limit: int = 300) -> str:
    return " ".join(paragraphs(text, limit))


def underline(text: str, char: str = "=") -> str:
    return f"{text}\n{char * len(text)}"


FILTERS: dict[str, Callable[..., Any]] = {
    "wrap": wrap,
    "paragraphs": paragraphs,
    "excerpt": excerpt,
    "underline": underline,
}
