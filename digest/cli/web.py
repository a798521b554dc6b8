"""digest preview, history and archive: issues in a browser."""

# No `from __future__ import annotations`: typer evaluates every annotation of a command.
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from digest.cli.options import (
    ConfigOption,
    PortOption,
    commands_group,
    settings_for,
    state_folder,
    with_verbosity,
)
from digest.cli.output import exit_codes, new_table, print_table, say

if TYPE_CHECKING:
    pass

commands = commands_group()


@commands.command(short_help="Preview the issue live in a browser.")
@with_verbosity
def preview(
    config: ConfigOption = None,
    port: PortOption = 8025,
    host: Annotated[
        str,
        typer.Option(
            "--host", metavar="HOST", help="Listen on another address than 127.0.0.1 (only when you mean it)."
        ),
    ] = "127.0.0.1",
    open_browser: Annotated[bool, typer.Option("--open", help="Open the page in your browser.")] = False,
    refetch: Annotated[
        bool, typer.Option("--refetch", help="Fetch URL feeds again on every rebuild.")
    ] = False,
) -> None:
    """Preview the issue in a browser; it rebuilds when the config, a template, the picks, the
    analytics or a local feed changes, and the page follows by itself. Ctrl-C stops it.

    Example: digest preview --open
    """
    with exit_codes():
        settings = settings_for(config)
        from digest.web import Preview, start_preview

        running = start_preview(Preview(settings, state_folder(settings), refetch), host, port)
        typer.echo(f"digest: previewing at {running.url} (Ctrl-C to stop)")
        if open_browser:
            import webbrowser

            webbrowser.open(running.url)
        try:
            while True:
                time.sleep(3600)
        finally:
            running.close()


@commands.command(short_help="List past issues, their sends and rates.")
@with_verbosity
def history(config: ConfigOption = None) -> None:
    """List the issues built here: number, date, subject, stories, how far each was sent, and its
    bounce and complaint rates (from the feedback mailbox), with a warning on the standard error
    for a rate above what mailbox providers act on (bounces 5 %, complaints 0.1 %).

    Example: digest history --config digest.toml
    """
    with exit_codes():
        settings = settings_for(config)
        from digest.state import past_issues

        rows = past_issues(state_folder(settings))
        table = new_table("no.", "date", "subject", "stories", "sent", "bounces", "complaints")
        for row in rows:
            table.add_row(
                str(row.number),
                row.date.isoformat(),
                row.subject,
                str(row.items),
                row.send_status,
                _rate(row.bounces, row.rate(row.bounces)),
                _rate(row.complaints, row.rate(row.complaints)),
            )
        print_table(table)
        for row in rows:
            line = row.variants_line()
            if line:
                typer.echo(f"#{row.number} sent by variant: {line}")
        typer.echo(f"{len(rows)} issue{'s' * (len(rows) != 1)}")
        for row in rows:
            for warning in row.warnings:
                say("warning", f"issue {row.number}: {warning}")


def _rate(count: int, rate: float | None) -> str:
    return "" if rate is None else f"{count} ({rate:.1%})"


@commands.command(short_help="Write the static web archive.")
@with_verbosity
def archive(
    config: ConfigOption = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", metavar="DIR", file_okay=False, help="Where the archive goes (default: ./archive)."
        ),
    ] = None,
) -> None:
    """Write a static web archive of every issue built: an index, one page per issue, and Atom and
    JSON feeds of the newsletter. Its folder is printed as the last line.

    Example: digest archive --out public/newsletter
    """
    with exit_codes():
        settings = settings_for(config)
        from digest.config import archive_dir
        from digest.web import write_archive

        folder = write_archive(
            settings, state_folder(settings), out.absolute() if out else archive_dir(settings, Path.cwd())
        )
        typer.echo(str(folder))
