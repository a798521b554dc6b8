"""The feedback mailbox, wherever it is: a local Maildir or an IMAP folder (feedback.imap).

Both give each message's bytes without marking it read, and file a handled one in the
processed folder (`feedback.processed`); what is not filed stays where it was, unread.
"""

from __future__ import annotations

import mailbox
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
    def __init__(self, path: Path, processed: str) -> None:
        if not (path / "cur").is_dir() or not (path / "new").is_dir():
            raise ConfigError("not a Maildir (it needs cur/ and new/)", path=str(path))
        self._box = mailbox.Maildir(path, factory=None, create=False)
        folders = self._box.list_folders()
        self._processed = (
            self._box.get_folder(processed) if processed in folders else self._box.add_folder(processed)
        )

    def messages(self) -> Iterator[tuple[str, bytes]]:
        for key in list(self._box.iterkeys()):
            yield key, self._box.get_bytes(key)

    def file(self, key: str) -> None:
        self._processed.add(self._box.get_message(key))  # its flags and new/cur kept as they were
        self._box.remove(key)


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
