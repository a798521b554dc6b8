"""The CLI behaves like the tools its users know: -h, -V, completion, -v and -q on every command,
config found from a subfolder, every config mistake at once with a suggestion, tables that
follow the terminal's width."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .conftest import SAMPLE, Cli, HttpServer, Route, run_digest


@pytest.mark.parametrize("args", [["-h"], ["--help"], ["build", "-h"], ["subscribers", "suppress", "-h"]])
def test_h_is_help(cli: Cli, args: list[str]) -> None:
    result = cli(*args)
    assert result.exit_code == 0 and result.stdout.startswith("Usage: digest")


def test_the_command_list_is_one_line_each_and_flags_carry_no_type_markers(cli: Cli) -> None:
    listing = cli("-h").stdout.split("Commands:")[1]
    assert "..." not in listing and all(line.rstrip().endswith(".") for line in listing.strip().splitlines())
    build = cli("build", "-h").stdout
    assert "<bool>" not in build and "<str>" not in build and "--date YYYY-MM-DD" in build
    assert "Example: digest build" in build


def test_version(cli: Cli) -> None:
    """The installed distribution's version, as importlib.metadata reads it."""
    from importlib.metadata import version

    from digest.resources import DISTRIBUTION

    assert cli("-V").stdout == f"digest {version(DISTRIBUTION)}\n" and cli("--version").exit_code == 0


