"""`digest run`: this week's issue built, then sent, under one lock: the cron job.

The lock comes first, so a second run exits at once (7) before it builds anything; nothing
new to send (3) stops before the send.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path

from digest.build import Built, build, issue_day
from digest.config import Config
from digest.models import issue_moment
from digest.send import Progress, SendReport, Unconfirmed, send_all, sender_lock


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
    """Build the issue of `now`'s day (or the configured date) and send it to every subscriber.

    `on_built` hears of the issue folder between the build and the send (the CLI prints it).
    """
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
