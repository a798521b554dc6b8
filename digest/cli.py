"""The command line: parses flags, calls the library, maps errors to exit codes. Nothing else.

This is the only module that imports Typer.
"""

# No `from __future__ import annotations` here: typer reads every command's parameters on each
# invocation, and would compile and evaluate each annotation string to do it. Names imported
# only for type checking are quoted instead.
import copy
import csv
import datetime as dt
import functools
import gc
import inspect
import io
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

import digest
from digest.errors import ConfigError, DigestError, ExitCode

# Nothing heavy is imported here: `digest --help`, `--version`, a typo and every completion
# keystroke load this module. Each command imports the stages it runs when it runs (below), so
# `digest send` from cron pays for no feed reader, template engine or preview server either.

if TYPE_CHECKING:
    from rich.table import Table

    from digest.build import Built
    from digest.config import Config
    from digest.models import Selection, Unconfirmed
    from digest.send import SendReport

app = typer.Typer(
    name="digest",
    help="Build a weekly newsletter digest from your feeds: lead story, editor's choice, popular.",
    no_args_is_help=True,
    # Plain help, as git and ruff print it: rich would cost a tenth of a second on every --help
    # and every completion keystroke, and it wrapped docstrings mid-sentence.
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


# -q: -1 (errors only), default 0, -v: 1, -vv: 2. Per invocation (a ContextVar), not per process.
_VERBOSITY: ContextVar[int] = ContextVar("verbosity", default=0)
_ERRORS = ("error", "internal error")


def _say(kind: str, message: str) -> None:
    """A line on stderr; under -q only errors (what cron mails) are said."""
    if _VERBOSITY.get() >= 0 or kind in _ERRORS:
        typer.echo(f"digest: {kind}: {message}", err=True)


VerboseOption = Annotated[
    int,
    typer.Option(
        "--verbose",
        "-v",
        count=True,
        show_default=False,
        help="Say what is going on: each feed request, stage timings, the traceback of a bug (-vv: more).",
    ),
]
QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="Nothing on stderr but errors: what cron should mail.")
]


def _verbosity(verbose: int, quiet: bool) -> None:
    """-v turns on digest's log (feed requests, stage timings), -vv every library's too."""
    import logging

    level = -1 if quiet else verbose
    _VERBOSITY.set(level)
    for name in ("", "digest"):  # an earlier invocation's handler, in the same process (tests)
        for handler in logging.getLogger(name).handlers[:]:
            if getattr(handler, "digest_verbosity", False):
                logging.getLogger(name).removeHandler(handler)
    if level > 0:
        handler = logging.StreamHandler(sys.stderr)
        handler.digest_verbosity = True  # type: ignore[attr-defined]
        handler.setFormatter(logging.Formatter("digest: %(name)s: %(message)s"))
        logger = logging.getLogger() if level > 1 else logging.getLogger("digest")
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG if level > 1 else logging.INFO)


def _with_verbosity(function: Callable[..., Any]) -> Callable[..., Any]:
    """The command with -v/--verbose and -q/--quiet added to its own options, so that they work
    after the command's name like every other option (`digest build -q`)."""

    @functools.wraps(function)
    def command(*args: Any, verbose: int = 0, quiet: bool = False, **kwargs: Any) -> Any:
        _verbosity(verbose, quiet)
        return function(*args, **kwargs)

    # Typer reads the signature: the command's own, its annotations evaluated, and the two more.
    signature = inspect.signature(function, eval_str=True)
    extra = [
        inspect.Parameter("verbose", inspect.Parameter.KEYWORD_ONLY, default=0, annotation=VerboseOption),
        inspect.Parameter("quiet", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=QuietOption),
    ]
    command.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), *extra]
    )
    command.__annotations__ = {p.name: p.annotation for p in command.__signature__.parameters.values()}  # type: ignore[attr-defined]
    return command


# Where a crash file goes: the state folder, once a command has read its config.
_CRASH_FOLDER: ContextVar[Path | None] = ContextVar("crash_folder", default=None)


