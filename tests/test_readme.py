"""The README is part of the product: its commands exist, its config example is valid config."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from digest.cli import app
from digest.config import load_config
from digest.render.context import IssueInfo, Links, TemplateContext

from .conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def test_every_command_is_documented_in_the_readme() -> None:
    commands = sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
    assert commands, "no commands?"
    for command in commands:
        assert f"digest {command}" in README, f"`digest {command}` is not in the README"


def test_the_readmes_digest_toml_is_a_valid_config(tmp_path: Path) -> None:
    blocks = re.findall(r"```toml\n(.*?)```", README, flags=re.DOTALL)
    config_blocks = [b for b in blocks if b.startswith("[newsletter]")]
    assert config_blocks, "the README shows no digest.toml"
    path = tmp_path / "digest.toml"
    path.write_text(config_blocks[0], encoding="utf-8")
    config = load_config(path)  # an unknown key or a wrong type would raise
    assert config.newsletter.name == "CommonGround Weekly"


def test_the_two_commands_are_the_first_thing_a_newcomer_reads() -> None:
    first_block = README.split("```sh", 1)[1].split("```", 1)[0]
    assert "make demo" in first_block and "make test" in first_block


def test_the_template_api_table_names_every_name_the_templates_get() -> None:
    section = README.split("### Template API", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(\w+)` \|", section, flags=re.MULTILINE))
    assert documented == set(TemplateContext.__annotations__)
    for nested, keys in (("issue", IssueInfo.__annotations__), ("links", Links.__annotations__)):
        for key in keys:
            assert f"`{nested}.{key}`" in section, f"{nested}.{key} is not in the README's Template API"
