"""The MJML our templates produce passes the reference validator (npm mjml, strict).

mjml-python (MRML) renders without validating, so a template mistake MRML tolerates could
still render badly elsewhere; the reference implementation is the judge. `make test`
installs it (tests/node); run alone without it, this test skips, except in CI.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path

import pytest
from msgspec.structs import replace

from digest.check import Parts, check
from digest.config import Config
from digest.models import NO_SCORE, Item, Pick, Section, Selection, issue_moment
from digest.render.issue import render_issue

from .conftest import compose

pytestmark = pytest.mark.slow  # node and the reference MJML validator

MJML = Path(__file__).parent / "node" / "node_modules" / ".bin" / "mjml"


@pytest.fixture
def validator() -> Path:
    if not MJML.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{MJML} is missing: `make test` installs it")
        pytest.skip("the reference MJML validator is not installed (make test installs it)")
    return MJML


def validate(validator: Path, source: str, folder: Path) -> subprocess.CompletedProcess[str]:
    path = folder / "issue.mjml"
    path.write_text(source, encoding="utf-8")
    return subprocess.run(
        [str(validator), "--validate", str(path), "--config.validationLevel", "strict"],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_sample_issues_mjml_passes_strict_validation(
    validator: Path, sample_config: Config, tmp_path: Path
) -> None:
    result = validate(validator, compose(sample_config).issue.rendered.mjml, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_validator_does_reject_invalid_mjml(validator: Path, tmp_path: Path) -> None:
    # The control: an illegal attribute fails, so a pass above means something.
    result = validate(validator, '<mjml><mj-body><mj-text foo="bar">x</mj-text></mj-body></mjml>', tmp_path)
    assert result.returncode != 0
    assert "illegal" in result.stdout + result.stderr


def test_a_degraded_issue_still_validates_and_passes_check(
    validator: Path, sample_config: Config, tmp_path: Path
) -> None:
    """No image, no summary, a very long headline, an empty section, right to left."""
    bare = Item(
        id="bare",
        url="https://x.example/bare",
        title="A very long headline " * 12,
        summary="",
        published=issue_moment(dt.date(2025, 11, 23)),
        sources=("f",),
    )
    lead = Pick(bare, Section.LEAD, 1, NO_SCORE, "test")
    popular = tuple(
        Pick(replace(bare, id=f"p{n}", url=f"https://x.example/{n}"), Section.POPULAR, n, NO_SCORE, "t")
        for n in (1, 2)
    )
    newsletter = replace(sample_config.newsletter, direction="rtl", language="he")
    config = replace(sample_config, newsletter=newsletter)
    rendered = render_issue(Selection(lead, (), popular), config=config, date=dt.date(2025, 11, 24), number=3)
    assert validate(validator, rendered.mjml, tmp_path).returncode == 0
    errors = [v for v in check(Parts(rendered.html, text=rendered.text)) if v.severity == "error"]
    assert errors == []
    assert "Editor's choice" not in rendered.html  # the empty section is left out, not shown empty
