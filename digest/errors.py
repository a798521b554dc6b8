"""One error hierarchy for the core; only the CLI turns these into messages and exit codes.

The exit codes are part of the CLI contract (see README): cron jobs and
scripts branch on them, so they never change meaning.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import zipfile


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


# The cap on an input that has no size key of its own (the picks file, a suppression file, the
# subscriber list when it is exported): far beyond any real one, far below what hurts.
MAX_INPUT_BYTES = 64 * 1024 * 1024


def too_large(max_bytes: int, key: str = "sources.max_bytes") -> str:
    """What an input past its size cap is told."""
    return f"larger than the size cap of {max_bytes:,} bytes ({key}), refused"


def read_input_bytes(
    path: Path, label: str, what: str, max_bytes: int = MAX_INPUT_BYTES, key: str = "a built-in limit"
) -> bytes:
    """The bytes of an input file the editor keeps (analytics, picks, subscribers), at most
    `max_bytes` of them: a missing, unreadable or larger one is an `InputError` that names it."""
    try:
        with path.open("rb") as handle:
            if os.fstat(handle.fileno()).st_size > max_bytes:
                raise InputError(too_large(max_bytes, key), path=label)
            data = handle.read(max_bytes + 1)  # a file that grows meanwhile is cut here
    except FileNotFoundError:
        raise InputError(f"{what} not found", path=label) from None
    except OSError as error:
        raise InputError(f"cannot read the {what}: {error}", path=label) from None
    if len(data) > max_bytes:
        raise InputError(too_large(max_bytes, key), path=label)
    return data


def read_member(archive: zipfile.ZipFile, name: str, label: str, max_bytes: int, key: str) -> bytes:
    """One member of a zip, inflated up to `max_bytes` and no further (the size a zip states
    may lie: the inflated bytes are counted as they come)."""
    info = archive.getinfo(name)
    if info.file_size > max_bytes:
        raise InputError(too_large(max_bytes, key), path=f"{label}/{name}")
    with archive.open(info) as member:
        data = member.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise InputError(too_large(max_bytes, key), path=f"{label}/{name}")
    return data


def decode_input(data: bytes, label: str, what: str) -> str:
    """An input file's text (UTF-8, a byte-order mark or not)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(f"cannot read the {what}: {error}", path=label) from None


def read_input(path: Path, label: str, what: str) -> str:
    """The text of an input file the editor keeps, read as `read_input_bytes` reads it."""
    return decode_input(read_input_bytes(path, label, what), label, what)
