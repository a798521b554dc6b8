"""The one place that knows the order of the stages.

feeds (read, normalize) → selection → render → check → the issue folder.

`compose_issue` is pure (inputs, config and `now` in; an `Issue` and its files out);
reading the inputs and writing the folder are the side effects at either end.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from msgspec import Struct
from msgspec.structs import replace

from digest import issue_folder
from digest.analytics import Coverage, PageViews, Site, coverage, page_views, read_exports
from digest.analytics.api import fetch_api, is_api
from digest.check import HTML_LIMIT, Parts, check
from digest.config import Config, TopicConfig, user_templates
from digest.errors import ConfigError, DigestError, NothingNewError, SourceError
from digest.feeds import Limits, Loaded, Source, load_sources, merge_duplicates
from digest.feeds.load import RawFeed
from digest.files import read_input_bytes
from digest.models import (
    WHOLE,
    Feed,
    History,
    Issue,
    Item,
    Rendered,
    Selection,
    SourceReport,
    SourceStatus,
    Variant,
    Window,
    issue_moment,
)
from digest.render import (
    build_manifest,
    build_message,
    direction_of,
    environment,
    labels_for,
    manifest_json,
    render_issue,
)
from digest.selection import (
    FIRST_ISSUE,
    NO_PICKS,
    Choice,
    Picks,
    combine,
    drop_last,
    issue_window,
    picks_from,
    select,
)
from digest.snapshot import Snapshot, pack, unpack
from digest.state import State, open_state

if TYPE_CHECKING:
    import httpx

    from digest.send import Progress, SendReport, Unconfirmed

log = logging.getLogger(__name__)


class Inputs(Struct, frozen=True):
    items: tuple[Item, ...]
    reports: tuple[SourceReport, ...]
    pageviews: Mapping[str, int]  # PageViews: looked up by any URL of a page
    picks: Picks = NO_PICKS
    feeds: tuple[Feed, ...] = ()  # as read, before duplicates were merged
    # Kept in the issue's snapshot, beside what selection uses: the sources as read.
    raw_feeds: tuple[RawFeed, ...] = ()
    exports: tuple[tuple[str, bytes], ...] = ()  # analytics files, (label, bytes)
    picks_file: tuple[str, bytes] | None = None


class Month(Struct, frozen=True):
    """The month's earlier issues' inputs, for the monthly variants of its last issue."""

    start: dt.datetime
    feeds: tuple[Feed, ...] = ()
    exports: tuple[tuple[str, bytes], ...] = ()
    warnings: tuple[str, ...] = ()  # the month's issues that could not be read back


def month_start(now: dt.datetime) -> dt.datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


class BuiltVariant(Struct, frozen=True):
    """A variant of the issue as built: its issue and files, or why it was skipped."""

    variant: Variant
    issue: Issue | None = None
    contents: issue_folder.Contents | None = None
    warnings: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    skipped: str | None = None  # why its readers get nothing this time

    def files(self) -> dict[str, bytes]:
        """Its files, in its own folder of the issue folder, its manifest among them."""
        if self.issue is None or self.contents is None:
            return {}
        files = self.contents.files()
        manifest = build_manifest(self.issue, (), files, self.warnings, merge_tags=self.tags)
        folder = issue_folder.variant_folder(self.variant.name)
        return {
            f"{folder}/{name}": data
            for name, data in issue_folder.with_manifest(files, manifest_json(manifest)).items()
        }

    def summary(self) -> dict[str, object]:
        """What the issue's manifest says of it."""
        picks = self.issue.selection.picks if self.issue else ()
        return {
            "name": self.variant.name,
            "topics": list(self.variant.topics),
            "language": self.variant.language or None,
            "cadence": "monthly" if self.variant.monthly else "weekly",
            "stories": len(picks),
            "skipped": self.skipped,
        }


class Built(Struct, frozen=True):
    issue: Issue
    files: dict[str, bytes]
    warnings: tuple[str, ...]
    analytics: Coverage | None = None  # what the page views reached, when there were any
    variants: tuple[BuiltVariant, ...] = ()  # besides the whole issue (the folder itself)

    def variant(self, name: str) -> BuiltVariant | None:
        """Variant `name` as built (or skipped); None when the issue has none of that name."""
        return next((v for v in self.variants if v.variant.name == name), None)


def issue_day(config: Config, today: dt.date) -> dt.date:
    """The date of the issue to build: the config's `issue.date` (or `--date`), else today."""
    return config.issue.date or today


def limits(config: Config) -> Limits:
    s = config.sources
    return Limits(s.timeout, s.connect_timeout, s.max_bytes, s.max_redirects)


