"""The wheel: templates and the sample ship inside it, and `digest build` works from an install.

Builds the wheel, installs it into a fresh virtual environment and runs `digest build`
from a folder outside the repository, as a newcomer would after `pip install`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from .conftest import REPO

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(REPO)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    [built] = out.glob("digest-*.whl")
    return built


def test_the_wheel_contains_the_templates_and_the_sample(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for template in (REPO / "templates").rglob("*.j2"):
        assert f"digest/_data/templates/{template.relative_to(REPO / 'templates')}" in names
    for sample in ("digest.toml", "news.rss", "analytics.csv", "picks.toml"):
        assert f"digest/_data/sample/{sample}" in names
    for starter in ("digest.toml", "picks.toml", "templates/README.txt"):
        assert f"digest/_data/starter/{starter}" in names


def test_an_installed_digest_builds_the_sample_outside_the_repository(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheel)],
        check=True,
        capture_output=True,
        timeout=900,
    )
    work = tmp_path / "somewhere-else"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "PYTHON"))}
    result = subprocess.run(
        [str(env_dir / "bin" / "digest"), "build"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    folder = Path(result.stdout.splitlines()[-1])
    assert folder == work / "issues" / "2025-11-24"
    assert (folder / "index.html").read_text().startswith("<!doctype html>")
    assert "using the bundled sample newsletter" in result.stderr
    # The installed copy ran from the virtual environment, not from this checkout.
    where = subprocess.run(
        [str(python), "-c", "import digest; print(digest.__file__)"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert where.startswith(str(env_dir)), where
