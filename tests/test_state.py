"""The state database: a real SQLite file, versioned, and never overwritten when it cannot be trusted."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from digest.errors import StateError
from digest.sources import read_feed
from digest.state import DB_NAME, SCHEMA_VERSION, open_state

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


def test_a_database_locked_by_another_process_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("digest.state.BUSY_TIMEOUT", 0.2)
    with open_state(tmp_path):
        pass
    holder = sqlite3.connect(tmp_path / DB_NAME, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        feed = read_feed(str(SAMPLE / "news.rss"), "news.rss")
        with pytest.raises(StateError, match="locked by another digest"), open_state(tmp_path) as state:
            state.remember_feed("https://x.example/rss", None, None, feed)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