def _check(loaded: Loaded, config: Config) -> None:
    """One failing source is a warning; all failing, or any under `sources.strict`, is fatal."""
    failed = [r for r in loaded.reports if r.status is SourceStatus.FAILED]
    if failed and config.sources.strict:
        first = failed[0]
        raise SourceError(
            f"{first.error} (sources.strict: any failing feed stops the build)", path=first.source
        )
    if not loaded.feeds:
        shown = "; ".join(f"{r.source}: {r.error}" for r in failed[:3])
        more = f"; and {len(failed) - 3} more" if len(failed) > 3 else ""
        raise SourceError(f"no feed could be read: {shown}{more}")


def site_of(config: Config) -> Site:
    return Site(config.newsletter.url, tuple(config.sources.site_urls))


def read_analytics(
    config: Config, period: tuple[dt.date, dt.date] | None, env: Mapping[str, str]
) -> tuple[PageViews, list[tuple[str, bytes]], list[SourceReport]]:
    """Page views from `sources.analytics` (files and APIs, added up), the exports' bytes, and
    the APIs that failed (a warning; under `sources.strict`, a SourceError)."""
    given, sources = config.sources.analytics, config.sources
    labels = [given] if isinstance(given, str) else list(given or [])
    exports, failed = [], []
    for label in labels:
        if not is_api(label):
            exports += read_exports([(Path(config.resolve(label)), label)], config.sources.max_bytes)
            continue
        try:
            if period is None:
                raise SourceError("an analytics API is asked for the issue's window: none given", path=label)
            token = env.get(sources.analytics_token_env)
            exports.append((label, fetch_api(label, token=token, period=period, limits=sources)))
        except SourceError as error:
            if sources.strict:
                raise
            failed.append(SourceReport(label, SourceStatus.FAILED, error=error.message))
    return views_of(config, exports), exports, failed


def views_of(config: Config, exports: Sequence[tuple[str, bytes]]) -> PageViews:
    """The page views in `exports`, read as `config` says (site, format, the stated period)."""
    given = config.sources.analytics_period
    stated = (given[0], given[1]) if given else None
    sources = config.sources
    return page_views(exports, site_of(config), sources.analytics_format, stated, sources.max_bytes)


def window_dates(window: Window) -> tuple[dt.date, dt.date]:
    """The days a window covers, first and last (its end is exclusive)."""
    return window.start.date(), (window.end - dt.timedelta(microseconds=1)).date()


def read_inputs(
    config: Config,
    state: State | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    reuse: Mapping[str, Feed] | None = None,
    *,
    period: tuple[dt.date, dt.date] | None = None,
    env: Mapping[str, str] | None = None,
) -> Inputs:
    """Every input of an issue: the feeds (through the feed cache in `state`), the analytics
    exports (an API asked for `period`, its token from `env`) and the editor's picks. `reuse`:
    feeds already read, by location (the preview's)."""
    if not config.sources.feeds:
        where = str(config.path) if config.path else "digest.toml"
        raise ConfigError("no feeds: set sources.feeds or pass --feed", path=where)
    sources = [Source(label, config.resolve(label)) for label in config.sources.feeds]
    loaded = load_sources(sources, limits=limits(config), state=state, transport=transport, reuse=reuse)
    _check(loaded, config)
    pageviews, exports, failed = read_analytics(config, period, env or {})
    chosen = config.selection
    from_file, picks_file = NO_PICKS, None
    if chosen.picks:
        path = Path(config.resolve(chosen.picks))
        raw = read_input_bytes(path, chosen.picks, "picks file")  # read once: used and kept
        from_file, picks_file = picks_from(raw, path, chosen.picks), (chosen.picks, raw)
    picks = combine(from_file, lead=chosen.lead, editors_choice=chosen.editors_choice_picks)
    return Inputs(
        merge_duplicates(loaded.feeds),
        loaded.reports + tuple(failed),
        pageviews,
        picks,
        loaded.feeds,
        loaded.raw,
        tuple(exports),
        picks_file,
    )


