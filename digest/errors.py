"""One error hierarchy for the core; only the CLI turns these into messages and exit codes.

The exit codes are part of the CLI contract (see README): cron jobs and
scripts branch on them, so they never change meaning.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass


class ExitCode(IntEnum):
    OK = 0
    CHECK_FAILED = 1
    USAGE = 2
    NOTHING_NEW = 3
    NO_FEED = 4
    RENDER = 5
    SEND = 6
    LOCKED = 7
    FEEDBACK = 8  # the feedback mailbox could not be read: nothing was sent
    # `digest check --deliverability`: an error in this tier (the first tier with one decides)
    UNDELIVERABLE_MESSAGE = 9  # the message itself: signature, unsubscribe headers, content, spam score
    UNDELIVERABLE_DOMAIN = 10  # the domain's DNS: SPF, the DKIM key, DMARC
    UNDELIVERABLE_RECEIVER = 11  # a copy sent to a real mailbox: not there, not authenticated, or in Junk
    INTERNAL = 70  # a bug: one line, the traceback in a crash file (sysexits' EX_SOFTWARE)
    INTERRUPTED = 130


class DigestError(Exception):
    """A failure the user can act on. `str()` is one line that names the file and the problem."""

    exit_code: ExitCode = ExitCode.USAGE

    def __init__(self, message: str, *, path: str | None = None) -> None:
        self.message = message
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class ConfigError(DigestError):
    exit_code = ExitCode.USAGE


class SourceError(DigestError):
    """A feed or another input could not be read or understood."""

    exit_code = ExitCode.NO_FEED


class InputError(DigestError):
    """An input other than a feed (analytics export, picks file) is unreadable or malformed."""

    exit_code = ExitCode.USAGE


class NothingNewError(DigestError):
    """No story in the window: not a failure, but nothing worth sending (cron skips the send)."""

    exit_code = ExitCode.NOTHING_NEW


class StateError(DigestError):
    """The state database is unusable (damaged, locked, from a newer version): never overwritten."""

    exit_code = ExitCode.USAGE


class LockedError(DigestError):
    exit_code = ExitCode.LOCKED


class SendError(DigestError):
    """Some recipients were not sent to (failed, deferred or unconfirmed); a rerun resumes."""

    exit_code = ExitCode.SEND


class FeedbackError(DigestError):
    """The feedback mailbox is unreachable or refused us: a send waits, so nobody who asked to
    leave is mailed because their request could not be read."""

    exit_code = ExitCode.FEEDBACK


class RenderError(DigestError):
    exit_code = ExitCode.RENDER


class OutputRefused(DigestError):
    """An output folder digest would replace holds files it did not write: nothing is touched."""

    exit_code = ExitCode.USAGE


class OutputError(DigestError):
    """The issue folder could not be written."""

    exit_code = ExitCode.RENDER


# What parsers raise on a file they cannot take, beyond their own error classes: nesting too
# deep (RecursionError), a number too long or too large (ValueError, OverflowError), bytes that
# are no text (UnicodeError), an encrypted or unsupported zip member (RuntimeError,
# NotImplementedError), a truncated stream (EOFError). Named by module, looked up only when one
# is raised: a module not imported cannot have raised its error, and importing it costs start-up.
_BUILTIN_PARSE_ERRORS = (ValueError, ArithmeticError, RuntimeError, NotImplementedError, EOFError)
_MODULE_PARSE_ERRORS = (("csv", "Error"), ("zipfile", "BadZipFile"), ("zlib", "error"))


def _is_parse_error(error: Exception) -> bool:
    if isinstance(error, _BUILTIN_PARSE_ERRORS):
        return True
    for module, name in _MODULE_PARSE_ERRORS:
        kind = getattr(sys.modules.get(module), name, None)
        if kind is not None and isinstance(error, kind):
            return True
    return False


def _what_went_wrong(error: Exception) -> str:
    if isinstance(error, RecursionError):
        return "nested too deep"
    if isinstance(error, ValueError) and "integer string conversion" in str(error):
        return "a number too long"
    first = (str(error).splitlines() or [type(error).__name__])[0]
    return first[:200] or type(error).__name__


@contextmanager
def parsing(label: str, what: str, kind: type[DigestError] = InputError) -> Iterator[None]:
    """Reading an input file the editor (or a stranger) gave us: whatever its parser chokes on is a
    `kind` error naming the file, never a traceback; digest's own errors pass through."""
    try:
        yield
    except DigestError:
        raise
    except Exception as error:
        if not _is_parse_error(error):
            raise
        raise kind(f"cannot read the {what}: {_what_went_wrong(error)}", path=label) from None
