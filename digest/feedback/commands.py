"""What `digest subscribers` does: the suppression list by hand, from a file, and back out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from digest.addresses import EmailNotValidError, address_key
from digest.config import Config
from digest.errors import ConfigError, InputError
from digest.feedback.lists import export_subscribers, read_suppression_file
from digest.feedback.mailbox import Mailbox, Maildir
from digest.feedback.process import FeedbackReport, Rules, process
from digest.feedback.tokens import Copies, Tokens
from digest.models import Suppression, SuppressionReason, SuppressionSource
from digest.state import open_state


def _addresses(addresses: Iterable[str]) -> list[str]:
    found = []
    for address in addresses:
        try:
            found.append(address_key(address))
        except EmailNotValidError as error:
            raise InputError(f"not an email address: {error}", path=address) from None
    return found


def suppress(
    state_dir: Path, addresses: Iterable[str], reason: SuppressionReason, *, now: dt.datetime, note: str = ""
) -> int:
    """Add addresses by hand; returns how many were not suppressed already."""
    entries = [Suppression(a, reason, SuppressionSource.COMMAND, now, note) for a in _addresses(addresses)]
    with open_state(state_dir) as state:
        return state.suppress(entries)


def unsuppress(state_dir: Path, addresses: Iterable[str]) -> int:
    """Take addresses off the list (the next send mails them again); returns how many were on it."""
    with open_state(state_dir) as state:
        return state.unsuppress(_addresses(addresses))


def suppressed(state_dir: Path) -> list[Suppression]:
    with open_state(state_dir) as state:
        return list(state.suppressions())


def import_file(state_dir: Path, path: Path, label: str, *, now: dt.datetime) -> tuple[int, int]:
    """Suppressions from a file (plain, SES, Mailgun, Postmark): (how many read, how many new)."""
    entries = read_suppression_file(path, label, now)
    with open_state(state_dir) as state:
        return len(entries), state.suppress(entries)


def export(config: Config, state_dir: Path, out: TextIO) -> int:
    """The subscriber CSV with `status` brought up to date from the suppression list."""
    with open_state(state_dir) as state:
        reasons = {s.email: s.reason for s in state.suppressions()}
    label = config.send.subscribers
    return export_subscribers(Path(config.resolve(label)), label, reasons, out)


@contextmanager
def open_mailbox(config: Config, env: Mapping[str, str]) -> Iterator[Mailbox]:
    """The configured mailbox (`feedback.mailbox` must be set), open for one reading."""
    where = config.feedback.mailbox
    if not where:
        raise ConfigError("no feedback.mailbox in the config: nothing to read")
    if where.startswith(("imap:", "imaps:")):
        from digest.feedback.imap import open_imap  # the IMAP client only when it is needed

        with open_imap(config, env) as box:
            yield box
    else:
        yield Maildir(Path(config.resolve(where)), config.feedback.processed)


def read_feedback(
    config: Config, state_dir: Path, *, now: dt.datetime, env: Mapping[str, str]
) -> FeedbackReport | None:
    """Read the feedback mailbox, if one is configured (None when not)."""
    if not config.feedback.mailbox:
        return None
    secret = env.get(config.send.secret_env)
    with open_state(state_dir) as state, open_mailbox(config, env) as box:
        rules = Rules(
            now=now,
            soft_limit=config.feedback.soft_bounce_limit,
            tokens=Tokens(secret, state.mailed_addresses),
            copies=Copies(secret, state.mailed_in),
            last_mailed=state.last_mailed,
            unsubscribe_to=config.newsletter.unsubscribe_mailto,
            return_path=config.feedback.return_path,
        )
        return process(box, state, rules, config.feedback.max_message_bytes)
