"""The one place that knows the order of the stages.

sources → normalize → select → render → outputs.

`compose_issue` is pure (inputs, config and `now` in; an `Issue` out); reading
inputs and writing the folder are the side effects at either end.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from digest.config import Config
from digest.errors import ConfigError, NothingNewError
from digest.manifest import build_manifest, dumps
from digest.models import Feed, Issue
from digest.outputs import write_folder
from digest.render import render_issue
from digest.selection import issue_window, select
from digest.sources import load_analytics, load_feed

HTML_FILE = "index.html"
TEXT_FILE = "digest.txt"
MANIFEST_FILE = "manifest.json"


@dataclass(frozen=True, slots=True)
class Inputs:
    feeds: tuple[Feed, ...]
    pageviews: dict[str, int]


@dataclass(frozen=True, slots=True)
class Built:
    issue: Issue
    files: dict[str, bytes]
    warnings: tuple[str, ...]


def issue_moment(date: dt.date) -> dt.datetime:
    """An issue dated D covers the stories published before D began (UTC)."""
    return dt.datetime.combine(date, dt.time.min, tzinfo=dt.UTC)


def read_inputs(config: Config) -> Inputs:
    if not config.sources.feeds:
        where = str(config.path) if config.path else "digest.toml"
        raise ConfigError("no feeds: set sources.feeds or pass --feed", path=where)
    feeds = tuple(load_feed(source, config.resolve(source)) for source in config.sources.feeds)
    analytics = config.sources.analytics
    pageviews = load_analytics(config.resolve(analytics), analytics) if analytics else {}
    return Inputs(feeds=feeds, pageviews=pageviews)


def compose_issue(inputs: Inputs, config: Config, now: dt.datetime) -> Built:
    date = now.date()
    window = issue_window(now, config.selection.window_days)
    items = [item for feed in inputs.feeds for item in feed.items]
    # A pinned lead alone is no reason to send: "new" means published in the window.
    if not any(item.published and item.published in window for item in items):
        raise NothingNewError(
            f"no stories published between {window.start:%Y-%m-%d} and {window.end:%Y-%m-%d}"
            f" in {len(inputs.feeds)} feed(s): nothing to send"
        )
    selection, warnings = select(
        items, pageviews=inputs.pageviews, config=config.selection, window=window
    )
    rendered = render_issue(selection, config=config, date=date)
    issue = Issue(
        date=date,
        slug=date.isoformat(),
        selection=selection,
        rendered=rendered,
        window=window,
        feeds=inputs.feeds,
    )
    files = {HTML_FILE: rendered.html.encode("utf-8"), TEXT_FILE: rendered.text.encode("utf-8")}
    files[MANIFEST_FILE] = dumps(build_manifest(issue, files, warnings))
    return Built(issue=issue, files=files, warnings=warnings)


def build(config: Config, now: dt.datetime, out_dir: Path) -> tuple[Path, Built]:
    """Read the inputs, compose the issue, write its folder; return the folder and the build."""
    built = compose_issue(read_inputs(config), config, now)
    folder = write_folder(out_dir / built.issue.slug, built.files)
    return folder, built
