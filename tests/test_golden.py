"""The sample issue byte for byte, and the bounce corpus's classification. Refresh with `make golden`,
then review the diff."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
from msgspec.structs import replace

from digest.config import Config
from digest.feedback.classify import classify, parse

from .conftest import CORPUS, compose

GOLDEN = Path(__file__).parent / "golden" / "sample"


def check_golden(actual: bytes, golden: Path, update: bool) -> None:
    """`actual` against its golden file (rewritten instead, with --update-golden)."""
    if update:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(actual)
        pytest.skip(f"rewrote {golden}")
    assert golden.is_file(), f"{golden} is missing: run `make golden` and review it"
    expected = golden.read_bytes()
    if actual != expected:
        diff = difflib.unified_diff(
            expected.decode().splitlines(), actual.decode().splitlines(), "golden", "built", lineterm="", n=1
        )
        pytest.fail(
            f"{golden.name} changed (if intended: `make golden`, then review):\n" + "\n".join(list(diff)[:60])
        )


@pytest.mark.parametrize("name", ["index.html", "digest.txt", "message.eml", "manifest.json"])
def test_the_sample_issue_matches_its_golden_file(
    sample_config: Config, update_golden: bool, name: str
) -> None:
    check_golden(compose(sample_config).files[name], GOLDEN / name, update_golden)


LANGUAGES = {"fr": "ltr", "ar": "rtl"}


def in_language(config: Config, language: str) -> Config:
    newsletter = replace(config.newsletter, language=language, direction=LANGUAGES[language])
    return replace(config, newsletter=newsletter)


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_the_sample_in_another_language_matches_its_golden_text_part(
    sample_config: Config, update_golden: bool, language: str
) -> None:
    """The words of the plain-text part (every label) and the date, from the language's catalog."""
    actual = compose(in_language(sample_config, language)).files["digest.txt"]
    check_golden(actual, GOLDEN.with_name(f"sample-{language}") / "digest.txt", update_golden)


BOUNCES = CORPUS / "bounces"
TABLE = Path(__file__).parent / "golden" / "bounces.tsv"


def classification_table() -> str:
    """Every corpus message with what digest makes of it: kind, failed addresses, detail."""
    lines = ["file\tkind\taddresses\tdetail"]
    for path in sorted(BOUNCES.glob("*/*.eml")):
        verdict = classify(parse(path.read_bytes()))
        name = path.relative_to(BOUNCES).as_posix()
        lines.append(f"{name}\t{verdict.kind or 'none'}\t{','.join(verdict.addresses)}\t{verdict.detail}")
    return "\n".join(lines) + "\n"


@pytest.mark.skipif(not BOUNCES.is_dir(), reason=f"the bounce corpus is absent ({BOUNCES})")
def test_every_corpus_message_is_classified_as_its_table_says(update_golden: bool) -> None:
    actual = classification_table()  # read without an error, every one of them
    check_golden(actual.encode(), TABLE, update_golden)
