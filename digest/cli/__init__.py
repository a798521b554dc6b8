"""The command line: parses flags, calls the library, maps errors to exit codes. Nothing else.

This package is the only one that imports Typer. Each module holds a group of commands
(build, send, feedback, web); `options` the options they share; `output` what they print and
how an error ends them.
"""

# No `from __future__ import annotations`: typer evaluates every annotation of a command.
import gc
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from digest.cli import build, feedback, send, web
from digest.cli.options import ReasonChoice, UnconfirmedChoice, commands_group
from digest.resources import version

__all__ = ["GROUP_OF", "ReasonChoice", "UnconfirmedChoice", "app", "app_for", "collect_seldom", "main"]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"digest {version()}")
        raise typer.Exit()


def _main(
    version: Annotated[
        bool,
        typer.Option("--version", "-V", callback=_version, is_eager=True, help="Show the version and exit."),
    ] = False,
) -> None:
    """Build a weekly newsletter digest from your feeds: lead story, editor's choice, popular."""


def app_of(*groups: typer.Typer) -> typer.Typer:
    """The digest command with `groups` in it, in that order (typer's add_typer without a name
    takes a group's commands in whole)."""
    made = commands_group(
        name="digest",
        help="Build a weekly newsletter digest from your feeds: lead story, editor's choice, popular.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
    )
    made.callback()(_main)
    for group in groups:
        made.add_typer(group)
    return made


# The groups in the order `digest --help` lists them.
app = app_of(build.commands, send.commands, feedback.commands, web.commands)

# Which group holds each command. typer turns every command's signature into click parameters
# on each run (sixteen commands: some 20 M instructions, over a hundredth of a cold build);
# `digest NAME` runs the app of NAME's group alone. A test holds this table to the app, and
# each command's help to the whole app's.
GROUP_OF = {
    **dict.fromkeys(("build", "rebuild", "check", "init"), build.commands),
    **dict.fromkeys(("send", "run"), send.commands),
    **dict.fromkeys(("feedback", "unsubscribe-server", "subscribers"), feedback.commands),
    **dict.fromkeys(("preview", "history", "archive"), web.commands),
}


def app_for(args: list[str]) -> typer.Typer:
    """The app a run with `args` needs: its command's group alone when they name one; the whole
    app for `digest`, `--help`, `--version`, a misspelt command and shell completion."""
    group = GROUP_OF.get(args[0]) if args and "_DIGEST_COMPLETE" not in os.environ else None
    return app_of(group) if group is not None else app


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


def main() -> None:
    # pydantic (typer's flag coercion) looks for plugins (logfire and the like) by scanning every
    # installed package's metadata at the first adapter; in digest's process they observe nothing.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    with collect_seldom():
        app_for(sys.argv[1:])(prog_name="digest")


if __name__ == "__main__":  # pragma: no cover
    main()
