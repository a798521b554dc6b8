"""Send figures, each against an SMTP server in a process of its own (smtp_sink.py):

- one connection, 10,000 subscribers, personal copies, the ledger: `digest send` against a bare
  smtplib loop sending one pre-built message of the same size over one connection (goal ≥ 0.85×);
- a server that answers each message after 20 ms, as a relay across a network does: 8
  connections against 1 (goal ≥ 6×);
- peak RSS of `digest send` at 50,000 subscribers against 1,000 (goal ≤ 1.2×);
- one connection, every copy DKIM-signed (a 2048-bit RSA key) against the same send unsigned
  (goal ≥ 0.7×).
"""

from __future__ import annotations

import os
import shutil
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from measure import run_measured

from digest.resources import sample_dir

SINK = Path(__file__).with_name("smtp_sink.py")
SENDER = "weekly@commonground.example"


@contextmanager
def sink(delay: float = 0.0) -> Iterator[tuple[int, list[int]]]:
    """A counting SMTP server in its own process: (port, [messages taken], filled on exit)."""
    process = subprocess.Popen(
        [sys.executable, str(SINK), "--delay", str(delay)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdin is not None
    port = int(process.stdout.readline())
    taken: list[int] = []
    try:
        yield port, taken
    finally:
        process.stdin.close()
        taken.append(int(process.stdout.readline()))
        process.wait(timeout=30)


def newsletter(folder: Path, port: int, subscribers: int, connections: int = 1, dkim: bool = False) -> Path:
    for name in ("news.rss", "analytics.csv", "picks.toml"):
        shutil.copy(sample_dir() / name, folder / name)
    sample = (sample_dir() / "digest.toml").read_text()
    config = sample.split("[smtp]")[0]
    config += f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\nconnections = {connections}\n'
    config += sample[sample.index("[issue]") :]
    config += '[output]\ndir = "issues"\n[state]\ndir = "state"\n'
    if dkim:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(Encoding.PEM, PrivateFormat.TraditionalOpenSSL, NoEncryption())
        (folder / "dkim.pem").write_bytes(pem)
        config += '[dkim]\nselector = "bench"\nkey_file = "dkim.pem"\n'
    (folder / "digest.toml").write_text(config)
    with (folder / "subscribers.csv").open("w") as rows:
        rows.write("email,name,status\n")
        rows.writelines(f"reader{n}@example.org,Reader {n},\n" for n in range(subscribers))
    return folder / "digest.toml"


def digest_send(
    port: int, subscribers: int, connections: int = 1, dkim: bool = False
) -> tuple[float, float, bytes]:
    """(seconds, peak RSS in MiB, the issue's message) of `digest send` in a fresh process."""
    with tempfile.TemporaryDirectory() as work:
        config = newsletter(Path(work), port, subscribers, connections, dkim)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
        env["DIGEST_UNSUBSCRIBE_SECRET"] = "bench"
        run = [sys.executable, "-m", "digest"]
        subprocess.run([*run, "build", "--config", str(config)], check=True, capture_output=True, env=env)
        seconds, peak = run_measured([*run, "send", "--config", str(config)], env)
        message = next((Path(work) / "issues").glob("*/message.eml")).read_bytes()
    return seconds, peak, message


def bare_loop(port: int, message: bytes, count: int) -> float:
    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for n in range(count):
            smtp.sendmail(SENDER, [f"reader{n}@example.org"], message)
    return time.perf_counter() - start


def line(label: str, value: str, goal: str = "") -> None:
    print(f"  {label:<56} {value:>14}  {goal}")


def one_connection(count: int = 10_000, rounds: int = 3) -> None:
    """Medians of `rounds` runs of each, alternating, so that both see the same machine: one
    run of each, one after the other, read anywhere from 0.83 to 1.06 on the same code."""
    ours, bare, peaks = [], [], []
    with sink() as (port, taken):
        for _ in range(rounds):
            seconds, peak, message = digest_send(port, count)
            ours.append(seconds)
            peaks.append(peak)
            bare.append(bare_loop(port, message, count))
    assert taken == [2 * count * rounds], taken
    mine, theirs = statistics.median(ours), statistics.median(bare)
    size = f"{len(message) / 1024:.0f} KB"
    print(
        f"send to {count:,} subscribers, one connection, server in its own process ({size} messages),"
        f" median of {rounds} alternating runs:"
    )
    line("digest send (new process, personal copies, ledger)", f"{count / mine:,.0f} msg/s")
    line("bare smtplib loop, one pre-built message", f"{count / theirs:,.0f} msg/s")
    line("digest / bare", f"{theirs / mine:.2f}x", "goal >= 0.85x")
    line("peak memory (RSS) of digest send", f"{max(peaks):.1f} MiB")


def parallel(count: int = 1_000, delay: float = 0.02) -> None:
    with sink(delay) as (port, taken):
        one, _, _ = digest_send(port, count, connections=1)
        eight, _, _ = digest_send(port, count, connections=8)
    assert taken == [2 * count], taken
    print(f"send to {count:,} subscribers, a server answering each message after {delay * 1000:.0f} ms:")
    line("1 connection", f"{count / one:,.0f} msg/s")
    line("8 connections", f"{count / eight:,.0f} msg/s")
    line("8 connections / 1", f"{one / eight:.2f}x", "goal >= 6x")


def memory(small: int = 1_000, large: int = 50_000) -> None:
    with sink() as (port, taken):
        _, low, _ = digest_send(port, small, connections=4)
        _, high, _ = digest_send(port, large, connections=4)
    assert taken == [small + large], taken
    print("peak memory (RSS) of digest send by list size:")
    line(f"{small:,} subscribers", f"{low:.1f} MiB")
    line(f"{large:,} subscribers", f"{high:.1f} MiB")
    line(f"{large:,} / {small:,}", f"{high / low:.2f}x", "goal <= 1.2x")


def signed(count: int = 5_000, rounds: int = 3) -> None:
    """Medians of alternating runs, signed and not, on the same list and server."""
    plain, dkim = [], []
    with sink() as (port, taken):
        for _ in range(rounds):
            plain.append(digest_send(port, count)[0])
            dkim.append(digest_send(port, count, dkim=True)[0])
    assert taken == [2 * count * rounds], taken
    unsigned, signed = statistics.median(plain), statistics.median(dkim)
    print(f"send to {count:,} subscribers, one connection, median of {rounds} alternating runs:")
    line("unsigned", f"{count / unsigned:,.0f} msg/s")
    line("DKIM-signed (rsa-sha256, 2048 bits)", f"{count / signed:,.0f} msg/s")
    line("signed / unsigned", f"{unsigned / signed:.2f}x", "goal >= 0.7x")


def figures() -> None:
    one_connection()
    print()
    signed()
    print()
    parallel()
    print()
    memory()


if __name__ == "__main__":
    figures()
