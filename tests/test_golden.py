"""The sample issue, byte for byte. Refresh with `make golden`, then review the diff."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from digest.build import compose_issue, read_inputs
from digest.config import Config
from digest.models import issue_moment

GOLDEN = Path(__file__).parent / "golden" / "sample"


def sample_files(config: Config) -> dict[str, bytes]:
    assert config.issue.date is not None
    return compose_issue(read_inputs(config), config, issue_moment(config.issue.date)).files


@pytest.mark.parametrize("name", ["index.html", "digest.txt", "message.eml", "manifest.json"])
def test_the_sample_issue_matches_its_golden_file(
    sample_config: Config, update_golden: bool, name: str
) -> None:
    actual = sample_files(sample_config)[name]
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
