"""digest feedback, unsubscribe-server and subscribers: what readers send back."""

# No `from __future__ import annotations`: typer evaluates every annotation of a command.
import csv
import datetime as dt
import io
import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from digest.cli.options import (
    ConfigOption,
    PortOption,
    ReasonChoice,
    commands_group,
    settings_for,
    state_folder,
    with_verbosity,
)
from digest.cli.output import exit_codes, new_table, print_table
from digest.errors import ConfigError

if TYPE_CHECKING:
    from digest.config import Config

commands = commands_group()


@commands.command(short_help="Read bounces, complaints and unsubscribes.")
@with_verbosity
def feedback(config: ConfigOption = None) -> None:
    """Read the feedback mailbox (feedback.mailbox: a Maildir, or imaps://user@host/FOLDER):
    hard bounces, complaints and mailed unsubscribe requests whose token verifies suppress their
    addresses; soft bounces count towards feedback.soft_bounce_limit. Handled mail moves to the
    processed folder; the rest stays unread. digest send and digest run do this first.

    Example: digest feedback --config digest.toml
    """
    with exit_codes():
        settings = settings_for(config, own=True)
        if not read_feedback(settings):
            raise ConfigError("no feedback.mailbox in the config: nothing to read")


def read_feedback(settings: "Config") -> bool:
    """The feedback mailbox read and its one line printed, when one is configured."""
    from digest.feedback import read_feedback

    report = read_feedback(settings, state_folder(settings), now=dt.datetime.now(dt.UTC), env=os.environ)
    if report is not None:
        typer.echo(f"digest: {report.summary()}")
    return report is not None


@commands.command("unsubscribe-server", short_help="Serve the one-click unsubscribe endpoint.")
@with_verbosity
def unsubscribe_server(
    config: ConfigOption = None,
    port: PortOption = 8026,
    host: Annotated[
        str,
        typer.Option(
            "--host", metavar="HOST", help="Listen on another address than 127.0.0.1 (behind a proxy)."
        ),
    ] = "127.0.0.1",
) -> None:
    """Serve the one-click unsubscribe endpoint (RFC 8058): a POST with a valid token suppresses the
    address; a GET shows a page with a button; a bad token is 400. Put it behind nginx or Caddy.

    Example: digest unsubscribe-server --port 8026
    """
    from digest.feedback.endpoint import app_for, serve

    with exit_codes():
        settings = settings_for(config, own=True)
        try:
            server = serve(app_for(settings, Path.cwd(), os.environ), host, port)
        except OSError as error:
            raise ConfigError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
        typer.echo(
            f"digest: unsubscribe endpoint at http://{host}:{server.getsockname()[1]}/ (Ctrl-C to stop)"
        )
        try:
            server.run()
        finally:
            server.close()


subscribers_app = commands_group(no_args_is_help=True, short_help="Manage the suppression list.")


commands.add_typer(subscribers_app, name="subscribers")


@subscribers_app.callback()
def _subscribers() -> None:
    """The suppression list (who is never mailed, and why) and the subscriber list.

    Example: digest subscribers suppress someone@example.org --reason unsubscribed
    """


Addresses = Annotated[list[str], typer.Argument(metavar="ADDRESS", help="One or more email addresses.")]


@subscribers_app.command("suppress", short_help="Never mail these addresses again.")
@with_verbosity
def subscribers_suppress(
    addresses: Addresses,
    config: ConfigOption = None,
    reason: Annotated[
        ReasonChoice,
        typer.Option("--reason", metavar="REASON", help="Why: unsubscribed, complaint, manual, …"),
    ] = "manual",
    note: Annotated[
        str, typer.Option("--note", metavar="TEXT", help="A note kept with the suppression.")
    ] = "",
) -> None:
    """Never mail these addresses again; `digest send` skips them from now on.

    Example: digest subscribers suppress someone@example.org --reason unsubscribed --note "asked by phone"
    """
    from digest.feedback import suppress
    from digest.models import SuppressionReason

    with exit_codes():
        settings = settings_for(config, own=True)
        why = SuppressionReason(reason)
        new = suppress(state_folder(settings), addresses, why, now=dt.datetime.now(dt.UTC), note=note)
        typer.echo(f"digest: {new} suppressed, {len(addresses) - new} already were")


