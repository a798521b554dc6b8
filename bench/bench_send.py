"""Send figures: 10,000 subscribers to an SMTP server on loopback, against a bare smtplib loop.

The same aiosmtpd server (plain SMTP on 127.0.0.1, handler that only counts) receives both:
`digest send` in a fresh process (personal copies, ledger commits, all of it), then a bare loop
that sends one pre-built message per recipient over one smtplib connection. The ratio is what
digest costs on top of SMTP itself. Peak RSS is that of the `digest send` process.
"""

from __future__ import annotations

import os
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from measure import run_measured

from digest.resources import sample_dir

SUBSCRIBERS = 10_000


class Counter:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def newsletter(folder: Path, port: int) -> Path:
    for name in ("news.rss", "analytics.csv", "picks.toml"):
        shutil.copy(sample_dir() / name, folder / name)
    config = (sample_dir() / "digest.toml").read_text().split("[smtp]")[0]
    config += f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
    sample = (sample_dir() / "digest.toml").read_text()
    config += sample[sample.index("[issue]") :]
    config += '[output]\ndir = "issues"\n[state]\ndir = "state"\n'
    (folder / "digest.toml").write_text(config)
    rows = "".join(f"reader{n}@example.org,Reader {n},\n" for n in range(SUBSCRIBERS))
    (folder / "subscribers.csv").write_text("email,name,status\n" + rows)
    return folder / "digest.toml"


def ten_thousand() -> None:
    counter = Counter()
    port = free_port()
    controller = Controller(counter, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with tempfile.TemporaryDirectory() as work:
            folder = Path(work)
            config = newsletter(folder, port)
            env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
            env["DIGEST_UNSUBSCRIBE_SECRET"] = "bench"
            run = [sys.executable, "-m", "digest"]
            subprocess.run([*run, "build", "--config", str(config)], check=True, capture_output=True, env=env)
            ours, peak = run_measured([*run, "send", "--config", str(config)], env)
            assert counter.count == SUBSCRIBERS, counter.count
            message = next((folder / "issues").glob("*/message.eml")).read_bytes()
        counter.count = 0
        start = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for n in range(SUBSCRIBERS):
                smtp.sendmail("weekly@commonground.example", [f"reader{n}@example.org"], message)
        bare = time.perf_counter() - start
        assert counter.count == SUBSCRIBERS
    finally:
        controller.stop()
    print(
        f"send to {SUBSCRIBERS:,} subscribers, aiosmtpd on loopback ({len(message) / 1024:.0f} KB messages):"
    )
    label = "digest send (new process, ledger, personal copies)"
    print(f"  {label:<52} {ours:6.1f} s  {SUBSCRIBERS / ours:6.0f} msg/s")
    print(
        f"  {'bare smtplib loop, one pre-built message':<52} {bare:6.1f} s  {SUBSCRIBERS / bare:6.0f} msg/s"
    )
    print(f"  {'digest / bare':<52} {ours / bare:6.2f} x")
    print(f"  {'peak memory (RSS) of digest send':<52} {peak:6.1f} MiB")


if __name__ == "__main__":
    ten_thousand()
