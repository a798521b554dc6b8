"""digest.toml: typed, strict, with errors that name the file and the key; env and flags on top."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from digest.config import find_config, is_sample, load_config, output_dir, state_dir, with_overrides
from digest.errors import ConfigError

from .conftest import SAMPLE


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "digest.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_sample_config_loads_with_its_values() -> None:
    config = load_config(SAMPLE / "digest.toml")
    assert config.newsletter.name == "CommonGround Weekly"
    assert config.issue.date == dt.date(2025, 11, 24)
    assert config.selection.popular_size == 5


def test_an_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""))
    assert config.selection.window_days == 7
    assert config.selection.editors_choice_categories == ["Editor's choice"]
    assert config.sources.feeds == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[selection]\npopular_sise = 3\n", "unknown key 'selection.popular_sise'"),
        ("[newsleter]\nname = 'x'\n", "unknown key 'newsleter'"),
        ("[selection]\npopular_size = 'five'\n", "selection.popular_size:"),
        ("[selection]\npopular_size = '5'\n", "selection.popular_size:"),
        ("[selection]\nwindow_days = 0\n", "selection.window_days:"),
        ("[newsletter]\nlanguage = 'not a language'\n", "newsletter.language:"),
        ("[newsletter]\ndirection = 'up'\n", "newsletter.direction:"),
        ("[sources]\nfeeds = 'news.rss'\n", "sources.feeds:"),
        ("[selection\n", "invalid TOML"),
        ("[feedback]\nmailbox = 'imaps://u:secret@mail.example.org/INBOX'\n", "must not carry the password"),
        ("[feedback]\nmailbox = 'imaps:///INBOX'\n", "not imaps://user@host[:port]/FOLDER"),
        ("[feedback]\nmailbox = 'imaps://u@mail.example.org:99999/INBOX'\n", "not a port number"),
        ("[feedback]\nreturn_path = 'bounces@example.org'\n", "feedback.return_path: "),
        (
            "[newsletter]\nunsubscribe_url = 'javascript:alert(1)'\n",
            "newsletter.unsubscribe_url: a javascript:",
        ),
        ("[newsletter]\nview_online_url = ' DATA:text/html,x'\n", "newsletter.view_online_url: a DATA:"),
        ('[newsletter]\nview_online_url = "java\\tscript:alert(1)"\n', "view_online_url: a javascript:"),
        (
            "[newsletter]\nunsubscribe_mailto = 'https://x.example/'\n",
            "newsletter.unsubscribe_mailto: not a mailto",
        ),
    ],
)
def test_mistakes_name_the_file_and_the_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "\n" not in message


def test_wrong_values_in_several_sections_are_reported_together(tmp_path: Path) -> None:
    path = write(
        tmp_path, "[selection]\npopular_size = 'five'\n[smtp]\nport = 0\n[newsletter]\nsender = 'x'\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "3 mistakes" in message
    assert "selection.popular_size: Expected int, got str" in message
    assert "smtp.port: Expected int >= 1" in message
    assert "newsletter.sender: not one email address: 'x'" in message


def test_a_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[sources]\nfeeds = ['feeds/a.rss', 'https://x.example/f']\n"))
    assert config.resolve("feeds/a.rss") == str(tmp_path / "feeds" / "a.rss")
    assert config.resolve("https://x.example/f") == "https://x.example/f"


def test_environment_overrides_the_file_and_flags_override_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "[selection]\npopular_size = 4\n[issue]\ndate = 2025-01-06\n")
    env = {"DIGEST_SELECTION__POPULAR_SIZE": "2", "DIGEST_NEWSLETTER__LANGUAGE": "fr"}
    config = load_config(path, env=env)
    assert config.selection.popular_size == 2
    assert config.newsletter.language == "fr"
    assert with_overrides(config, date=None).issue.date == dt.date(2025, 1, 6)
    assert with_overrides(config, date=dt.date(2025, 2, 3)).issue.date == dt.date(2025, 2, 3)


def test_a_bad_environment_value_is_reported_like_a_bad_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, ""), env={"DIGEST_SELECTION__POPULAR_SIZE": "many"})
    assert "selection.popular_size:" in str(caught.value)
    assert str(caught.value).endswith("(from DIGEST_SELECTION__POPULAR_SIZE)")


def test_flag_paths_are_relative_to_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "cfg").mkdir()
    config = load_config(write(tmp_path / "cfg", ""))
    monkeypatch.chdir(tmp_path)
    changed = with_overrides(config, feeds=["here.rss"], out=Path("out"))
    assert changed.sources.feeds == [str(tmp_path / "here.rss")]
    assert output_dir(changed, tmp_path) == tmp_path / "out"


def test_unset_folders_go_beside_the_config_wherever_digest_runs(tmp_path: Path) -> None:
    config = load_config(write(tmp_path / "", ""))
    assert output_dir(config, Path("/somewhere")) == tmp_path / "issues"
    assert state_dir(config, Path("/somewhere")) == tmp_path / ".digest"
    config = load_config(write(tmp_path, "[output]\ndir = 'built'\n"))
    assert output_dir(config, Path("/somewhere")) == tmp_path / "built"
    # No config of one's own (the bundled sample, or none): the current folder.
    assert output_dir(load_config(None), Path("/somewhere")) == Path("/somewhere/issues")
    assert output_dir(load_config(SAMPLE / "digest.toml"), Path("/somewhere")) == Path("/somewhere/issues")


def test_find_config_prefers_the_flag_then_the_local_file_then_the_sample(tmp_path: Path) -> None:
    assert find_config(Path("x.toml"), tmp_path) == Path("x.toml")
    assert find_config(None, tmp_path) == SAMPLE / "digest.toml"
    assert is_sample(find_config(None, tmp_path))
    local = write(tmp_path, "")
    assert find_config(None, tmp_path) == local
    assert not is_sample(local)


def test_the_nearest_digest_toml_above_is_found_and_sending_never_takes_the_sample(tmp_path: Path) -> None:
    local = write(tmp_path, "")
    deep = tmp_path / "templates" / "partials"
    deep.mkdir(parents=True)
    assert find_config(None, deep) == local  # from a subfolder, as git and ruff find theirs
    assert find_config(None, deep, own=True) == local
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    (tmp_path / "digest.toml").unlink()
    with pytest.raises(ConfigError, match="sending needs your newsletter's own config"):
        find_config(None, empty, own=True)


def test_feeds_on_the_command_line_and_no_config_mean_the_defaults(tmp_path: Path) -> None:
    assert find_config(None, tmp_path, feeds_given=True) is None
    config = load_config(None, env={"DIGEST_NEWSLETTER__NAME": "Mine"})
    assert config.newsletter.name == "Mine"
    assert config.issue.date is None and config.selection.lead is None
