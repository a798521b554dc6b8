"""The editor's picks file, in TOML or YAML, and how pins from config and flags join it."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.errors import InputError
from digest.selection.picks import Picks, combine, load_picks


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("picks.toml", 'lead = "https://x.example/a"\neditors_choice = ["guid-1", "https://x.example/b"]\n'),
        ("picks.yaml", "lead: https://x.example/a\neditors_choice:\n  - guid-1\n  - https://x.example/b\n"),
    ],
)
def test_a_picks_file_in_toml_or_yaml(tmp_path: Path, name: str, text: str) -> None:
    (tmp_path / name).write_text(text)
    assert load_picks(tmp_path / name, name) == Picks(
        "https://x.example/a", ("guid-1", "https://x.example/b")
    )


def test_an_empty_yaml_file_pins_nothing(tmp_path: Path) -> None:
    (tmp_path / "picks.yml").write_text("")
    assert load_picks(tmp_path / "picks.yml", "picks.yml") == Picks()


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("p.toml", "lead = [\n", "invalid TOML"),
        ("p.yaml", "lead: [unclosed\n", "invalid YAML"),
        ("p.toml", 'leed = "x"\n', "unknown key 'leed'"),
        ("p.toml", "lead = 5\n", "lead: expected a URL or guid"),
        ("p.toml", 'editors_choice = "https://x.example/a"\n', "editors_choice: expected a list"),
        ("p.yaml", "- a\n- b\n", "expected 'lead' and 'editors_choice' keys"),
    ],
)
def test_a_broken_picks_file_names_the_file_and_the_problem(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(InputError) as caught:
        load_picks(tmp_path / name, f"site/{name}")
    assert str(caught.value).startswith(f"site/{name}: ")
    assert expected in str(caught.value)


def test_a_missing_picks_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="picks file not found"):
        load_picks(tmp_path / "nope.toml", "nope.toml")


def test_command_line_pins_join_the_file() -> None:
    file = Picks("https://x.example/a", ("p1", "p2"))
    assert combine(file, lead=None, editors_choice=[]) == file
    assert combine(file, lead="https://x.example/z", editors_choice=["p2", "p3"]) == Picks(
        "https://x.example/z", ("p1", "p2", "p3")
    )
