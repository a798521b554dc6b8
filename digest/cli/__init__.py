"""The command line: parses flags, calls the library, maps errors to exit codes. Nothing else.

This package is the only one that imports Typer. Each module holds a group of commands
(build, send, feedback, web); `options` the options they share; `output` what they print and
how an error ends them.
"""

# No `from __future__ import annotations`: typer evaluates every annotation of a command.
import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from digest.cli import build, feedback, send, web
from digest.cli.options import ReasonChoice, UnconfirmedChoice
from digest.resources import version

__all__ = ["ReasonChoice", "UnconfirmedChoice", "app", "collect_seldom", "main"]

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


def _version(value: bool) -> None:
    if value:
        typer.echo(f"digest {version()}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", "-V", callback=_version, is_eager=True, help="Show the version and exit."),
    ] = False,
) -> None:
    """Build a weekly newsletter digest from your feeds: lead story, editor's choice, popular."""


# The groups in the order `digest --help` lists them.
for group in (build.commands, send.commands, feedback.commands, web.commands):
    app.add_typer(group)


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
        app(prog_name="digest")


if __name__ == "__main__":  # pragma: no cover
    main()
