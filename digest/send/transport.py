"""The seam between the delivery plan and whatever carries a message: a `Transport`.

The plan (`delivery`) decides who is next, when, and what the ledger records; a transport only
delivers one message and says how it went, as a typed `Delivery`. `transports/smtp.py` speaks
SMTP to a relay; `transports/memory.py` keeps every message in memory (the plan's own tests need
no relay). An ESP's HTTP API would be one more module in `transports/` and one more entry in
`transports.TRANSPORTS` (django-anymail's backends are the model): the plan does not change.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Protocol

from msgspec import Struct

from digest.config import Config, SmtpConfig
from digest.models import Recipient


class Outcome(StrEnum):
    SENT = "sent"
    REFUSED = "refused"  # permanently: 5xx
    DEFERRED = "deferred"  # for now: 4xx, a lost connection, a timeout; the server has no copy
    UNCONFIRMED = "unconfirmed"  # the connection went during the data: the server may have it


class Delivery(Struct, frozen=True):
    outcome: Outcome
    reply: str  # the server's reply, or what went wrong
    connection: bool = False  # the transport itself failed (the relay's trouble), not this recipient


class Transport(Protocol):
    """One connection's worth of delivering: the plan runs `smtp.connections` of them at once."""

    def deliver(
        self, sender: str, recipient: Recipient, wire: bytes, before_data: Callable[[], bool]
    ) -> Delivery:
        """One message (`wire`: as SMTP's DATA carries it) from `sender` (the envelope) to
        `recipient`. `before_data` is asked just before the message goes out (from then on the
        receiver may end up with it, and the ledger must say so); False: do not send it."""
        ...

    def drop(self) -> None:
        """After a connection failure: forget the connection, the next delivery starts afresh."""
        ...

    def close(self) -> None:
        """The run is over: end politely."""
        ...


class Policy(Struct, frozen=True):
    """How the plan paces and guards a run, whatever the transport (no defaults of its own: the
    config's are the ones, `Policy.of(config.smtp)`)."""

    connections: int  # transports delivering at once
    rate: float  # messages per second, all together; 0: as fast as they are taken
    retries: int  # connection failures in a row before the run stops (the rest stay queued)
    backoff: float  # seconds after the first failure, doubling
    daily_limit: int | list[int]  # messages in any 24 hours, or a warm-up list

    @classmethod
    def of(cls, smtp: SmtpConfig) -> Policy:
        return cls(smtp.connections, smtp.rate, smtp.retries, smtp.backoff, smtp.daily_limit)


# A transport's maker: (config, the relay's password) → a new transport, not yet connected.
Maker = Callable[[Config, str | None], Transport]
