"""The feedback mailbox, wherever it is: a local Maildir or an IMAP folder (feedback.imap).

Both give each message's bytes without marking it read, and file a handled one in the
processed folder (`feedback.processed`); what is not filed stays where it was, unread.
"""

from __future__ import annotations

import contextlib
import errno
import mailbox
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from digest.errors import ConfigError


def over_limit(size: int, limit: int) -> str:
    return f"{size:,} bytes, over the limit of {limit:,} (feedback.max_message_bytes)"


class Mailbox(Protocol):
    def messages(self, max_bytes: int) -> Iterator[tuple[str, bytes | str]]:
        """Each message's key and bytes, left unread; for one that is not read (over `max_bytes`,
        not a plain file), why instead of its bytes."""
        ...

    def file(self, key: str) -> None:
        """Move a handled message to the processed folder."""
        ...


class Maildir:
    """A Maildir (new/, cur/), and its processed folder, a Maildir++ subfolder (`.Processed`).

    A handled message is renamed into the folder: atomic, its bytes and flags untouched (the
    mailbox module would parse and write it again)."""

    def __init__(self, path: Path, processed: str) -> None:
        if not (path / "cur").is_dir() or not (path / "new").is_dir():
            raise ConfigError("not a Maildir (it needs cur/ and new/)", path=str(path))
        self._path = path
        box = mailbox.Maildir(path, factory=None, create=False)
        if processed not in box.list_folders():
            box.add_folder(processed)  # with its own new/, cur/, tmp/ and maildirfolder marker
        self._processed = path / f".{processed}"

    def messages(self, max_bytes: int) -> Iterator[tuple[str, bytes | str]]:
        for subdir in ("new", "cur"):
            for entry in sorted(os.scandir(self._path / subdir), key=lambda e: e.name):
                if entry.name.startswith("."):
                    continue
                key = f"{subdir}/{entry.name}"
                try:
                    yield key, _read(entry.path, max_bytes)
                except FileNotFoundError:  # taken by another reader meanwhile
                    continue
                except OSError as error:
                    yield key, _why(error)

    def file(self, key: str) -> None:
        # FileNotFoundError: filed by another reader meanwhile, so it is where it belongs.
        with contextlib.suppress(FileNotFoundError):
            (self._path / key).rename(self._processed / key)


def _read(path: str, max_bytes: int) -> bytes | str:
    """A message file's bytes, or why they are not read: never through a symbolic link (anyone
    who can write to the mailbox could point one at any file digest can read), never more than
    `max_bytes` (checked on the open file, which cannot change under us)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            return "not a plain file"
        if info.st_size > max_bytes:
            return over_limit(info.st_size, max_bytes)
        data = handle.read(max_bytes + 1)
    return data if len(data) <= max_bytes else over_limit(len(data), max_bytes)


def _why(error: OSError) -> str:
    if error.errno == errno.ELOOP:
        return "a symbolic link, not followed"
    return f"cannot be opened: {error.strerror or error}"