def _write_crash(error: BaseException) -> Path:
    """The traceback, for the bug report, in the state folder (else the temporary folder)."""
    import tempfile
    import traceback

    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    text = (
        f"digest {digest.__version__} on Python {sys.version.split()[0]}\n"
        f"command: digest {' '.join(sys.argv[1:])}\n\n" + "".join(traceback.format_exception(error))
    )
    for folder in (_CRASH_FOLDER.get(), Path(tempfile.gettempdir())):
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
def _exit_codes() -> Iterator[None]:
    """A `DigestError` becomes one line on stderr and its documented exit code; Ctrl-C is 130;
    anything else is a bug: one line naming the crash file with the traceback, and exit 70."""
    try:
        yield
    except DigestError as error:
        _say("error", str(error))
        raise typer.Exit(int(error.exit_code)) from None
    except KeyboardInterrupt:
        _say("error", "interrupted")
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    except (typer.Exit, typer.Abort):
        raise
    except Exception as error:
        path = _write_crash(error)
        if _VERBOSITY.get() > 0:
            import traceback

            traceback.print_exception(error, file=sys.stderr)
        _say("internal error", f"{type(error).__name__}: {error}; this is a bug (the traceback is in {path})")
        raise typer.Exit(int(ExitCode.INTERNAL)) from None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"digest {digest.__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", "-V", callback=_version, is_eager=True, help="Show the version and exit."),
    ] = False,
) -> None:
    """Build a weekly newsletter digest from your feeds: lead story, editor's choice, popular."""


ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        metavar="FILE",
        envvar="DIGEST_CONFIG",
        dir_okay=False,
        help="The newsletter's digest.toml (default: the nearest one here or above; else the sample).",
    ),
]


DateOption = Annotated[
    dt.datetime | None,
    typer.Option(
        "--date",
        metavar="YYYY-MM-DD",
        formats=["%Y-%m-%d"],
        envvar="DIGEST_DATE",
        help="The issue date, YYYY-MM-DD (default: the config's issue.date, else today).",
    ),
]


@app.command(short_help="Build an issue from your feeds.")
@_with_verbosity
def build(
    config: ConfigOption = None,
    feed: Annotated[
        list[str] | None,
        typer.Option(
            "--feed",
            metavar="SRC",
            help="A feed file or URL (RSS, Atom, JSON Feed, OPML); repeatable. Replaces the config's feeds.",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", metavar="DIR", envvar="DIGEST_OUT", file_okay=False, help="Where issue folders go."
        ),
    ] = None,
    date: DateOption = None,
    lead: Annotated[
        str | None, typer.Option("--lead", metavar="URL", help="Pin this story (URL or guid) as the lead.")
    ] = None,
    pick: Annotated[
        list[str] | None,
        typer.Option(
            "--pick", metavar="URL", help="Pin a story (URL or guid) in Editor's choice; repeatable."
        ),
    ] = None,
    explain: Annotated[
        bool, typer.Option("--explain", help="Print every story with its score and why it was (not) picked.")
    ] = False,
    analytics_period: Annotated[
        str | None,
        typer.Option(
            "--analytics-period",
            metavar="START..END",
            help="The days the analytics export covers, when it does not say (2025-11-17..2025-11-23).",
        ),
    ] = None,
) -> None:
    """Build one issue: OUT/<date>/index.html, digest.txt and manifest.json.

    The folder's path is printed as the last line.

    Example: digest build --config digest.toml --date 2025-11-24
    """
    with _exit_codes():
        period = _period(analytics_period) if analytics_period else None
        settings = _settings(
            config, feeds=feed, date=date, out=out, lead=lead, picks=pick, analytics_period=period
        )
        _build(settings, explain=explain)


def _period(text: str) -> tuple[dt.date, dt.date]:
    try:
        start, end = (dt.date.fromisoformat(part.strip()) for part in text.split(".."))
    except ValueError:
        raise ConfigError(f"--analytics-period: expected START..END, two dates, not {text!r}") from None
    if end < start:
        raise ConfigError(f"--analytics-period: {end} is before {start}")
    return start, end


@app.command(short_help="Build a past issue again from its inputs.")
@_with_verbosity
def rebuild(
    issue: Annotated[
        str, typer.Argument(metavar="ISSUE", help="The issue: its number, its date, or its folder.")
    ],
    config: ConfigOption = None,
    templates: Annotated[
        Path | None,
        typer.Option(
            "--templates",
            metavar="DIR",
            file_okay=False,
            help="Render with these templates instead of the config's.",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            metavar="DIR",
            file_okay=False,
            help="Write OUT/<date>/ instead of replacing the issue's folder.",
        ),
    ] = None,
) -> None:
    """Build a past issue again from the snapshot of its inputs in its folder (inputs.zip), with no
    network: the same files byte for byte with the same templates, or the same stories rendered
    with new ones (--templates, or after you changed yours), for the archive.

    Example: digest rebuild 2025-11-24 --templates new-templates --out archive-issues
    """
    with _exit_codes():
        settings = _settings(config, templates=templates)
        from digest.build import rebuild as rebuild_issue

        folder = Path(issue)
        if not folder.is_dir():
            from digest.state import open_state

            with open_state(_state_dir(settings)) as state:
                folder = state.issue_folder(issue)[1]
        target, built = rebuild_issue(folder, settings, out)
        _report_build(target, built)


