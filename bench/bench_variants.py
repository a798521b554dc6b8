"""Variants: a cold `digest build` of the sample whose list chooses 24 variants (12 topic sets in
2 languages) against the same build with no segments (the whole issue alone). Goal: 24 variants
in at most 4 times one; selection and rendering share what they can (the inputs are read and
parsed once, each language's templates compiled once, the CSS parsed once)."""

from __future__ import annotations

import itertools
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from digest.resources import sample_dir

CATEGORIES = ["Analysis", "Opinion", "Interview", "Monitor", "News", "Editor's choice"]
GOAL = 4.0


def newsletter(folder: Path, variants: bool) -> Path:
    for name in ("news.rss", "analytics.csv", "picks.toml"):
        shutil.copy(sample_dir() / name, folder / name)
    config = (sample_dir() / "digest.toml").read_text() + '[output]\ndir = "issues"\n[state]\ndir = "state"\n'
    rows = ["email,name,topics,language"]
    if variants:
        topics = [f"t{n}" for n in range(len(CATEGORIES))]
        config += '[segments]\nlanguages = ["fr"]\n'
        for name, category in zip(topics, CATEGORIES, strict=True):
            config += f'[segments.topics.{name}]\ncategories = ["{category}"]\n'
        sets = [(t,) for t in topics] + list(itertools.combinations(topics, 2))[:6]
        for n, (chosen, language) in enumerate(itertools.product(sets, ["", "fr"])):
            rows.append(f"reader{n}@example.org,Reader,{' '.join(chosen)},{language}")
    (folder / "subscribers.csv").write_text("\n".join(rows) + "\n")
    (folder / "digest.toml").write_text(config)
    return folder / "digest.toml"


def cold_build(variants: bool) -> tuple[float, int]:
    """(milliseconds, variants built) of `digest build` in a new process, in a new folder."""
    with tempfile.TemporaryDirectory() as work:
        config = newsletter(Path(work), variants)
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "digest", "build", "--config", str(config)],
            check=True,
            capture_output=True,
        )
        seconds = time.perf_counter() - start
        built = list((Path(work) / "issues").glob("*/variants/*/index.html"))
    return seconds * 1000, len(built)


def figures(runs: int = 5) -> None:
    one, many, count = [], [], 0
    for _ in range(runs):  # alternating, so that both see the same machine
        one.append(cold_build(False)[0])
        ms, count = cold_build(True)
        many.append(ms)
    single, all_of_them = statistics.median(one), statistics.median(many)
    print(f"variants: a cold digest build of the sample, median of {runs} alternating runs:")
    print(f"  {'the whole issue alone':<64} {single:>8.0f} ms")
    print(f"  {f'and {count} variants besides (12 topic sets x 2 languages)':<64} {all_of_them:>8.0f} ms")
    print(f"  {'with the variants / alone':<64} {all_of_them / single:>8.2f} x  goal <= {GOAL:.0f}x")


if __name__ == "__main__":
    figures()
