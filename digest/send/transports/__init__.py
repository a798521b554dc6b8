"""What carries a message: each module one `Transport` (see `digest.send.transport`), and the
registry the plan takes its transport from, by name (ESP adapters are added here)."""

from __future__ import annotations

from digest.config import Config
from digest.send.transport import Maker, Transport


def _smtp(config: Config, password: str | None) -> Transport:
    from digest.send.transports.smtp import Session

    return Session(config.smtp, password, config.resolve)


TRANSPORTS: dict[str, Maker] = {"smtp": _smtp}


def transport_maker(name: str = "smtp") -> Maker:
    return TRANSPORTS[name]