def compose_issue(
    inputs: Inputs,
    config: Config,
    now: dt.datetime,
    history: History = FIRST_ISSUE,
    snapshot: bytes | None = None,
    variants: Sequence[Variant] = (),
    month: Month | None = None,
) -> Built:
    """The issue dated `now`, from its inputs and what earlier issues did: pure, no I/O.

    Selects the stories (`NothingNewError` below `selection.min_items`), renders them within
    the HTML size budget, composes `message.eml`, runs the inbox check (its violations become
    warnings) and writes the manifest over the other files. Each of `variants` (its readers'
    topics and language) is selected and rendered the same way into a folder of its own; a
    monthly one from `month`'s stories and this issue's, over the whole month.
    """
    window = issue_window(now, config.selection, history)
    choice = _choose(inputs, config, now, history, window)
    if choice.new < config.selection.min_items:
        found = (
            f"only {choice.new} new stor{'y' if choice.new == 1 else 'ies'}"
            if choice.new
            else "no new stories"
        )
        minimum = f", fewer than selection.min_items ({config.selection.min_items})" if choice.new else ""
        raise NothingNewError(
            f"{found} published between {window.start:%Y-%m-%d %H:%M} and {window.end:%Y-%m-%d %H:%M} UTC"
            f" in {len(inputs.reports)} feed(s){minimum}: nothing to send"
        )
    reached = _coverage(inputs, window)
    warnings = tuple(f"{r.source}: {r.error}" for r in inputs.reports if r.error)
    warnings += reached.warnings if reached else ()
    warnings += month.warnings if month and any(v.monthly for v in variants) else ()
    # One selection per topic set (and cadence), shared by its languages.
    monthly = _monthly(inputs, config, now, history, month)
    chosen: dict[tuple[tuple[str, ...], bool], tuple[Choice, Window]] = {((), False): (choice, window)}
    built = []
    for variant in (WHOLE, *sorted(set(variants) - {WHOLE})):
        if variant.monthly and monthly is None:  # only the month's last issue has monthly variants
            continue
        key = (variant.topics, variant.monthly)
        if key not in chosen:
            among, span = monthly if variant.monthly and monthly else (inputs, window)
            topics = {name: config.segments.topics[name] for name in variant.topics}
            chosen[key] = (_choose(among, config, now, history, span, topics, fresh=variant.monthly), span)
        built.append(_variant(config, now, history.number, variant, *chosen[key]))
    whole = built[0]
    assert whole.issue is not None and whole.contents is not None  # the whole issue has its stories
    files = whole.contents.files()
    if snapshot is not None:
        files[issue_folder.SNAPSHOT] = snapshot
    for other in built[1:]:
        files |= other.files()
    warnings += whole.warnings
    manifest = build_manifest(
        whole.issue,
        inputs.reports,
        {name: data for name, data in files.items() if "/" not in name},
        warnings,
        config.selection.weights,
        whole.tags,
        reached.as_dict() if reached else None,
        variants=[v.summary() for v in built[1:]],
    )
    return Built(
        issue=whole.issue,
        files=issue_folder.with_manifest(files, manifest_json(manifest)),
        warnings=warnings + tuple(w for v in built[1:] for w in v.warnings),
        analytics=reached,
        variants=tuple(built[1:]),
    )


def _monthly(
    inputs: Inputs, config: Config, now: dt.datetime, history: History, month: Month | None
) -> tuple[Inputs, Window] | None:
    """What a monthly variant is chosen from: the month's stories (its earlier issues' feeds and
    this one's, each story once), its page views added up, the whole month as the window."""
    if month is None:
        return None
    feeds = (*month.feeds, *inputs.feeds)
    merged = replace(
        inputs, items=merge_duplicates(feeds), pageviews=views_of(config, (*month.exports, *inputs.exports))
    )
    return merged, Window(start=month.start, end=now)


def _choose(
    inputs: Inputs,
    config: Config,
    now: dt.datetime,
    history: History,
    window: Window,
    topics: Mapping[str, TopicConfig] | None = None,
    *,
    fresh: bool = False,
) -> Choice:
    """The selection; `fresh`: for readers who got no earlier issue (a monthly one), so no story
    is 'already sent'."""
    return select(
        inputs.items,
        pageviews=inputs.pageviews,
        config=config.selection,
        window=window,
        now=now,
        picks=inputs.picks,
        history=History(number=history.number) if fresh else history,
        topics=topics,
    )


def variant_config(config: Config, variant: Variant) -> Config:
    """The config a variant is rendered with: its language (and that language's direction); the
    editor's [labels] are words of the newsletter's own language, so they stay with it."""
    if not variant.language or variant.language == config.newsletter.language:
        return config
    newsletter = replace(
        config.newsletter, language=variant.language, direction=direction_of(variant.language)
    )
    return replace(config, newsletter=newsletter, labels={})


