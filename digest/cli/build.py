"""digest build, rebuild, check and init: making and checking issues."""

# No `from __future__ import annotations`: typer evaluates every annotation of a command.
import datetime as dt
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from digest.cli.options import (
    ConfigOption,
    DateOption,
    commands_group,
    settings_for,
    state_folder,
    with_verbosity,
)
from digest.cli.output import exit_codes, report_build, say
from digest.errors import ConfigError, ExitCode

if TYPE_CHECKING:
    from digest.config import Config

commands = commands_group()


@commands.command(short_help="Build an issue from your feeds.")
@with_verbosity
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
    variant: Annotated[
        str | None,
        typer.Option(
            "--variant", metavar="NAME", help="With --explain: that variant's stories (economy.fr)."
        ),
    ] = None,
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
    with exit_codes():
        period = _period(analytics_period) if analytics_period else None
        settings = settings_for(
            config, feeds=feed, date=date, out=out, lead=lead, picks=pick, analytics_period=period
        )
        if variant and not explain:
            raise ConfigError("--variant goes with --explain: which variant's choices to print")
        _build(settings, explain=explain, variant=variant)


def _period(text: str) -> tuple[dt.date, dt.date]:
    try:
        start, end = (dt.date.fromisoformat(part.strip()) for part in text.split(".."))
    except ValueError:
        raise ConfigError(f"--analytics-period: expected START..END, two dates, not {text!r}") from None
    if end < start:
        raise ConfigError(f"--analytics-period: {end} is before {start}")
    return start, end


@commands.command(short_help="Build a past issue again from its inputs.")
@with_verbosity
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
    with exit_codes():
        settings = settings_for(config, templates=templates)
        from digest.build import rebuild as rebuild_issue

        folder = Path(issue)
        if not folder.is_dir():
            from digest.state import open_state

            with open_state(state_folder(settings)) as state:
                folder = state.issue_folder(issue)[1]
        target, built = rebuild_issue(folder, settings, out)
        report_build(target, built)


def _build(settings: "Config", *, explain: bool = False, variant: str | None = None) -> None:
    from digest.build import build as build_issue
    from digest.build import issue_day
    from digest.config import output_dir, state_dir
    from digest.models import issue_moment

    cwd = Path.cwd()
    now = issue_moment(issue_day(settings, dt.datetime.now(dt.UTC).date()))
    folder, built = build_issue(
        settings, now, output_dir(settings, cwd), state_dir(settings, cwd), env=os.environ
    )
    report_build(folder, built, explain=explain, variant=variant)


@commands.command(short_help="Check an issue: inbox rules, deliverability.")
@with_verbosity
def check(
    path: Annotated[
        Path | None,
        typer.Argument(
            metavar="[PATH]",
            help="An issue folder (OUT/<date>) or an .html file; --deliverability: the latest if left out.",
        ),
    ] = None,
    deliverability: Annotated[
        bool,
        typer.Option(
            "--deliverability",
            help="Will it land in the inbox? The signed copy, the domain's DNS; with --via-imap a mailbox.",
        ),
    ] = False,
    config: ConfigOption = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="With --deliverability: the message only, no DNS.")
    ] = False,
    nameserver: Annotated[
        str | None,
        typer.Option(
            "--nameserver", metavar="HOST[:PORT]", help="Ask this DNS server, not the system's resolver."
        ),
    ] = None,
    dns_answers: Annotated[
        Path | None,
        typer.Option("--dns-answers", metavar="FILE", help="Replay the DNS answers an earlier check saved."),
    ] = None,
    via_imap: Annotated[
        str | None,
        typer.Option(
            "--via-imap",
            metavar="ADDRESS",
            help="Send a test copy to ADDRESS, whose mailbox [feedback] opens, and read how it was filed.",
        ),
    ] = None,
    wait: Annotated[
        float, typer.Option("--wait", metavar="SECONDS", help="How long --via-imap waits for the copy.")
    ] = 120.0,
) -> None:
    """Check a built issue against the inbox rules; exit 1 on any error.

    Size (Gmail clips at 100 KB), CSS, doctype, lang, title, image alt and width, layout
    tables, heading order, links, scripts, leftover template syntax, text line lengths,
    MIME structure and headers. Each violation is printed with where it is.

    With --deliverability, three tiers, each a line per finding and an exit code of its own
    (the first tier with an error decides): 9 the message (DKIM, one-click unsubscribe, hidden
    text, SpamAssassin), 10 the domain (SPF, the DKIM key in DNS, DMARC), 11 the receiver.

    Example: digest check issues/2025-11-24
    """
    with exit_codes():
        if deliverability:
            _deliverability(path, config, offline, nameserver, dns_answers, via_imap, wait)
            return
        if path is None:
            raise ConfigError("PATH: which issue to check (an issue folder or an .html file)")
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


def _deliverability(
    path: Path | None,
    config: Path | None,
    offline: bool,
    nameserver: str | None,
    dns_answers: Path | None,
    via_imap: str | None,
    wait: float,
) -> None:
    from digest.deliverability.commands import Preflight, run_preflight

    settings = settings_for(config)
    options = Preflight(offline, nameserver, dns_answers, via_imap, wait)
    which = path.name if path is not None else None  # an issue folder is named by its date
    verdicts = run_preflight(
        settings, state_folder(settings), which, options, env=os.environ, now=dt.datetime.now(dt.UTC)
    )
    for verdict in verdicts:
        for finding in verdict.findings:
            say(str(finding.severity), f"{finding.topic}: {finding.message}")
        typer.echo(verdict.summary())
    failed = next((v.tier for v in verdicts if v.failed), None)
    if failed is not None:
        raise typer.Exit(int(failed.exit_code))


@commands.command(short_help="Start a new newsletter folder.")
@with_verbosity
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
    dkim: Annotated[
        bool,
        typer.Option(
            "--dkim",
            help="Make a DKIM key (with the newsletter, or for one) and print the DNS records to publish.",
        ),
    ] = False,
) -> None:
    """Start a new newsletter: a commented digest.toml, a picks file, a templates folder for
    overrides and a stand-in feed, so that `digest build` works there at once.

    With --dkim: a DKIM key too (dkim.pem, readable by you alone; an existing key is kept), and
    the TXT records to publish in DNS: the key, SPF and DMARC.

    Example: digest init my-newsletter --language fr
    """
    with exit_codes():
        from digest.config import CONFIG_NAME
        from digest.init import init_dkim, init_newsletter

        now = dt.datetime.now(dt.UTC)
        if not dkim:
            for path in init_newsletter(folder, now, language):
                typer.echo(f"created {path}")
            typer.echo(f"next: edit {folder / CONFIG_NAME} (your feeds, sender, links), then: digest build")
            return
        setup = init_dkim(folder, now, language)
        for path in setup.created:
            typer.echo(f"created {path}")
        if setup.key_file not in setup.created:
            typer.echo(f"kept {setup.key_file}: it may be published already")
        if setup.add_to_config:
            typer.echo(f"add to {folder / CONFIG_NAME}:")
            for line in setup.add_to_config:
                typer.echo(f"  {line}")
        typer.echo("publish these DNS records (SPF: list every host that sends for the domain):")
        for record in setup.records:
            typer.echo(record)
