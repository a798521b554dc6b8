"""The memory transport: every message kept in an `Outbox`, nothing sent anywhere.

For the delivery plan's tests (pacing, retries, unconfirmed copies, the daily limit) and for a
library user who wants the messages rather than a relay. An outbox may be told, per address, how
the next deliveries go (`script`): a refusal, a deferral, a connection lost before or during the
data; after the script, a message is taken. The transports of one run share one outbox.
"""

from __future__ import annotations

import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping

from msgspec import Struct

from digest.config import Config
from digest.models import Recipient
from digest.send.transport import Delivery, Outcome, Transport

_STUFFED_DOT = re.compile(rb"(?m)^\.\.")


class Kept(Struct, frozen=True):
    sender: str  # the envelope sender (MAIL FROM)
    recipient: str
    message: bytes  # as a mail client would read it (the DATA encoding undone)


class Outbox:
    """What a run's memory transports took, in order; thread-safe."""

    def __init__(self, script: Mapping[str, Iterable[Delivery]] | None = None) -> None:
        self.kept: list[Kept] = []
        self.offered: list[str] = []  # every address a delivery was tried for, in order
        self.drops = 0  # connections given up after a failure
        self._script = {address: deque(outcomes) for address, outcomes in (script or {}).items()}
        self._lock = threading.Lock()

    def transport(self, config: Config, password: str | None) -> Transport:
        """A `Maker`: `send_issue(..., transport=outbox.transport)`."""
        return MemoryTransport(self)

    def next_outcome(self, address: str) -> Delivery | None:
        with self._lock:
            self.offered.append(address)
            waiting = self._script.get(address)
            return waiting.popleft() if waiting else None

    def keep(self, kept: Kept) -> None:
        with self._lock:
            self.kept.append(kept)

    def dropped(self) -> None:
        with self._lock:
            self.drops += 1


class MemoryTransport:
    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    def deliver(
        self, sender: str, recipient: Recipient, wire: bytes, before_data: Callable[[], bool]
    ) -> Delivery:
        scripted = self.outbox.next_outcome(recipient.email)
        # What fails before the data (a refusal, a deferral, no connection) never asks the plan.
        if scripted is not None and scripted.outcome in (Outcome.REFUSED, Outcome.DEFERRED):
            return scripted
        if not before_data():
            return Delivery(Outcome.DEFERRED, "the run stopped before this message")
        if scripted is not None:  # lost during the data: the receiver may or may not have it
            return scripted
        message = _STUFFED_DOT.sub(b".", wire.removesuffix(b".\r\n"))
        self.outbox.keep(Kept(sender, recipient.email, message))
        return Delivery(Outcome.SENT, "250 kept in memory")

    def drop(self) -> None:
        self.outbox.dropped()

    def close(self) -> None:
        pass
