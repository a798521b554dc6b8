"""`make bench`: prints figures; asserts nothing, fails on no timing.

Building the sample issue:
- warm build: the whole pipeline in one process (after one warm-up run), median of N;
- stages: where that time goes (read + parse, select, render MJML, inline CSS, text);
- cold CLI: `python -m digest build` in a fresh process, as cron runs it, with its peak RSS.
Feeds (bench_feeds.py): load + normalize throughput on a 20,000-item feed against
feedparser alone, and a build from 20 loopback feeds of which one is slow.
Selection (bench_selection.py): choosing an issue among 20,000 candidates.
Variants (bench_variants.py): a cold build with 24 variants against the whole issue alone.
Sending (bench_send.py): against an SMTP server in its own process: one connection against a bare
smtplib loop, 8 connections against 1 to a slow server, peak memory at 50,000 against 1,000.
Preview (bench_preview.py): a saved template to the new version served.
Start-up (bench_startup.py): `digest --help` against `import typer`, a cold build against the
mjml CLI rendering the same MJML, side by side; and where a cold build goes, in instructions.
Feedback (bench_feedback.py): a mailbox of 1,000 real bounces, against flufl.bounce's detectors.
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import bench_feedback
import bench_feeds
import bench_preview
import bench_selection
import bench_send
import bench_startup
import bench_variants
from measure import run_measured

from digest.build import build, compose_issue, read_inputs
from digest.config import load_config
from digest.models import issue_moment
from digest.render.issue import mjml_to_html
from digest.render.postprocess import inline_css, take_inline_styles
from digest.resources import sample_dir
from digest.selection.select import issue_window, select

T = TypeVar("T")
RUNS = 15


def timed(fn: Callable[[], T], runs: int = RUNS) -> tuple[float, T]:
    """Median wall time in milliseconds over `runs`, after one warm-up call."""
    result = fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), result


def sample_issue() -> None:
    config = load_config(sample_dir() / "digest.toml")
    assert config.issue.date is not None
    now = issue_moment(config.issue.date)
    print(f"digest bench: sample issue of {config.issue.date}, median of {RUNS} runs\n")

    with tempfile.TemporaryDirectory() as out:
        whole, (folder, built) = timed(lambda: build(config, now, Path(out), Path(out) / ".state"))
        size = {p.name: p.stat().st_size for p in folder.iterdir()}

    inputs_ms, inputs = timed(lambda: read_inputs(config))
    items = inputs.items
    window = issue_window(now, config.selection)
    select_ms, _ = timed(
        lambda: select(
            items,
            pageviews=inputs.pageviews,
            config=config.selection,
            window=window,
            now=now,
            picks=inputs.picks,
        )
    )
    compose_ms, _ = timed(lambda: compose_issue(inputs, config, now))
    # The MJML the templates produced for this issue, its inline styles apart as a build takes them
    source, css = take_inline_styles(built.issue.rendered.mjml)
    mjml_ms, raw_html = timed(lambda: mjml_to_html(source))
    inline_ms, _ = timed(lambda: inline_css(raw_html, css))

    rows = [
        ("warm build, whole pipeline (write included)", whole),
        ("  read + parse feed and analytics", inputs_ms),
        ("  compose (select + render + inline + text)", compose_ms),
        ("    select", select_ms),
        ("    MJML → HTML (mjml-python)", mjml_ms),
        ("    inline CSS (premailer)", inline_ms),
    ]
    for label, ms in rows:
        print(f"{label:<48} {ms:8.1f} ms")

    with tempfile.TemporaryDirectory() as out:
        cold, peak_mib = run_measured([sys.executable, "-m", "digest", "build", "--out", out], cwd=out)
    print(f"{'cold CLI run (new process, imports included)':<48} {cold * 1000:8.1f} ms")
    print(f"{'peak memory (RSS) of that process':<48} {peak_mib:8.1f} MiB")
    print()
    print(
        f"index.html {size['index.html']:,} bytes (Gmail clips at ~100 KB), "
        f"digest.txt {size['digest.txt']:,} bytes, manifest.json {size['manifest.json']:,} bytes"
    )
    print(f"run on Python {sys.version.split()[0]}, {dt.date.today().isoformat()}")


def main() -> None:
    sample_issue()
    print()
    bench_startup.figures()
    print()
    bench_feeds.throughput()
    print()
    bench_feeds.slow_feed_among_twenty()
    print()
    bench_selection.twenty_thousand()
    print()
    bench_variants.figures()
    print()
    bench_preview.rebuild_latency()
    print()
    bench_send.figures()
    print()
    bench_feedback.thousand_bounces()


if __name__ == "__main__":
    main()