def _variant(
    config: Config, now: dt.datetime, number: int, variant: Variant, choice: Choice, window: Window
) -> BuiltVariant:
    """One variant of its selection: rendered in its language within the budget, checked."""
    if variant != WHOLE and not choice.new:  # the pins alone are no issue for a reader who chose topics
        topics = ", ".join(variant.topics)
        return BuiltVariant(
            variant, skipped=f"no new story in its topics ({topics})" if topics else "no new story"
        )
    config = variant_config(config, variant)
    date = now.date()
    selection, rendered = _within_budget(choice.selection, config, date, number)
    warnings = choice.warnings
    dropped = len(choice.selection.picks) - len(selection.picks)
    if dropped:
        stories = f"{dropped} lowest-ranked stor{'y' if dropped == 1 else 'ies'}"
        warnings += (f"dropped the {stories} to keep the HTML under {HTML_LIMIT // 1024} KB",)
    issue = Issue(
        number=number, date=date, slug=date.isoformat(), selection=selection, rendered=rendered, window=window
    )
    contents = issue_folder.Contents(
        html=rendered.html,
        text=rendered.text,
        message=build_message(issue, config.newsletter, now),
        personal_html=rendered.personal_html,
        personal_text=rendered.personal_text,
    )
    tags = merge_tags(rendered)
    parts = Parts(rendered.html, text=rendered.text, message=contents.message, merge_tags=tags)
    warnings += tuple(str(v) for v in check(parts))
    if variant != WHOLE:
        warnings = tuple(f"variant {variant.name}: {w}" for w in warnings)
    return BuiltVariant(variant, issue, contents, warnings, tags)


def _coverage(inputs: Inputs, window: Window) -> Coverage | None:
    """What the page views reached among the stories of the window (None without analytics)."""
    if not isinstance(inputs.pageviews, PageViews) or not inputs.pageviews.formats:
        return None
    urls = [
        item.canonical
        for item in inputs.items
        if item.published is None or window.start <= item.published < window.end
    ]
    return coverage(inputs.pageviews, urls, window_dates(window))


def merge_tags(rendered: Rendered) -> tuple[str, ...]:
    """The editor's configured link values that are ESP merge tags, not URLs."""
    values = (rendered.view_online_url, rendered.unsubscribe_url)
    return tuple(v for v in values if v and not v.startswith(("https://", "http://", "mailto:")))


def _within_budget(
    selection: Selection, config: Config, date: dt.date, number: int
) -> tuple[Selection, Rendered]:
    """Rendered, dropping the lowest-ranked stories while the HTML would reach Gmail's clipping size."""
    env = environment(user_templates(config), labels_for(config))  # compiled once, for every try
    while True:
        rendered = render_issue(selection, config=config, date=date, number=number, env=env)
        if len(rendered.html.encode("utf-8")) < HTML_LIMIT or not (
            selection.popular or selection.editors_choice
        ):
            return selection, rendered
        selection = drop_last(selection, f"dropped to keep the HTML under {HTML_LIMIT // 1024} KB")


def build(
    config: Config, now: dt.datetime, out_dir: Path, state_dir: Path, env: Mapping[str, str] | None = None
) -> tuple[Path, Built]:
    """Read the inputs, compose the issue, write its folder, record it; return the folder and the build.

    The issue is recorded in the state database only once its folder is complete. `env` holds
    the analytics API's token, when one is configured.
    """
    with open_state(state_dir) as state:
        with _stage("read the inputs"):
            history = state.history(now.date())
            period = window_dates(issue_window(now, config.selection, history))
            inputs = read_inputs(config, state, period=period, env=env)
            variants = variants_wanted(config)
            month = None
            if any(v.monthly for v in variants):
                if month_end(now.date(), config):
                    month = month_of(state, config, now)
                else:  # monthly readers wait for the month's last issue
                    variants = tuple(v for v in variants if not v.monthly)
        with _stage("compose the issue"):
            kept = pack(snapshot_of(inputs, config, now, history, variants, month))
            built = compose_issue(inputs, config, now, history, kept, variants, month)
        with _stage("write and record it"):
            folder = issue_folder.write_folder(out_dir / built.issue.slug, built.files)
            state.record_issue(built.issue, folder, [v.issue for v in built.variants if v.issue])
    return folder, built


def month_end(date: dt.date, config: Config) -> bool:
    """Whether the issue of `date` is its month's last: the next one (selection.window_days
    later, a week by default) is due in another month."""
    return (date + dt.timedelta(days=config.selection.window_days)).month != date.month


