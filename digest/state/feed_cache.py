"""The feed cache: what each URL answered last time, for conditional GET."""

from __future__ import annotations

import json

from msgspec import Struct

from digest.models import (
    Feed,
    feed_from_dict,
    feed_to_dict,
)
from digest.resources import version
from digest.state.db import Table


class CachedFeed(Struct, frozen=True):
    etag: str | None
    last_modified: str | None
    feed: Feed


class FeedCache(Table):
    def cached_feed(self, url: str) -> CachedFeed | None:
        """What was fetched from `url` last time, if this version of digest made it."""
        row = self._db.execute(
            "SELECT etag, last_modified, digest_version, feed_json FROM feed_cache WHERE url = ?",
            (url,),
        ).fetchone()
        if row is None or row[2] != version():  # normalization may have changed: fetch afresh
            return None
        return CachedFeed(row[0], row[1], feed_from_dict(json.loads(row[3])))

    def remember_feed(self, url: str, etag: str | None, last_modified: str | None, feed: Feed) -> None:
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO feed_cache VALUES (?, ?, ?, ?, ?)",
                (
                    url,
                    etag,
                    last_modified,
                    version(),
                    json.dumps(feed_to_dict(feed), ensure_ascii=False),
                ),
            )
