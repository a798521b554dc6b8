"""digest send and run: an issue to its subscribers, and the cron job."""

# No `from __future__ import annotations`: typer evaluates every annotation of a command.
import datetime as dt
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from digest.cli.feedback import read_feedback
from digest.cli.options import (
    ConfigOption,
    DateOption,
    UnconfirmedOption,
    commands_group,
    settings_for,
    state_folder,
    unconfirmed_choice,
    with_verbosity,
)
from digest.cli.output import exit_codes, progress_bar, report_build, report_send
from digest.errors import ConfigError

if TYPE_CHECKING:
    pass

commands = commands_group()


@commands.command(short_help="Send a built issue to the subscribers.")
@with_verbosity
def send(
    issue: Annotated[
        str | None,
        typer.Argument(metavar="ISSUE", help="Issue number or date (default: the latest built)."),
    ] = None,
    config: ConfigOption = None,
    test: Annotated[
        str | None,
        typer.Option("--test", metavar="ADDRESS", help="Send one copy marked [TEST] to this address only."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Write each subscriber's message as .eml into the issue folder.")
    ] = False,
    unconfirmed: UnconfirmedOption = None,
) -> None:
    """Send a built issue to every subscriber over SMTP: resumable, never twice, under a lock.

    The SMTP password comes from $DIGEST_SMTP_PASSWORD (or smtp.password_file), never from
    digest.toml. Exit 6 when some recipients are left (a rerun resumes), 7 when another run holds
    the lock.

    Example: digest send 2025-11-24 --test editor@example.org
    """
    with exit_codes():
        if test and dry_run:
            raise ConfigError("--test and --dry-run: choose one")
        settings = settings_for(config, own=True)
        now, folder = dt.datetime.now(dt.UTC), state_folder(settings)
        from digest.send import dry_run as dry_run_issue
        from digest.send import send_all, send_test

        if test:
            send_test(settings, folder, issue, test, now=now, env=os.environ)
            typer.echo(f"digest: test copy sent to {test}")
        elif dry_run:
            typer.echo(str(dry_run_issue(settings, folder, issue, None, now=now, env=os.environ)))
        else:
            read_feedback(settings)
            with progress_bar() as progress:
                report = send_all(
                    settings,
                    folder,
                    issue,
                    now=now,
                    env=os.environ,
                    unconfirmed=unconfirmed_choice(unconfirmed),
                    progress=progress,
                )
            report_send(settings, report)


@commands.command(short_help="Build and send this week's issue (cron).")
@with_verbosity
def run(config: ConfigOption = None, date: DateOption = None, unconfirmed: UnconfirmedOption = None) -> None:
    """Build this week's issue, then send it: for cron. Exit 3, and no send, when nothing is new.

    Example: digest run --config /srv/newsletter/digest.toml
    """
    with exit_codes():
        settings = settings_for(config, own=True, date=date)
        cwd = Path.cwd()
        from digest.build import run_issue
        from digest.config import output_dir, state_dir

        read_feedback(settings)
        with progress_bar() as progress:
            report = run_issue(
                settings,
                now=dt.datetime.now(dt.UTC),
                out_dir=output_dir(settings, cwd),
                state_dir=state_dir(settings, cwd),
                env=os.environ,
                unconfirmed=unconfirmed_choice(unconfirmed),
                on_built=report_build,
                progress=progress,
            )
        report_send(settings, report)
