"""What the commands say: one line on stderr per message (-q keeps only errors), tables that fit
the terminal, the progress bar, the reports of a build and a send, and the one way an error ends
a command (its exit code; a bug: one line and a crash file)."""

# No `from __future__ import annotations`: typer evaluates every annotation of a command.
import datetime as dt
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from digest.errors import ConfigError, DigestError, ExitCode
from digest.resources import version

if TYPE_CHECKING:
    from rich.table import Table

    from digest.build import Built
    from digest.config import Config
    from digest.models import Issue, Selection
    from digest.send import SendReport


# -q: -1 (errors only), default 0, -v: 1, -vv: 2. Per invocation (a ContextVar), not per process.
VERBOSITY: ContextVar[int] = ContextVar("verbosity", default=0)


ERRORS = ("error", "internal error")


def say(kind: str, message: str) -> None:
    """A line on stderr; under -q only errors (what cron mails) are said."""
    if VERBOSITY.get() >= 0 or kind in ERRORS:
        typer.echo(f"digest: {kind}: {message}", err=True)


# Where a crash file goes: the state folder, once a command has read its config.
CRASH_FOLDER: ContextVar[Path | None] = ContextVar("crash_folder", default=None)


def write_crash(error: BaseException) -> Path:
    """The traceback, for the bug report, in the state folder (else the temporary folder)."""
    import tempfile
    import traceback

    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    text = (
        f"digest {version()} on Python {sys.version.split()[0]}\n"
        f"command: digest {' '.join(sys.argv[1:])}\n\n" + "".join(traceback.format_exception(error))
    )
    for folder in (CRASH_FOLDER.get(), Path(tempfile.gettempdir())):
        if folder is None:
            continue
        path = folder / f"crash-{stamp}-{os.getpid()}.txt"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return path
        except OSError:
            continue
    raise error  # nowhere to write it: the traceback on stderr is better than nothing


@contextmanager
def exit_codes() -> Iterator[None]:
    """A `DigestError` becomes one line on stderr and its documented exit code; Ctrl-C is 130;
    anything else is a bug: one line naming the crash file with the traceback, and exit 70."""
    try:
        yield
    except DigestError as error:
        say("error", str(error))
        raise typer.Exit(int(error.exit_code)) from None
    except KeyboardInterrupt:
        say("error", "interrupted")
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    except (typer.Exit, typer.Abort):
        raise
    except Exception as error:
        path = write_crash(error)
        if VERBOSITY.get() > 0:
            import traceback

            traceback.print_exception(error, file=sys.stderr)
        say("internal error", f"{type(error).__name__}: {error}; this is a bug (the traceback is in {path})")
        raise typer.Exit(int(ExitCode.INTERNAL)) from None


@contextmanager
def progress_bar() -> Iterator[Callable[[int, int], None]]:
    """A progress bar on a terminal; nothing when stderr is a file or a pipe (cron)."""
    from rich.console import Console
    from rich.progress import Progress

    quiet = VERBOSITY.get() < 0 or not sys.stderr.isatty()
    with Progress(transient=True, console=Console(stderr=True), disable=quiet) as bar:
        task = bar.add_task("sending", total=None)

        def progress(done: int, of: int) -> None:
            bar.update(task, completed=done, total=of)

        yield progress


def new_table(*columns: str) -> "Table":
    from rich import box
    from rich.table import Table

    return Table(*columns, box=box.SIMPLE)


def print_table(table: "Table") -> None:
    """On a terminal (or with COLUMNS set) the table fits the width; piped, rows are never
    wrapped, since whatever reads them wants a row a line. NO_COLOR is respected (rich)."""
    from rich.console import Console

    if sys.stdout.isatty() or os.environ.get("COLUMNS", "").isdigit():
        Console().print(table)
    else:
        wide = Console(width=100_000)
        Console(width=wide.measure(table).maximum, soft_wrap=False).print(table)


def print_explanation(selection: "Selection") -> None:
    from digest.selection import EXPLAIN_COLUMNS, explain_rows

    table = new_table(*EXPLAIN_COLUMNS)
    for row in explain_rows(selection):
        table.add_row(*row)
    print_table(table)


def report_build(folder: Path, built: "Built", *, explain: bool = False, variant: str | None = None) -> None:
    if built.analytics:
        say("analytics", built.analytics.line().removeprefix("analytics: "))
    for warning in built.warnings:
        say("warning", warning)
    for skipped in (v for v in built.variants if v.skipped):
        say("variant", f"{skipped.variant.name} skipped: {skipped.skipped}")
    if explain:
        issue = built.issue if not variant else _variant_issue(built, variant)
        print_explanation(issue.selection)
        if built.analytics:  # what the views column rests on
            typer.echo(built.analytics.line())
    typer.echo(str(folder))


def _variant_issue(built: "Built", name: str) -> "Issue":
    found = built.variant(name)
    if found is None:
        names = ", ".join(v.variant.name for v in built.variants) or "none: see [segments]"
        raise ConfigError(f"--variant: no variant {name!r} in this issue (it has {names})")
    if found.issue is None:
        raise ConfigError(f"--variant: {name} was skipped: {found.skipped}")
    return found.issue


def report_send(settings: "Config", report: "SendReport") -> None:
    from digest.models import SendStatus

    listed = report.listed
    for line, address, why in listed.invalid:
        say("warning", f"{settings.send.subscribers}:{line}: {address!r} skipped: {why}")
    if listed.invalid_count > len(listed.invalid):
        say(
            "warning",
            f"{settings.send.subscribers}: and {listed.invalid_count - len(listed.invalid)} more invalid",
        )
    for status, what in (
        (SendStatus.FAILED, "failed"),
        (SendStatus.QUEUED, "not sent yet (a rerun retries)"),
        (SendStatus.UNCONFIRMED, "unconfirmed"),
    ):
        examples = report.examples.get(status, [])
        for email, reply in examples:
            hint = (
                "; rerun with --unconfirmed resend or --unconfirmed skip"
                if status is SendStatus.UNCONFIRMED
                else ""
            )
            say("warning", f"{email}: {what}{': ' + reply if reply else ''}{hint}")
        more = report.left.get(status, 0) - len(examples)
        if more > 0:
            say("warning", f"and {more} more {what.split(' (')[0]}")
    typer.echo(f"digest: {report.summary()}")
    report.raise_if_incomplete()
