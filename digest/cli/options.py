"""The options the commands share (--config, --date, --port, -v/-q, --unconfirmed), their help,
and the config each command runs with."""

# No `from __future__ import annotations`: typer evaluates every annotation of a command.
import datetime as dt
import functools
import inspect
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from digest.cli.output import CRASH_FOLDER, VERBOSITY, say

if TYPE_CHECKING:
    from digest.config import Config
    from digest.models import Unconfirmed


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


def set_verbosity(verbose: int, quiet: bool) -> None:
    """-v turns on digest's log (feed requests, stage timings), -vv every library's too."""
    import logging

    level = -1 if quiet else verbose
    VERBOSITY.set(level)
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


def with_verbosity(function: Callable[..., Any]) -> Callable[..., Any]:
    """The command with -v/--verbose and -q/--quiet added to its own options, so that they work
    after the command's name like every other option (`digest build -q`)."""

    @functools.wraps(function)
    def command(*args: Any, verbose: int = 0, quiet: bool = False, **kwargs: Any) -> Any:
        set_verbosity(verbose, quiet)
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


PortOption = Annotated[int, typer.Option("--port", "-p", metavar="N", help="The port (0: any free one).")]


# Choices as Literal types, not the library's enums: `digest --help` and completion must not load
# the models (a test keeps the two lists the same).
UnconfirmedChoice = Literal["resend", "skip"]


ReasonChoice = Literal["unsubscribed", "hard_bounce", "soft_bounces", "complaint", "manual", "imported"]


def unconfirmed_choice(choice: UnconfirmedChoice | None) -> "Unconfirmed | None":
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


def state_folder(settings: "Config") -> Path:
    from digest.config import state_dir

    return state_dir(settings, Path.cwd())


def settings_for(
    config: Path | None, *, feeds: list[str] | None = None, own: bool = False, **flags: Any
) -> "Config":
    """The config for a command: `own` for those that act for the user (send, run), which never
    fall back to the bundled sample."""
    from digest.config import CONFIG_NAME, find_config, is_sample, load_config, with_overrides

    path = find_config(config, Path.cwd(), feeds_given=bool(feeds), own=own)
    if is_sample(path):
        say(
            "note",
            f"no {CONFIG_NAME} here or in a folder above: using the bundled sample newsletter. "
            f"To start your own: digest init (see the README), or pass --config.",
        )
    date = flags.pop("date", None)
    settings = load_config(path, env=os.environ)
    settings = with_overrides(settings, feeds=feeds, date=date.date() if date else None, **flags)
    CRASH_FOLDER.set(state_folder(settings))
    return settings


def commands_group(**settings: Any) -> typer.Typer:
    """A Typer with digest's help: a group of commands that the app takes in whole (`add_typer`
    without a name), the app itself, or a named group (`subscribers`), as `settings` say."""
    return typer.Typer(
        # Plain help, as git and ruff print it: rich would cost a tenth of a second on every
        # --help and every completion keystroke, and it wrapped docstrings mid-sentence.
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
        **settings,
    )