def _state_dir(settings: "Config") -> Path:
    from digest.config import state_dir

    return state_dir(settings, Path.cwd())


def _settings(
    config: Path | None, *, feeds: list[str] | None = None, own: bool = False, **flags: Any
) -> "Config":
    """The config for a command: `own` for those that act for the user (send, run), which never
    fall back to the bundled sample."""
    from digest.config import CONFIG_NAME, find_config, is_sample, load_config, with_overrides

    path = find_config(config, Path.cwd(), feeds_given=bool(feeds), own=own)
    if is_sample(path):
        _say(
            "note",
            f"no {CONFIG_NAME} here or in a folder above: using the bundled sample newsletter. "
            f"To start your own: digest init (see the README), or pass --config.",
        )
    date = flags.pop("date", None)
    settings = load_config(path, env=os.environ)
    settings = with_overrides(settings, feeds=feeds, date=date.date() if date else None, **flags)
    _CRASH_FOLDER.set(_state_dir(settings))
    return settings


def _report_build(folder: Path, built: "Built", *, explain: bool = False) -> None:
    if built.analytics:
        _say("analytics", built.analytics.line().removeprefix("analytics: "))
    for warning in built.warnings:
        _say("warning", warning)
    if explain:
        _print_explanation(built.issue.selection)
        if built.analytics:  # what the views column rests on
            typer.echo(built.analytics.line())
    typer.echo(str(folder))


def _build(settings: "Config", *, explain: bool = False) -> None:
    from digest.build import build as build_issue
    from digest.build import issue_day
    from digest.config import output_dir, state_dir
    from digest.models import issue_moment

    cwd = Path.cwd()
    now = issue_moment(issue_day(settings, dt.datetime.now(dt.UTC).date()))
    folder, built = build_issue(
        settings, now, output_dir(settings, cwd), state_dir(settings, cwd), env=os.environ
    )
    _report_build(folder, built, explain=explain)


@contextmanager
def _progress_bar() -> Iterator[Callable[[int, int], None]]:
    """A progress bar on a terminal; nothing when stderr is a file or a pipe (cron)."""
    from rich.console import Console
    from rich.progress import Progress

    quiet = _VERBOSITY.get() < 0 or not sys.stderr.isatty()
    with Progress(transient=True, console=Console(stderr=True), disable=quiet) as bar:
        task = bar.add_task("sending", total=None)

        def progress(done: int, of: int) -> None:
            bar.update(task, completed=done, total=of)

        yield progress


