"""An SMTP server that counts what it is sent, in a process of its own, for the send benchmarks.

    python bench/smtp_sink.py [--delay SECONDS]

Prints the port it listens on (127.0.0.1), takes every message (after `--delay` seconds each,
as a relay across a network answers, without holding up the other connections), and when its
standard input closes prints how many messages it took and exits. In its own process, the
server's work is not charged to the sender being measured, nor the sender's to the server.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
from typing import Any

from aiosmtpd.controller import Controller


class Counter:
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        self.count += 1
        return "250 OK"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--delay", type=float, default=0.0)
    delay = parser.parse_args().delay
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    counter = Counter(delay)
    controller = Controller(counter, hostname="127.0.0.1", port=port, enable_SMTPUTF8=True)
    controller.start()
    print(port, flush=True)
    sys.stdin.read()  # until the bench closes our standard input
    controller.stop()
    print(counter.count, flush=True)


if __name__ == "__main__":
    main()