def month_of(state: State, config: Config, now: dt.datetime) -> Month:
    """The inputs of the month's earlier issues, from their snapshots: what the monthly variants
    choose from, with this issue's own."""
    start = month_start(now)
    feeds: list[Feed] = []
    exports: list[tuple[str, bytes]] = []
    missing: list[str] = []
    for folder in state.issue_folders(start.date(), now.date()):
        try:
            kept = unpack(issue_folder.read_snapshot(folder), str(folder), config.sources.max_bytes)
        except DigestError as problem:  # an issue built without a snapshot, or moved: said, not counted
            missing.append(f"the monthly variants go without an issue of the month: {problem}")
            continue
        feeds += kept.feeds
        exports += kept.exports
    return Month(start, tuple(feeds), tuple(exports), tuple(missing))


def variants_wanted(config: Config) -> tuple[Variant, ...]:
    """The variants the subscriber list's readers choose, when [segments] says what they can."""
    segments = config.segments
    if not (segments.topics or segments.languages or segments.monthly):
        return ()
    from digest.render.labels import shipped_languages
    from digest.send.subscribers import variants_in  # a build without segments never reads the list

    shipped = shipped_languages()
    for language in segments.languages:
        if language.replace("_", "-").split("-")[0].lower() not in shipped:
            raise ConfigError(
                f"segments.languages: digest has no words in {language!r} (it has {', '.join(shipped)})",
                path=str(config.path) if config.path else None,
            )

    path = Path(config.resolve(config.send.subscribers))
    return tuple(sorted(variants_in(path, config.send.subscribers, segments)))


@contextmanager
def _stage(name: str) -> Iterator[None]:
    """How long a stage took, in the log (`digest -v`)."""
    started = time.perf_counter()
    yield
    log.info("%s: %.0f ms", name, (time.perf_counter() - started) * 1000)


def snapshot_of(
    inputs: Inputs,
    config: Config,
    now: dt.datetime,
    history: History,
    variants: Sequence[Variant] = (),
    month: Month | None = None,
) -> Snapshot:
    return Snapshot(
        now=now,
        config=config,
        history=history,
        feeds=inputs.feeds,
        reports=inputs.reports,
        raw_feeds=inputs.raw_feeds,
        exports=inputs.exports,
        picks=inputs.picks,
        picks_file=inputs.picks_file,
        variants=tuple(variants),
        month_feeds=month.feeds if month else (),
        month_exports=month.exports if month else (),
        month_warnings=month.warnings if month else (),
    )


def rebuild(folder: Path, config: Config, out: Path | None = None) -> tuple[Path, Built]:
    """The issue in `folder` built again from its snapshot alone (no network, no state): the
    same files byte for byte with the same templates. `config` gives the templates (its own
    `output.templates`, resolved against its folder); everything else is the snapshot's.
    Written to `out` (default: the same folder, replaced whole)."""
    data = issue_folder.read_snapshot(folder)
    kept = unpack(data, f"{folder.name}/{issue_folder.SNAPSHOT}", config.sources.max_bytes)
    # Templates resolve where the caller's config is.
    issue_config = replace(kept.config, output=config.output, source=config.path)
    inputs = Inputs(
        merge_duplicates(kept.feeds),
        kept.reports,
        views_of(issue_config, kept.exports),
        kept.picks,
        kept.feeds,
        kept.raw_feeds,
        kept.exports,
        kept.picks_file,
    )
    month = None
    if any(v.monthly for v in kept.variants):
        month = Month(month_start(kept.now), kept.month_feeds, kept.month_exports, kept.month_warnings)
    built = compose_issue(inputs, issue_config, kept.now, kept.history, data, kept.variants, month)
    target = issue_folder.write_folder(out / built.issue.slug if out else folder, built.files)
    return target, built


def run_issue(
    config: Config,
    *,
    now: dt.datetime,
    out_dir: Path,
    state_dir: Path,
    env: Mapping[str, str],
    unconfirmed: Unconfirmed | None = None,
    on_built: Callable[[Path, Built], None] | None = None,
    progress: Progress | None = None,
) -> SendReport:
    """`digest run`, the cron job: build the issue of `now`'s day (or the configured date) and
    send it to every subscriber.

    `on_built` hears of the issue folder between the build and the send (the CLI prints it).
    The lock comes first, so a second run exits at once (7) before it builds anything; nothing
    new to send (3) stops before the send.
    """
    from digest.send import send_all, sender_lock  # a build alone never loads the sender

    with sender_lock(state_dir):
        moment = issue_moment(issue_day(config, now.date()))
        folder, built = build(config, moment, out_dir, state_dir, env=env)
        if on_built:
            on_built(folder, built)
        return send_all(
            config,
            state_dir,
            folder.name,
            now=now,
            env=env,
            unconfirmed=unconfirmed,
            progress=progress,
            locked=True,
        )
