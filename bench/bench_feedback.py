"""Feedback figures: a mailbox of 1,000 real bounces read, against flufl.bounce's detectors alone.

The reference is the floor: parse each message and run GNU Mailman's detectors over it, nothing
else. digest does that too, and then reads the report's status codes, looks for tokens, records
each event in the state database, suppresses, and moves the message out of the mailbox.
"""

from __future__ import annotations

import datetime as dt
import email
import mailbox
import shutil
import statistics
import tempfile
import time
from email import policy
from pathlib import Path

from flufl.bounce import all_failures

from digest.config import load_config
from digest.feedback import read_feedback
from digest.resources import sample_dir

BOUNCES = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "bounces"
MESSAGES = 1_000
RUNS = 5
GOAL = 1.5  # digest's whole reading at most this many times the detectors alone


def _median(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def thousand_bounces() -> None:
    names = sorted(BOUNCES.glob("bsd/lhost-*.eml"))
    if not names:
        print(f"feedback: the bounce corpus is absent ({BOUNCES}); skipped")
        return
    raws = [p.read_bytes() for p in (names * (MESSAGES // len(names) + 1))[:MESSAGES]]
    bare = []
    for _ in range(RUNS):
        start = time.perf_counter()
        for raw in raws:
            all_failures(email.message_from_bytes(raw, policy=policy.compat32))
        bare.append(time.perf_counter() - start)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        source = mailbox.Maildir(root / "source", create=True)
        for raw in raws:
            source.add(raw)
        config_text = (sample_dir() / "digest.toml").read_text()
        (root / "digest.toml").write_text(config_text + '\n[feedback]\nmailbox = "box"\n')
        for name in ("news.rss", "analytics.csv", "picks.toml", "subscribers.csv"):
            shutil.copy(sample_dir() / name, root / name)
        config = load_config(root / "digest.toml")
        ours = []
        for run in range(RUNS):
            shutil.rmtree(root / "box", ignore_errors=True)
            shutil.copytree(root / "source", root / "box")
            state = root / f"state-{run}"  # each run starts with nothing recorded
            start = time.perf_counter()
            report = read_feedback(config, state, now=dt.datetime.now(dt.UTC), env={})
            ours.append(time.perf_counter() - start)
    assert report is not None
    ratio = statistics.median(ours) / statistics.median(bare)
    print(f"feedback: a Maildir of {MESSAGES:,} real bounces, median of {RUNS} runs")
    print(f"{'  flufl.bounce detectors alone (reference)':<48} {_median(bare):8.1f} ms")
    print(f"{'  digest feedback (classify, record, file)':<48} {_median(ours):8.1f} ms")
    print(f"{'  ratio':<48} {ratio:8.2f} ×  (goal ≤ {GOAL})  {'met' if ratio <= GOAL else 'MISSED'}")
    print(f"  {report.summary()}")