def test_a_completion_script_is_generated(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    # typer asks shellingham which shell runs the tests (make's sh, fish, ...): name it instead,
    # with typer's own switch for tests, so that the result does not depend on who started pytest.
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    result = cli("--show-completion", "bash")
    assert result.exit_code == 0 and "_digest_completion" in result.stdout
    assert "complete" in result.stdout


def test_quiet_says_nothing_on_stderr_but_the_result_stays_on_stdout(tmp_path: Path) -> None:
    result = run_digest("build", "-q", "--out", str(tmp_path / "issues"), cwd=tmp_path)  # the sample
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.strip() == str(tmp_path / "issues" / "2025-11-24")
    loud = run_digest("build", "--out", str(tmp_path / "issues"), cwd=tmp_path)
    assert "using the bundled sample" in loud.stderr  # so -q did silence something


def test_quiet_still_reports_an_error(tmp_path: Path) -> None:
    result = run_digest(
        "-q" if False else "build", "-q", "--config", str(tmp_path / "none.toml"), cwd=tmp_path
    )
    assert result.returncode == 2 and "config file not found" in result.stderr


def test_verbose_shows_each_feed_request_and_the_stage_timings(
    tmp_path: Path, http_server: HttpServer
) -> None:
    http_server.routes["/news.rss"] = Route(body=(SAMPLE / "news.rss").read_bytes())
    url = http_server.url("/news.rss")
    out = str(tmp_path / "o")
    result = run_digest("build", "-v", "--feed", url, "--date", "2025-11-24", "--out", out, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"digest: digest.feeds.fetch: GET {url}: " in result.stderr and " bytes in " in result.stderr
    assert "digest: digest.build: compose the issue: " in result.stderr


def test_the_config_is_found_from_a_subfolder_and_its_folders_stay_beside_it(
    tmp_path: Path, newsletter: Path
) -> None:
    inside = newsletter / "templates" / "partials"
    inside.mkdir(parents=True)
    result = run_digest("build", "-q", cwd=inside)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == newsletter / "issues" / "2025-11-24"
    assert not (inside / "issues").exists() and (newsletter / ".digest").is_dir()


def test_every_config_mistake_at_once_with_the_nearest_key(tmp_path: Path) -> None:
    config = tmp_path / "digest.toml"
    config.write_text("[selection]\npopular_sise = 3\nwindow_days = 0\n[newsleter]\nname = 'x'\n")
    result = run_digest("build", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    line = result.stderr
    assert "3 mistakes" in line
    assert "unknown key 'selection.popular_sise'; did you mean 'popular_size'?" in line
    assert "unknown key 'newsleter'; did you mean 'newsletter'?" in line
    assert "selection.window_days:" in line


@pytest.mark.parametrize("columns", [60, 200])
def test_tables_follow_the_terminal_width(tmp_path: Path, newsletter: Path, columns: int) -> None:
    config = str(newsletter / "digest.toml")
    assert run_digest("build", "-q", "--config", config, cwd=tmp_path).returncode == 0
    result = run_digest("history", "--config", config, cwd=tmp_path, env={"COLUMNS": str(columns)})
    widest = max(len(line) for line in result.stdout.splitlines())
    assert widest <= columns
    piped = run_digest("history", "--config", config, cwd=tmp_path)  # no COLUMNS, not a terminal
    assert max(len(line) for line in piped.stdout.splitlines()) > 60  # a whole row a line
    assert shutil.which("true")  # POSIX, as the README says


def test_the_clis_choices_are_the_librarys() -> None:
    """The CLI spells its choices out (loading the models would slow every --help): the same lists."""
    from typing import get_args

    from digest.cli import ReasonChoice, UnconfirmedChoice
    from digest.models import SuppressionReason, Unconfirmed

    assert get_args(ReasonChoice) == tuple(r.value for r in SuppressionReason)
    assert get_args(UnconfirmedChoice) == tuple(u.value for u in Unconfirmed)


def test_help_loads_no_stage(tmp_path: Path) -> None:
    """`digest --help` imports neither the models, the config, pydantic (typer's flag coercion) nor rich."""
    code = (
        "import sys; from digest.cli import main; sys.argv = ['digest', '--help']\n"
        "try: main()\nexcept SystemExit: pass\n"
        "print(sorted(m for m in sys.modules if m in ('digest.models', 'digest.config', 'pydantic', 'rich')))"
    )
    result = run_digest("-c", code, cwd=tmp_path, entry=())
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout


def test_a_build_of_local_feeds_loads_nothing_it_does_not_use(tmp_path: Path) -> None:
    """No HTTP client, event loop or encoding guesser for local files; the email is the same."""
    unused = ("requests", "chardet", "asyncio", "httpx")
    code = (
        "import sys; from digest.cli import main; sys.argv = ['digest', 'build', '-q', '--out', 'out']\n"
        "try: main()\nexcept SystemExit: pass\n"
        f"print(sorted(m for m in {unused!r} if type(sys.modules.get(m)).__name__ == 'module'))"
    )
    result = run_digest("-c", code, cwd=tmp_path, entry=())
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout + result.stderr
    html = next((tmp_path / "out").glob("*/index.html")).read_text(encoding="utf-8")
    assert 'style="' in html  # premailer still inlined the CSS without its requests


def test_every_commands_help_ends_with_an_example(cli: Cli) -> None:
    import typer

    from digest.cli import app

    group = typer.main.get_command(app)
    paths = []
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        subcommands = getattr(command, "commands", None)
        paths += [[name, sub] for sub in subcommands] if subcommands else [[name]]
    assert len(paths) > 10
    for path in paths:
        shown = cli(*path, "-h").stdout
        assert "Example: digest " + path[0] in shown, f"digest {' '.join(path)} -h has no example"


def test_the_help_lists_every_command_by_group() -> None:
    """The app is the command groups of digest/cli/, taken in whole: every command is there once."""
    import typer

    from digest.cli import app

    names = list(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
    assert names == [
        "build",
        "rebuild",
        "check",
        "init",
        "send",
        "run",
        "feedback",
        "unsubscribe-server",
        "subscribers",
        "preview",
        "history",
        "archive",
    ]


def test_a_run_of_one_command_builds_its_group_alone_and_shows_it_as_the_whole_app_does() -> None:
    """`digest NAME …` runs the app of NAME's group (typer builds every command's parameters on
    each run): the table of groups names every command, and each command's help, and so its
    flags, is the same as in the whole app."""
    import typer
    from typer.testing import CliRunner

    from digest.cli import GROUP_OF, app, app_for

    runner = CliRunner()
    names = list(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
    assert sorted(GROUP_OF) == sorted(names)
    for name in names:
        one = app_for([name, "--help"])
        assert one is not app and name in typer.main.get_command(one).commands  # type: ignore[attr-defined]
        whole = runner.invoke(app, [name, "--help"], prog_name="digest").stdout
        assert runner.invoke(one, [name, "--help"], prog_name="digest").stdout == whole
    assert app_for(["buidl"]) is app and app_for(["--version"]) is app and app_for([]) is app
