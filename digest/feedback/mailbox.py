"""The feedback mailbox, wherever it is: a local Maildir or an IMAP folder (feedback.imap).

Both give each message's bytes without marking it read, and file a handled one in the
processed folder (`feedback.processed`); what is not filed stays where it was, unread.
"""

from __future__ import annotations

import contextlib
import mailbox
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from digest.config import Config
from digest.errors import ConfigError


class Mailbox(Protocol):
    def messages(self) -> Iterator[tuple[str, bytes]]:
        """Each message's key and bytes, left unread."""
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

    def messages(self) -> Iterator[tuple[str, bytes]]:
        for subdir in ("new", "cur"):
            for entry in sorted(os.scandir(self._path / subdir), key=lambda e: e.name):
                if entry.is_file() and not entry.name.startswith("."):
                    try:
                        yield f"{subdir}/{entry.name}", Path(entry.path).read_bytes()
                    except FileNotFoundError:  # taken by another reader meanwhile
                        continue

    def file(self, key: str) -> None:
        # FileNotFoundError: filed by another reader meanwhile, so it is where it belongs.
        with contextlib.suppress(FileNotFoundError):
            (self._path / key).rename(self._processed / key)


@contextmanager
def open_mailbox(config: Config, env: Mapping[str, str]) -> Iterator[Mailbox]:
    """The configured mailbox (`feedback.mailbox` must be set), open for one reading."""
    where = config.feedback.mailbox
    if not where:
        raise ConfigError("no feedback.mailbox in the config: nothing to read")
    if where.startswith(("imap:", "imaps:")):
        from digest.feedback.imap import open_imap  # the IMAP client only when it is needed

        with open_imap(config, env) as box:
            yield box
    else:
        yield Maildir(Path(config.resolve(where)), config.feedback.processed)
