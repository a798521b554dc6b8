"""The state database: a real SQLite file, versioned, and never overwritten when it cannot be trusted."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from digest.errors import StateError
from digest.feeds.load import read_feed
from digest.models import (
    NO_SCORE,
    History,
    Issue,
    Item,
    PastIssue,
    Pick,
    Rendered,
    Section,
    Selection,
    Window,
)
from digest.state import DB_NAME, MIGRATIONS, SCHEMA_VERSION, open_state
from digest.state.migrations import _one_key_per_address

from .conftest import SAMPLE


def test_a_new_database_gets_the_current_schema(tmp_path: Path) -> None:
    with open_state(tmp_path / "state") as state:
        assert state.path == tmp_path / "state" / DB_NAME
    db = sqlite3.connect(tmp_path / "state" / DB_NAME)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "feed_cache" in tables


def test_a_cached_feed_comes_back_equal(tmp_path: Path) -> None:
    feed = read_feed(str(SAMPLE / "news.rss"), "news.rss")
    with open_state(tmp_path) as state:
        state.remember_feed("https://x.example/rss", '"e"', None, feed)
    with open_state(tmp_path) as state:
        cached = state.cached_feed("https://x.example/rss")
        assert cached is not None
        assert (cached.etag, cached.last_modified, cached.feed) == ('"e"', None, feed)
        assert state.cached_feed("https://x.example/other") is None


def test_a_cache_entry_from_another_digest_version_is_ignored(tmp_path: Path) -> None:
    feed = read_feed(str(SAMPLE / "news.rss"), "news.rss")
    with open_state(tmp_path) as state:
        state.remember_feed("https://x.example/rss", '"e"', None, feed)
    sqlite3.connect(tmp_path / DB_NAME).execute(
        "UPDATE feed_cache SET digest_version = '0.0.1'"
    ).connection.commit()
    with open_state(tmp_path) as state:
        assert state.cached_feed("https://x.example/rss") is None


def test_a_database_from_a_newer_digest_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / DB_NAME
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    before = path.read_bytes()
    with pytest.raises(StateError, match="made by a newer digest"), open_state(tmp_path):
        pass
    assert path.read_bytes() == before


def test_a_damaged_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / DB_NAME
    path.write_bytes(b"this is not an SQLite database" * 100)
    with pytest.raises(StateError) as caught, open_state(tmp_path):
        pass
    assert "damaged" in str(caught.value) and str(path) in str(caught.value)
    assert path.read_bytes() == b"this is not an SQLite database" * 100


def test_a_database_locked_by_another_process_is_a_clear_error(tmp_path: Path) -> None:
    with open_state(tmp_path):
        pass
    holder = sqlite3.connect(tmp_path / DB_NAME, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        feed = read_feed(str(SAMPLE / "news.rss"), "news.rss")
        locked = pytest.raises(StateError, match="locked by another digest")
        with locked, open_state(tmp_path, busy_timeout=0.2) as state:
            state.remember_feed("https://x.example/rss", None, None, feed)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_mistake_of_the_callers_is_not_blamed_on_the_database(tmp_path: Path) -> None:
    """A constraint the caller breaks, or SQL it gets wrong, is a bug to see as it is, not a
    'damaged database' message sending the editor to look at a healthy file."""
    with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint"), open_state(tmp_path) as state:
        state.ledger(1).take_list([("a@x.example", "a@x.example", "", "")])
        state.ledger(1).record("a@x.example", "delivered-ish")  # type: ignore[arg-type]
    with pytest.raises(sqlite3.OperationalError, match="no such table"), open_state(tmp_path) as state:
        state.ledger(1)._db.execute("SELECT * FROM no_such_table")
    with open_state(tmp_path) as state:  # and the database is as good as before
        ledger = state.ledger(1)
        ledger.take_list([("a@x.example", "a@x.example", "", "")])
        assert ledger.counts() == {"queued": 1}


def built_issue(number: int, date: dt.date, *items: Item) -> Issue:
    picks = tuple(Pick(i, Section.POPULAR, n, NO_SCORE, "test") for n, i in enumerate(items, start=1))
    moment = dt.datetime.combine(date, dt.time.min, tzinfo=dt.UTC)
    return Issue(
        number=number,
        date=date,
        slug=date.isoformat(),
        selection=Selection(None, (), picks),
        rendered=Rendered("Subject", "", "", ""),
        window=Window(moment - dt.timedelta(days=7), moment),
    )


def story(n: int) -> Item:
    return Item(
        id=f"id-{n}", url=f"https://x.example/{n}?utm_source=rss", title=f"S{n}", summary="", published=None
    )


def test_issues_are_numbered_and_remember_their_stories(tmp_path: Path) -> None:
    first, second = dt.date(2025, 11, 17), dt.date(2025, 11, 24)
    with open_state(tmp_path) as state:
        assert state.history(first) == History(number=1)
        state.record_issue(built_issue(1, first, story(1), story(2)), tmp_path / "a")
        history = state.history(second)
        assert history.number == 2
        assert history.previous == PastIssue(1, first, dt.datetime(2025, 11, 17, tzinfo=dt.UTC))
        assert history.used_in(story(1)) == 1
        assert (
            history.used_in(Item(id="other", url="https://x.example/2", title="", summary="", published=None))
            == 1
        )
        assert history.used_in(story(3)) is None
        # Seen from the first issue's own date (a rebuild), its stories are not "used".
        assert state.history(first) == History(number=1)


def test_a_rebuild_replaces_the_issue_and_keeps_its_number(tmp_path: Path) -> None:
    day = dt.date(2025, 11, 24)
    with open_state(tmp_path) as state:
        state.record_issue(built_issue(1, dt.date(2025, 11, 17), story(1)), tmp_path / "a")
        state.record_issue(built_issue(2, day, story(2)), tmp_path / "b")
        assert state.history(day).number == 2
        state.record_issue(built_issue(2, day, story(3)), tmp_path / "b")
    db = sqlite3.connect(tmp_path / DB_NAME)
    assert db.execute("SELECT count(*) FROM issues").fetchone()[0] == 2
    assert db.execute("SELECT item_id FROM issue_items WHERE issue_number = 2").fetchall() == [("id-3",)]


def test_an_older_schema_is_migrated_forward_and_keeps_its_data(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / DB_NAME)
    first = MIGRATIONS[0]
    assert isinstance(first, str)
    db.executescript(first + "PRAGMA user_version = 1;")
    db.execute("INSERT INTO feed_cache VALUES ('https://x.example/f', '\"e\"', NULL, '0', '{}')")
    db.commit()
    db.close()
    with open_state(tmp_path) as state:
        assert state.history(dt.date(2025, 11, 24)).number == 1
    db = sqlite3.connect(tmp_path / DB_NAME)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("SELECT url FROM feed_cache").fetchall() == [("https://x.example/f",)]


def test_addresses_kept_with_a_unicode_domain_migrate_to_the_one_key(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / DB_NAME)
    steps = MIGRATIONS[: MIGRATIONS.index(_one_key_per_address)]
    for number, step in enumerate(steps):
        assert isinstance(step, str)
        db.executescript(f"{step} PRAGMA user_version = {number + 1};")
    db.executescript(
        "INSERT INTO suppressions VALUES"
        " ('chloe@bücher.example', 'unsubscribed', 'endpoint', '2025-11-25', '');"
        "INSERT INTO sends (issue_number, email, status) VALUES (1, 'chloe@bücher.example', 'sent');"
        # both forms in one issue's ledger: the row already under the key stays
        "INSERT INTO sends (issue_number, email, status) VALUES (2, 'dora@bücher.example', 'queued');"
        "INSERT INTO sends (issue_number, email, status) VALUES (2, 'dora@xn--bcher-kva.example', 'sent');"
    )
    db.commit()
    db.close()
    with open_state(tmp_path) as state:
        assert [s.email for s in state.suppressions()] == ["chloe@xn--bcher-kva.example"]
        assert list(state.mailed_in(1)) == ["chloe@xn--bcher-kva.example"]
        assert list(state.mailed_in(2)) == ["dora@xn--bcher-kva.example"]
        assert state.last_mailed("dora@xn--bcher-kva.example") == 2


def schema(path: Path) -> list[tuple[str, str]]:
    db = sqlite3.connect(path)
    try:
        rows = db.execute(
            "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name"
        ).fetchall()
    finally:
        db.close()
    return [(name, " ".join(sql.split())) for name, sql in rows]


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION))
def test_each_migration_step_brings_a_database_of_the_version_before_to_todays_schema(
    tmp_path: Path, version: int
) -> None:
    with open_state(tmp_path / "new"):
        pass
    old = tmp_path / "old"
    old.mkdir()
    db = sqlite3.connect(old / DB_NAME)
    for number, step in enumerate(MIGRATIONS[:version]):
        if isinstance(step, str):
            db.executescript(f"BEGIN; {step} PRAGMA user_version = {number + 1}; COMMIT;")
        else:
            step(db)
            db.execute(f"PRAGMA user_version = {number + 1}")
            db.commit()
    db.close()
    with open_state(old) as state:
        assert state.history(dt.date(2025, 11, 24)).number == 1
    assert schema(old / DB_NAME) == schema(tmp_path / "new" / DB_NAME)
