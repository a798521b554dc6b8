"""The plain-text part: its own template, readable in a mail client."""

from __future__ import annotations

import re

from digest.config import Config
from digest.render.plaintext import TEXT_WIDTH, excerpt, paragraphs, wrap

from .conftest import compose


def sample_text(config: Config) -> str:
    return compose(config).issue.rendered.text


def test_lines_fit_78_columns_unless_a_url_stands_alone(sample_config: Config) -> None:
    for line in sample_text(sample_config).splitlines():
        if len(line) > TEXT_WIDTH:
            assert re.fullmatch(r"(\[\d+\] )?https?://\S+", line), line


def test_no_markup_or_entities_are_left(sample_config: Config) -> None:
    text = sample_text(sample_config)
    assert not re.search(r"<[a-zA-Z/][^>]*>", text)
    assert not re.search(r"&(#\d+|[a-z]+);", text)


def test_sections_in_order_with_each_story_once(sample_config: Config) -> None:
    text = sample_text(sample_config)
    headings = [h for h in ("LEAD STORY", "EDITOR'S CHOICE", "POPULAR") if h in text]
    assert headings == ["LEAD STORY", "EDITOR'S CHOICE", "POPULAR"]
    assert [text.index(h) for h in headings] == sorted(text.index(h) for h in headings)
    assert text.count("UN Security Council approves Gaza Peace Plan") == 1
    assert text.count("https://www.commonground.example/news/2025/11/un-security-council") == 1


def test_links_are_numbered_references_listed_under_their_section(sample_config: Config) -> None:
    text = sample_text(sample_config)
    marks = [int(n) for n in re.findall(r" \[(\d+)\]$", text, re.MULTILINE)]
    listed = [int(n) for n in re.findall(r"^\[(\d+)\] https://", text, re.MULTILINE)]
    assert marks == listed == list(range(1, 10))  # 1 lead + 3 editor's choice + 5 popular
    popular = text[text.index("POPULAR") :]
    assert "[5] https://www.commonground.example/news/2025/11/iran-iaea-timetable?" in popular


def test_the_footer_has_the_address_and_the_unsubscribe_link(sample_config: Config) -> None:
    footer = sample_text(sample_config).split("\n--\n", 1)[1]
    assert "Rue de la Loi 42, 1040 Brussels" in footer
    assert "Unsubscribe\nhttps://www.commonground.example/newsletter/unsubscribe" in footer


def test_wrap_keeps_a_long_url_whole_and_indents() -> None:
    url = "https://example.org/" + "a" * 90
    assert wrap(f"see {url} now", width=20, indent="  ") == f"  see\n  {url}\n  now"


def test_wrap_keeps_paragraphs_apart() -> None:
    assert wrap("one two\n\nthree", width=4) == "one\ntwo\n\nthree"


def test_paragraphs_cut_at_a_word_within_the_budget() -> None:
    assert paragraphs("aaa bbb\n\nccc ddd eee", limit=12) == ["aaa bbb", "ccc…"]
    assert excerpt("short", limit=100) == "short"
