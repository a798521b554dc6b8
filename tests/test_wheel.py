"""The wheel: templates and the sample ship inside it, and `digest build` works from an install.

Builds the wheel, installs it as a tool with `uv tool install` (as a user would, with pipx or
uv) and runs `digest build` from a folder outside the repository.
"""

from __future__ import annotations

import os
import subprocess
import sys
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
    [built] = out.glob("newsletter_digest-*.whl")  # the distribution's name, not the command's
    return built


def test_the_wheel_contains_the_templates_and_the_sample(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for template in (REPO / "templates").rglob("*.j2"):
        assert f"digest/_data/templates/{template.relative_to(REPO / 'templates')}" in names
    for sample in ("digest.toml", "news.rss", "analytics.csv", "picks.toml"):
        assert f"digest/_data/sample/{sample}" in names
    for starter in ("digest.toml", "picks.toml", "templates/README.txt"):
        assert f"digest/_data/starter/{starter}" in names


def test_digest_installed_as_a_tool_builds_the_sample_outside_the_repository(
    wheel: Path, tmp_path: Path
) -> None:
    uv = Path(sys.executable).with_name("uv")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "PYTHON", "VIRTUAL_ENV"))}
    env |= {"UV_TOOL_DIR": str(tmp_path / "tools"), "UV_TOOL_BIN_DIR": str(tmp_path / "bin")}
    env.setdefault("UV_NATIVE_TLS", "1")  # the system's certificates, as pip uses them here
    installed = subprocess.run(
        [str(uv), "tool", "install", "--python", sys.executable, str(wheel)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert installed.returncode == 0, installed.stderr
    work = tmp_path / "somewhere-else"
    work.mkdir()
    command = tmp_path / "bin" / "digest"
    version = subprocess.run([str(command), "--version"], capture_output=True, text=True, env=env)
    assert version.stdout.strip() == "digest 0.1.0"  # pyproject.toml's, read from the metadata
    result = subprocess.run(
        [str(command), "build"],
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
    # The installed copy ran from the tool's own environment, not from this checkout.
    python = next((tmp_path / "tools").glob("newsletter-digest/bin/python"))
    where = subprocess.run(
        [str(python), "-c", "import digest; print(digest.__file__)"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert where.startswith(str(tmp_path / "tools")), where
