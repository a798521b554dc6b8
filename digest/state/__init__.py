"""The state database: one SQLite file in the state folder, the project's only database.

`State` is the open database, made of one class per table (feed cache, issues, send ledger,
suppressions, feedback events), each in its module; `db` holds the connection's rules and
`migrations` the schema. Only this package opens the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from digest.models import IssueSummary
from digest.state.db import BUSY_TIMEOUT, DB_NAME, connected
from digest.state.events import Events
from digest.state.feed_cache import CachedFeed, FeedCache
from digest.state.issues import Issues
from digest.state.ledger import Ledger, Sends
from digest.state.migrations import MIGRATIONS, SCHEMA_VERSION, migrate
from digest.state.suppressions import Suppressions

__all__ = [
    "BUSY_TIMEOUT",
    "DB_NAME",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "CachedFeed",
    "Ledger",
    "State",
    "open_state",
    "past_issues",
]


class State(FeedCache, Issues, Sends, Suppressions, Events):
    """The open state database."""


@contextmanager
def open_state(folder: Path, busy_timeout: float = BUSY_TIMEOUT) -> Iterator[State]:
    """The state database, opened and migrated; closed when the block ends.

    A damaged, locked or newer database is a `StateError` when it is opened. In the block, only
    what the database itself can be blamed for is (locked past the busy timeout, a damaged page,
    a full disk); a constraint or a statement the caller got wrong propagates as the bug it is.
    """
    with connected(folder, busy_timeout, migrate) as (db, path):
        yield State(db, path)


def past_issues(folder: Path) -> list[IssueSummary]:
    """Every issue built with the state folder `folder`, newest first (`digest history`)."""
    with open_state(folder) as state:
        return state.past_issues()