def _report_send(settings: "Config", report: "SendReport") -> None:
    from digest.models import SendStatus

    listed = report.listed
    for line, address, why in listed.invalid:
        _say("warning", f"{settings.send.subscribers}:{line}: {address!r} skipped: {why}")
    if listed.invalid_count > len(listed.invalid):
        _say(
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
            _say("warning", f"{email}: {what}{': ' + reply if reply else ''}{hint}")
        more = report.left.get(status, 0) - len(examples)
        if more > 0:
            _say("warning", f"and {more} more {what.split(' (')[0]}")
    typer.echo(f"digest: {report.summary()}")
    report.raise_if_incomplete()


# Choices as Literal types, not the library's enums: `digest --help` and completion must not load
# the models (a test keeps the two lists the same).
UnconfirmedChoice = Literal["resend", "skip"]
ReasonChoice = Literal["unsubscribed", "hard_bounce", "soft_bounces", "complaint", "manual", "imported"]


def _unconfirmed(choice: UnconfirmedChoice | None) -> "Unconfirmed | None":
    from digest.models import Unconfirmed

    return Unconfirmed(choice) if choice else None


UnconfirmedOption = Annotated[
    UnconfirmedChoice | None,
    typer.Option(
        "--unconfirmed",
        metavar="resend|skip",
        help="What to do with recipients an interrupted run may or may not have reached: resend or skip.",
    ),
]


@app.command(short_help="Send a built issue to the subscribers.")
@_with_verbosity
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
    with _exit_codes():
        if test and dry_run:
            raise ConfigError("--test and --dry-run: choose one")
        settings = _settings(config, own=True)
        now, folder = dt.datetime.now(dt.UTC), _state_dir(settings)
        from digest.send import dry_run as dry_run_issue
        from digest.send import send_all, send_test

        if test:
            send_test(settings, folder, issue, test, now=now, env=os.environ)
            typer.echo(f"digest: test copy sent to {test}")
        elif dry_run:
            typer.echo(str(dry_run_issue(settings, folder, issue, None, now=now, env=os.environ)))
        else:
            _read_feedback(settings)
            with _progress_bar() as progress:
                report = send_all(
                    settings,
                    folder,
                    issue,
                    now=now,
                    env=os.environ,
                    unconfirmed=_unconfirmed(unconfirmed),
                    progress=progress,
                )
            _report_send(settings, report)


@app.command(short_help="Build and send this week's issue (cron).")
@_with_verbosity
def run(config: ConfigOption = None, date: DateOption = None, unconfirmed: UnconfirmedOption = None) -> None:
    """Build this week's issue, then send it: for cron. Exit 3, and no send, when nothing is new.

    Example: digest run --config /srv/newsletter/digest.toml
    """
    with _exit_codes():
        settings = _settings(config, own=True, date=date)
        cwd = Path.cwd()
        from digest.build import run_issue
        from digest.config import output_dir, state_dir

        _read_feedback(settings)
        with _progress_bar() as progress:
            report = run_issue(
                settings,
                now=dt.datetime.now(dt.UTC),
                out_dir=output_dir(settings, cwd),
                state_dir=state_dir(settings, cwd),
                env=os.environ,
                unconfirmed=_unconfirmed(unconfirmed),
                on_built=_report_build,
                progress=progress,
            )
        _report_send(settings, report)


PortOption = Annotated[int, typer.Option("--port", "-p", metavar="N", help="The port (0: any free one).")]


@app.command(short_help="Preview the issue live in a browser.")
@_with_verbosity
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
    with _exit_codes():
        settings = _settings(config)
        from digest.web import Preview, start_preview

        running = start_preview(Preview(settings, _state_dir(settings), refetch), host, port)
        typer.echo(f"digest: previewing at {running.url} (Ctrl-C to stop)")
        if open_browser:
            import webbrowser

            webbrowser.open(running.url)
        try:
            while True:
                time.sleep(3600)
        finally:
            running.close()


@app.command(short_help="List past issues, their sends and rates.")
@_with_verbosity
def history(config: ConfigOption = None) -> None:
    """List the issues built here: number, date, subject, stories, how far each was sent, and its
    bounce and complaint rates (from the feedback mailbox), with a warning on the standard error
    for a rate above what mailbox providers act on (bounces 5 %, complaints 0.1 %).

    Example: digest history --config digest.toml
    """
    with _exit_codes():
        settings = _settings(config)
        from digest.state import past_issues

        rows = past_issues(_state_dir(settings))
        table = _table("no.", "date", "subject", "stories", "sent", "bounces", "complaints")
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
        _print_table(table)
        typer.echo(f"{len(rows)} issue{'s' * (len(rows) != 1)}")
        for row in rows:
            for warning in row.warnings:
                _say("warning", f"issue {row.number}: {warning}")


def _rate(count: int, rate: float | None) -> str:
    return "" if rate is None else f"{count} ({rate:.1%})"


@app.command(short_help="Write the static web archive.")
@_with_verbosity
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
    with _exit_codes():
        settings = _settings(config)
        from digest.config import archive_dir
        from digest.web import write_archive

        folder = write_archive(
            settings, _state_dir(settings), out.absolute() if out else archive_dir(settings, Path.cwd())
        )
        typer.echo(str(folder))


@app.command(short_help="Check an issue against the inbox rules.")
@_with_verbosity
def check(
    path: Annotated[
        Path, typer.Argument(metavar="PATH", help="An issue folder (OUT/<date>) or an .html file.")
    ],
) -> None:
    """Check a built issue against the inbox rules; exit 1 on any error.

    Size (Gmail clips at 100 KB), CSS, doctype, lang, title, image alt and width, layout
    tables, heading order, links, scripts, leftover template syntax, text line lengths,
    MIME structure and headers. Each violation is printed with where it is.

    Example: digest check issues/2025-11-24
    """
    with _exit_codes():
        from digest.check import Severity, read_issue
        from digest.check import check as run_check

        violations = run_check(read_issue(path))
        for violation in violations:
            typer.echo(f"{path}/{violation}" if path.is_dir() else f"{path.parent}/{violation}")
        errors = sum(1 for v in violations if v.severity is Severity.ERROR)
        warnings = len(violations) - errors
        typer.echo(f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}: {path}")
        if errors:
            raise typer.Exit(int(ExitCode.CHECK_FAILED))


@app.command(short_help="Start a new newsletter folder.")
@_with_verbosity
def init(
    folder: Annotated[
        Path, typer.Argument(metavar="FOLDER", help="Where to create the newsletter (default: here).")
    ] = Path(),
    language: Annotated[
        str,
        typer.Option(
            "--language", "-l", metavar="TAG", help="The newsletter's language: en, fr, de, es, ru, ar, …"
        ),
    ] = "en",
) -> None:
    """Start a new newsletter: a commented digest.toml, a picks file, a templates folder for
    overrides and a stand-in feed, so that `digest build` works there at once.

    Example: digest init my-newsletter --language fr
    """
    with _exit_codes():
        from digest.config import CONFIG_NAME
        from digest.init import init_newsletter

        for path in init_newsletter(folder, dt.datetime.now(dt.UTC), language):
            typer.echo(f"created {path}")
        typer.echo(f"next: edit {folder / CONFIG_NAME} (your feeds, sender, links), then: digest build")


@app.command(short_help="Read bounces, complaints and unsubscribes.")
@_with_verbosity
def feedback(config: ConfigOption = None) -> None:
    """Read the feedback mailbox (feedback.mailbox: a Maildir, or imaps://user@host/FOLDER):
    hard bounces, complaints and mailed unsubscribe requests whose token verifies suppress their
    addresses; soft bounces count towards feedback.soft_bounce_limit. Handled mail moves to the
    processed folder; the rest stays unread. digest send and digest run do this first.

    Example: digest feedback --config digest.toml
    """
    with _exit_codes():
        settings = _settings(config, own=True)
        if not _read_feedback(settings):
            raise ConfigError("no feedback.mailbox in the config: nothing to read")


def _read_feedback(settings: "Config") -> bool:
    """The feedback mailbox read and its one line printed, when one is configured."""
    from digest.feedback import read_feedback

    report = read_feedback(settings, _state_dir(settings), now=dt.datetime.now(dt.UTC), env=os.environ)
    if report is not None:
        typer.echo(f"digest: {report.summary()}")
    return report is not None


@app.command("unsubscribe-server", short_help="Serve the one-click unsubscribe endpoint.")
@_with_verbosity
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

    with _exit_codes():
        settings = _settings(config, own=True)
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


subscribers_app = typer.Typer(
    no_args_is_help=True, rich_markup_mode=None, short_help="Manage the suppression list."
)
app.add_typer(subscribers_app, name="subscribers")


@subscribers_app.callback()
def _subscribers() -> None:
    """The suppression list (who is never mailed, and why) and the subscriber list.

    Example: digest subscribers suppress someone@example.org --reason unsubscribed
    """


Addresses = Annotated[list[str], typer.Argument(metavar="ADDRESS", help="One or more email addresses.")]


@subscribers_app.command("suppress", short_help="Never mail these addresses again.")
@_with_verbosity
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

    with _exit_codes():
        settings = _settings(config, own=True)
        why = SuppressionReason(reason)
        new = suppress(_state_dir(settings), addresses, why, now=dt.datetime.now(dt.UTC), note=note)
        typer.echo(f"digest: {new} suppressed, {len(addresses) - new} already were")


@subscribers_app.command("unsuppress", short_help="Mail these addresses again.")
@_with_verbosity
def subscribers_unsuppress(addresses: Addresses, config: ConfigOption = None) -> None:
    """Take addresses off the suppression list: the next send mails them again.

    Example: digest subscribers unsuppress someone@example.org
    """
    from digest.feedback import unsuppress

    with _exit_codes():
        settings = _settings(config, own=True)
        removed = unsuppress(_state_dir(settings), addresses)
        typer.echo(
            f"digest: {removed} taken off the suppression list, {len(addresses) - removed} were not on it"
        )


class ListFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


@subscribers_app.command("suppressed", short_help="List the suppressed addresses and why.")
@_with_verbosity
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

    with _exit_codes():
        settings = _settings(config, own=True)
        rows = [
            {
                "email": s.email,
                "reason": s.reason.value,
                "source": s.source.value,
                "at": s.at.isoformat(),
                "detail": s.detail,
            }
            for s in suppressed(_state_dir(settings))
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
            table = _table("email", "reason", "source", "when", "detail")
            for row in rows:
                table.add_row(row["email"], row["reason"], row["source"], row["at"][:16], row["detail"])
            _print_table(table)
            typer.echo(f"{len(rows)} suppressed")


@subscribers_app.command("import", short_help="Import suppressions from a file.")
@_with_verbosity
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

    with _exit_codes():
        settings = _settings(config, own=True)
        read, new = import_file(_state_dir(settings), file, str(file), now=dt.datetime.now(dt.UTC))
        typer.echo(f"digest: {read} read from {file}, {new} newly suppressed")


@subscribers_app.command("export", short_help="Write the subscriber CSV, status updated.")
@_with_verbosity
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
    from digest.issue_folder import writing

    with _exit_codes():
        settings = _settings(config, own=True)
        if out is None:
            export(settings, _state_dir(settings), sys.stdout)
            return
        with writing(out.absolute()) as handle:
            text = io.TextIOWrapper(handle, "utf-8", newline="")
            export(settings, _state_dir(settings), text)
            text.flush()
            text.detach()  # `writing` closes the file and renames it into place
        typer.echo(str(out.absolute()))


def _table(*columns: str) -> "Table":
    from rich import box
    from rich.table import Table

    return Table(*columns, box=box.SIMPLE)


def _print_table(table: "Table") -> None:
    """On a terminal (or with COLUMNS set) the table fits the width; piped, rows are never
    wrapped, since whatever reads them wants a row a line. NO_COLOR is respected (rich)."""
    from rich.console import Console

    if sys.stdout.isatty() or os.environ.get("COLUMNS", "").isdigit():
        Console().print(table)
    else:
        wide = Console(width=100_000)
        Console(width=wide.measure(table).maximum, soft_wrap=False).print(table)


def _print_explanation(selection: "Selection") -> None:
    from digest.selection import EXPLAIN_COLUMNS, explain_rows

    table = _table(*EXPLAIN_COLUMNS)
    for row in explain_rows(selection):
        table.add_row(*row)
    _print_table(table)


@contextmanager
def collect_seldom() -> Iterator[None]:
    """The garbage collector's settings for one command, start to exit.

    A command loads some 450 modules: tens of thousands of objects, none of them garbage.
    CPython's defaults, made for long-lived programs, walk them all again and again while they
    load, and once more at exit: together a fifth of a cold build. So, as mypy does, collect
    seldom (cyclic garbage is still collected, every 200,000 allocations: a 50,000-address send
    peaks at the memory it did before, see `make bench`), and at exit move what is alive out of
    the final collection's way, since the process ends anyway (atexit handlers still run, and
    with them weakref.finalize's).
    """
    gc.set_threshold(200_000, 30, 30)
    try:
        yield
    finally:
        gc.freeze()


def app_for(args: list[str]) -> typer.Typer:
    """The app, holding only the command `args` run, when they name one.

    typer turns every command's signature into click parameters on each invocation (sixteen
    commands: ≈ 5 ms, a seventieth of a cold build), and `digest build` needs its own. `digest`,
    `--help`, `--version`, a misspelt command and shell completion get every command.
    """
    if not args or "_DIGEST_COMPLETE" in os.environ:
        return app
    commands = [c for c in app.registered_commands if _command_name(c) == args[0]]
    groups = [g for g in app.registered_groups if g.name == args[0]]
    if not commands and not groups:
        return app
    one = copy.copy(app)
    one.registered_commands, one.registered_groups = commands, groups
    return one


def _command_name(command: typer.models.CommandInfo) -> str:
    assert command.callback is not None
    return command.name or typer.main.get_command_name(command.callback.__name__)  # as typer does


def main() -> None:
    # pydantic (typer's flag coercion) looks for plugins (logfire and the like) by scanning every
    # installed package's metadata at the first adapter; in digest's process they observe nothing.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    with collect_seldom():
        app_for(sys.argv[1:])(prog_name="digest")


if __name__ == "__main__":  # pragma: no cover
    main()
