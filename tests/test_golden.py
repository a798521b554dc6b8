"""The sample issue, byte for byte. Refresh with `make golden`, then review the diff."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from digest.config import Config

from .conftest import compose

GOLDEN = Path(__file__).parent / "golden" / "sample"


@pytest.mark.parametrize("name", ["index.html", "digest.txt", "message.eml", "manifest.json"])
def test_the_sample_issue_matches_its_golden_file(
    sample_config: Config, update_golden: bool, name: str
) -> None:
    actual = compose(sample_config).files[name]
    golden = GOLDEN / name
    if update_golden:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(actual)
        pytest.skip(f"rewrote {golden}")
    assert golden.is_file(), f"{golden} is missing: run `make golden` and review it"
    expected = golden.read_bytes()
    if actual != expected:
        diff = difflib.unified_diff(
            expected.decode().splitlines(),
            actual.decode().splitlines(),
            "golden",
            "built",
            lineterm="",
            n=1,
        )
        pytest.fail(
            "the sample issue changed (if intended: `make golden`, then review):\n"
            + "\n".join(list(diff)[:60])
        )
