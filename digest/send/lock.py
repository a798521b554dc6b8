"""One sender at a time: an advisory lock on a file in the state folder.

The operating system releases it when the process ends, however it ends (kill -9 included),
so a crashed run never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from digest.errors import LockedError

LOCK_NAME = "send.lock"


@contextmanager
def exclusive(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockedError("another digest send or run holds the lock", path=str(path)) from None
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{os.getpid()}\n".encode())  # for a person wondering who holds it
        yield
    finally:
        os.close(descriptor)


def sender_lock(state_dir: Path) -> AbstractContextManager[None]:
    """One `digest send` or `digest run` at a time, per state folder."""
    return exclusive(state_dir / LOCK_NAME)
