"""Each issue's inputs, kept in its folder (`inputs.zip`), so the issue can be built again.

Feeds change by the hour, analytics exports are overwritten, picks files edited: to build last
month's issue again (`digest rebuild`), or render it with this month's templates for the
archive, the issue keeps what went into it: every feed as read (its bytes, URL and HTTP
validators; after a 304, the cached feed it stood for), as digest read it; the analytics
exports and the picks file as they were; the config as resolved (it holds no secret: only the
names of the variables they are in); the state the selection saw (the issue's number, the one
before, the stories earlier issues used); and the moment the issue is dated.

The zip is deterministic (fixed order, timestamps and compression), so the same inputs give the
same bytes and a rebuild gives the folder byte for byte.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from typing import Any

from msgspec import Struct, ValidationError, convert, to_builtins
from msgspec.structs import asdict

from digest.config import MAX_BYTES, Config
from digest.errors import InputError, parsing
from digest.feeds.load import RawFeed
from digest.files import read_member
from digest.models import (
    Feed,
    History,
    PastIssue,
    SourceReport,
    SourceStatus,
    Variant,
    feed_from_dict,
    feed_to_dict,
)
from digest.selection.picks import Picks
from digest.urls import is_url

FORMAT, VERSION = "digest-snapshot", 1
# Where the issue and the state go is the caller's business, not the issue's input.
_CALLERS = ("output", "state", "source")
_INDEX = "snapshot.json"
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can say: no build's clock gets in


class SnapshotError(InputError):
    """A snapshot that is missing, damaged or from another digest: the issue cannot be rebuilt."""


class Snapshot(Struct, frozen=True):
    now: dt.datetime
    config: Config  # as resolved for the issue; its output and state sections are the caller's
    history: History
    feeds: tuple[Feed, ...]
    reports: tuple[SourceReport, ...]
    raw_feeds: tuple[RawFeed, ...]
    exports: tuple[tuple[str, bytes], ...]  # analytics files: (label, bytes)
    picks: Picks
    picks_file: tuple[str, bytes] | None = None
    variants: tuple[Variant, ...] = ()  # built besides the whole issue
    # For monthly variants: the month's earlier issues' stories and analytics files.
    month_feeds: tuple[Feed, ...] = ()
    month_exports: tuple[tuple[str, bytes], ...] = ()
    month_warnings: tuple[str, ...] = ()  # the month's issues that could not be read back


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8")


def pack(snapshot: Snapshot) -> bytes:
    """The snapshot as zip bytes: the same snapshot, the same bytes."""
    files: dict[str, bytes] = {}
    feeds = []
    for n, (feed, raw) in enumerate(zip(snapshot.feeds, snapshot.raw_feeds, strict=True)):
        files[f"feeds/{n:03}.json"] = _json(feed_to_dict(feed))
        if raw.data is not None:
            files[f"feeds/{n:03}.raw"] = raw.data
        feeds.append(
            {
                "label": raw.label,
                # A file's own path says where this machine keeps it: the label is enough.
                "location": raw.location if is_url(raw.location) else None,
                "etag": raw.etag,
                "last_modified": raw.last_modified,
                "raw": f"feeds/{n:03}.raw" if raw.data is not None else None,
                "feed": f"feeds/{n:03}.json",
            }
        )
    exports = []
    for n, (label, data) in enumerate(snapshot.exports):
        files[f"analytics/{n:03}"] = data
        exports.append({"label": label, "file": f"analytics/{n:03}"})
    picks_file = None
    if snapshot.picks_file:
        files["picks"] = snapshot.picks_file[1]
        picks_file = {"label": snapshot.picks_file[0], "file": "picks"}
    history = snapshot.history
    index = {
        "format": FORMAT,
        "version": VERSION,
        "now": snapshot.now.isoformat(),
        "config": {k: v for k, v in to_builtins(snapshot.config, enc_hook=str).items() if k not in _CALLERS},
        "history": {
            "number": history.number,
            "previous": {
                "number": history.previous.number,
                "date": history.previous.date.isoformat(),
                "window_end": history.previous.window_end.isoformat(),
            }
            if history.previous
            else None,
            "used": dict(history.used),
        },
        "feeds": feeds,
        "reports": [asdict(r) for r in snapshot.reports],
        "analytics": exports,
        "picks": {"lead": snapshot.picks.lead, "editors_choice": list(snapshot.picks.editors_choice)},
        "picks_file": picks_file,
    }
    if snapshot.variants:  # only then: a snapshot without variants stays byte for byte as it was
        index["variants"] = [
            {"topics": list(v.topics), "language": v.language, "monthly": v.monthly}
            for v in snapshot.variants
        ]
    if snapshot.month_feeds or snapshot.month_exports or snapshot.month_warnings:
        for n, feed in enumerate(snapshot.month_feeds):
            files[f"month/feeds/{n:03}.json"] = _json(feed_to_dict(feed))
        for n, (_, data) in enumerate(snapshot.month_exports):
            files[f"month/analytics/{n:03}"] = data
        index["month"] = {
            "feeds": [f"month/feeds/{n:03}.json" for n in range(len(snapshot.month_feeds))],
            "analytics": [
                {"label": label, "file": f"month/analytics/{n:03}"}
                for n, (label, _) in enumerate(snapshot.month_exports)
            ],
            "warnings": list(snapshot.month_warnings),
        }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in [(_INDEX, _json(index)), *files.items()]:
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data, compresslevel=9)
    return buffer.getvalue()


def unpack(data: bytes, label: str, max_bytes: int = MAX_BYTES) -> Snapshot:
    """A snapshot read back; anything missing or damaged is a `SnapshotError` naming `label`.
    A member is inflated up to twice `max_bytes` (`sources.max_bytes`: a feed is kept as read
    and as digest read it) and no further."""
    with parsing(label, "snapshot", SnapshotError):  # what the handlers below do not name
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:

                def read(name: str) -> bytes:
                    return read_member(archive, name, label, 2 * max_bytes, "twice sources.max_bytes")

                index = json.loads(read(_INDEX))
                if index.get("format") != FORMAT or index.get("version") != VERSION:
                    raise SnapshotError(
                        f"not a snapshot this digest reads (format {index.get('format')!r},"
                        f" version {index.get('version')!r})",
                        path=label,
                    )
                return _snapshot(index, read)
        except SnapshotError:
            raise
        except (zipfile.BadZipFile, zipfile.LargeZipFile) as error:
            raise SnapshotError(f"damaged snapshot: {error}", path=label) from None
        except (KeyError, ValueError, TypeError, ValidationError, OSError) as error:
            problem = f"{type(error).__name__}: {error}".splitlines()[0]
            raise SnapshotError(f"damaged snapshot: {problem}", path=label) from None


def _snapshot(index: dict[str, Any], read: Any) -> Snapshot:
    history = index["history"]
    previous = history["previous"]
    feeds, raw_feeds = [], []
    for entry in index["feeds"]:
        feeds.append(feed_from_dict(json.loads(read(entry["feed"]))))
        raw_feeds.append(
            RawFeed(
                entry["label"],
                entry["location"] or entry["label"],
                read(entry["raw"]) if entry["raw"] else None,
                entry["etag"],
                entry["last_modified"],
            )
        )
    picks_file = index["picks_file"]
    month = index.get("month") or {}
    return Snapshot(
        now=dt.datetime.fromisoformat(index["now"]),
        config=convert(index["config"], Config),
        history=History(
            number=history["number"],
            previous=PastIssue(
                previous["number"],
                dt.date.fromisoformat(previous["date"]),
                dt.datetime.fromisoformat(previous["window_end"]),
            )
            if previous
            else None,
            used=history["used"],
        ),
        feeds=tuple(feeds),
        reports=tuple(SourceReport(**{**r, "status": SourceStatus(r["status"])}) for r in index["reports"]),
        raw_feeds=tuple(raw_feeds),
        exports=tuple((e["label"], read(e["file"])) for e in index["analytics"]),
        picks=Picks(index["picks"]["lead"], tuple(index["picks"]["editors_choice"])),
        picks_file=(picks_file["label"], read(picks_file["file"])) if picks_file else None,
        variants=tuple(
            Variant(tuple(v["topics"]), v["language"], bool(v.get("monthly")))
            for v in index.get("variants", [])
        ),
        month_feeds=tuple(feed_from_dict(json.loads(read(name))) for name in month.get("feeds", [])),
        month_exports=tuple((e["label"], read(e["file"])) for e in month.get("analytics", [])),
        month_warnings=tuple(month.get("warnings", [])),
    )