@subscribers_app.command("unsuppress", short_help="Mail these addresses again.")
@with_verbosity
def subscribers_unsuppress(addresses: Addresses, config: ConfigOption = None) -> None:
    """Take addresses off the suppression list: the next send mails them again.

    Example: digest subscribers unsuppress someone@example.org
    """
    from digest.feedback import unsuppress

    with exit_codes():
        settings = settings_for(config, own=True)
        removed = unsuppress(state_folder(settings), addresses)
        typer.echo(
            f"digest: {removed} taken off the suppression list, {len(addresses) - removed} were not on it"
        )


class ListFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


@subscribers_app.command("suppressed", short_help="List the suppressed addresses and why.")
@with_verbosity
def subscribers_suppressed(
    config: ConfigOption = None,
    output: Annotated[
        ListFormat, typer.Option("--format", metavar="table|csv|json", help="table, csv or json.")
    ] = ListFormat.TABLE,
) -> None:
    """List the suppressed addresses with where each came from: reason, source, when, detail.

    Example: digest subscribers suppressed --format csv > suppressed.csv
    """
    from digest.feedback import suppressed

    with exit_codes():
        settings = settings_for(config, own=True)
        rows = [
            {
                "email": s.email,
                "reason": s.reason.value,
                "source": s.source.value,
                "at": s.at.isoformat(),
                "detail": s.detail,
            }
            for s in suppressed(state_folder(settings))
        ]
        if output is ListFormat.JSON:
            typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        elif output is ListFormat.CSV:
            out = io.StringIO()
            from digest.feedback.lists import safe_cell

            writer = csv.DictWriter(
                out, fieldnames=["email", "reason", "source", "at", "detail"], lineterminator="\n"
            )
            writer.writeheader()
            writer.writerows({key: safe_cell(value) for key, value in row.items()} for row in rows)
            typer.echo(out.getvalue(), nl=False)
        else:
            table = new_table("email", "reason", "source", "when", "detail")
            for row in rows:
                table.add_row(row["email"], row["reason"], row["source"], row["at"][:16], row["detail"])
            print_table(table)
            typer.echo(f"{len(rows)} suppressed")


@subscribers_app.command("import", short_help="Import suppressions from a file.")
@with_verbosity
def subscribers_import(
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE", help="A plain list of addresses, or an SES, Mailgun or Postmark export."
        ),
    ],
    config: ConfigOption = None,
) -> None:
    """Suppress every address in a file: a plain list, or the suppression export of Amazon SES,
    Mailgun or Postmark (recognised from its columns).

    Example: digest subscribers import mailgun-bounces.csv
    """
    from digest.feedback import import_file

    with exit_codes():
        settings = settings_for(config, own=True)
        read, new = import_file(state_folder(settings), file, str(file), now=dt.datetime.now(dt.UTC))
        typer.echo(f"digest: {read} read from {file}, {new} newly suppressed")


@subscribers_app.command("export", short_help="Write the subscriber CSV, status updated.")
@with_verbosity
def subscribers_export(
    config: ConfigOption = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", metavar="FILE", dir_okay=False, help="Write here instead of to stdout."),
    ] = None,
) -> None:
    """The subscriber CSV with each suppressed address's status brought up to date (unsubscribed,
    bounced, complained), for the list owner's own system to take back.

    Example: digest subscribers export --out subscribers-updated.csv
    """
    from digest.feedback import export
    from digest.files import writing

    with exit_codes():
        settings = settings_for(config, own=True)
        if out is None:
            export(settings, state_folder(settings), sys.stdout)
            return
        with writing(out.absolute()) as handle:
            text = io.TextIOWrapper(handle, "utf-8", newline="")
            export(settings, state_folder(settings), text)
            text.flush()
            text.detach()  # `writing` closes the file and renames it into place
        typer.echo(str(out.absolute()))
