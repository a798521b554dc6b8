"""`digest` on the command line: the printed path, exit codes and one-line errors are a contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer

from digest.cli import app

from .conftest import SAMPLE, Cli, HttpServer, Route


def assert_one_line_error(stderr: str, *fragments: str) -> None:
    lines = [line for line in stderr.splitlines() if line.startswith("digest: error:")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_with_no_config_it_builds_the_bundled_sample_and_says_so(cli: Cli) -> None:
    result = cli("build")
    assert result.exit_code == 0, result.stderr
    folder = Path(result.stdout.splitlines()[-1])
    assert folder == cli.cwd / "issues" / "2025-11-24"
    assert sorted(p.name for p in folder.iterdir()) == [
        ".made-by-digest",
        "digest.txt",
        "index.html",
        "inputs.zip",
        "manifest.json",
        "message.eml",
        "personal.html",
        "personal.txt",
    ]
    assert "using the bundled sample newsletter" in result.stderr
    assert "--config" in result.stderr  # the hint on how to start one's own


def test_a_local_digest_toml_is_used_without_a_hint(cli: Cli, newsletter: Path) -> None:
    for path in newsletter.iterdir():
        (cli.cwd / path.name).write_bytes(path.read_bytes())
    result = cli("build")
    assert result.exit_code == 0, result.stderr
    assert "bundled sample" not in result.stderr


def test_the_manifest_gives_each_pick_with_its_reason(cli: Cli) -> None:
    result = cli("build")
    manifest = json.loads((Path(result.stdout.splitlines()[-1]) / "manifest.json").read_text())
    sections = manifest["sections"]
    assert [len(sections[s]) for s in ("lead", "editors_choice", "popular")] == [1, 3, 5]
    assert all(pick["reason"] for s in sections.values() for pick in s)
    assert manifest["sources"] == [
        {"source": "news.rss", "status": "ok", "title": "CommonGround", "items": 30}
    ]
    html = manifest["files"]["index.html"]
    assert html["bytes"] == (Path(result.stdout.splitlines()[-1]) / "index.html").stat().st_size


def test_date_and_out_flags(cli: Cli) -> None:
    result = cli("build", "--date", "2025-11-17", "--out", "elsewhere")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[-1] == str(cli.cwd / "elsewhere" / "2025-11-17")


def test_date_from_the_environment(cli: Cli) -> None:
    result = cli("build", env={"DIGEST_DATE": "2025-11-17"})
    assert result.stdout.splitlines()[-1].endswith("2025-11-17")


def test_a_feed_flag_takes_a_url_served_on_loopback(cli: Cli, http_server: HttpServer) -> None:
    http_server.routes["/rss"] = Route(body=(SAMPLE / "news.rss").read_bytes())
    result = cli("build", "--feed", http_server.url("/rss"), "--date", "2025-11-24")
    assert result.exit_code == 0, result.stderr
    assert http_server.requests and http_server.requests[0][0] == "/rss"
    # No config: the defaults apply, not the sample's settings.
    assert "bundled sample" not in result.stderr
    html = (Path(result.stdout.splitlines()[-1]) / "index.html").read_text()
    assert "<title>My Newsletter #1: UN Security Council approves Gaza Peace Plan<" in html  # most comments


@pytest.mark.parametrize(
    ("config", "args", "code", "fragments"),
    [
        ("[selection]\npopular_sise = 3\n", [], 2, ["digest.toml", "unknown key 'selection.popular_sise'"]),
        ("[sources]\nfeeds = ['missing.rss']\n", [], 4, ["missing.rss: no such file"]),
        ("[newsletter]\nname = 'X'\n", [], 2, ["no feeds"]),
        (None, ["--date", "2030-01-01"], 3, ["nothing to send"]),  # the sample, with nothing that new
    ],
    ids=["config-mistake", "missing-feed", "no-feeds", "nothing-new"],
)
def test_a_build_that_cannot_be_made_exits_with_its_code_in_one_line_and_writes_nothing(
    cli: Cli, config: str | None, args: list[str], code: int, fragments: list[str]
) -> None:
    if config is not None:
        (cli.cwd / "digest.toml").write_text(config)
    result = cli("build", *args)
    assert result.exit_code == code
    assert_one_line_error(result.stderr, *fragments)
    assert not (cli.cwd / "issues").exists()


def test_a_template_syntax_error_exits_5_naming_file_and_line(cli: Cli, newsletter: Path) -> None:
    (newsletter / "templates").mkdir()
    (newsletter / "templates" / "email.mjml.j2").write_text("<mjml>\n{{ lead.item.title \n</mjml>\n")
    with (newsletter / "digest.toml").open("a") as config:
        config.write("\n[output]\ntemplates = 'templates'\n")
    result = cli("build", "--config", str(newsletter / "digest.toml"))
    assert result.exit_code == 5
    assert_one_line_error(result.stderr, "email.mjml.j2:", "template syntax error")
    assert not (cli.cwd / "issues").exists()


def test_a_bad_date_is_a_usage_error(cli: Cli) -> None:
    result = cli("build", "--date", "24/11/2025")
    assert result.exit_code == 2
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", sorted(typer.main.get_command(app).commands))  # type: ignore[attr-defined]
def test_every_command_has_help_with_an_example(cli: Cli, command: str) -> None:
    result = cli(command, "--help")
    assert result.exit_code == 0
    assert "Example: digest " + command in " ".join(result.stdout.split())


def test_version(cli: Cli) -> None:
    result = cli("--version")
    assert result.exit_code == 0 and result.stdout.startswith("digest ")
