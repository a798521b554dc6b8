"""What `digest check --deliverability` does: a signed personal copy of the issue, then each tier
asked for, in order: the message (offline), the domain (DNS), the receiver (a real mailbox)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping
from pathlib import Path

from msgspec import Struct

from digest import issue_folder
from digest.addresses import EmailNotValidError, sendable
from digest.config import Config
from digest.config.secrets import read_secrets
from digest.deliverability.dns import Recording, replaying
from digest.deliverability.domain import check_domain
from digest.deliverability.findings import Tier, Verdict, error
from digest.deliverability.message import check_message, installed_spamassassin
from digest.deliverability.receiver import MARKER, check_receiver
from digest.deliverability.records import from_domain
from digest.errors import ConfigError
from digest.feedback.imap import account_password
from digest.files import write_file
from digest.issue_folder import PersonalIssue
from digest.models import Recipient
from digest.send.delivery import send_one
from digest.send.dkim import Key, Signer, load_keys
from digest.send.personalize import personal_message
from digest.send.transport import Outcome
from digest.state import open_state

# Whose copy the offline tiers look at: a reader with a name, at no real domain.
STAND_IN = Recipient("reader@example.net", "Sample Reader")


class Preflight(Struct, frozen=True):
    offline: bool = False  # the message tier alone: no DNS
    nameserver: str | None = None  # "127.0.0.1:5353": ask this server, not the system's resolver
    answers: Path | None = None  # replay the DNS answers saved by an earlier check
    via_imap: str | None = None  # the address whose mailbox the feedback IMAP settings open
    wait: float = 120.0  # how long the receiver tier waits for the copy to arrive


def signed_copy(
    issue: PersonalIssue,
    config: Config,
    keys: list[Key],
    recipient: Recipient,
    *,
    now: dt.datetime,
    secret: str | None,
) -> bytes:
    """The copy `recipient` would get, signed as `digest send` signs it."""
    message = personal_message(issue, recipient, config, now=now, secret=secret)
    return Signer(keys, now).sign(message)


def preflight(
    issue: PersonalIssue, config: Config, options: Preflight, *, env: Mapping[str, str], now: dt.datetime
) -> list[Verdict]:
    """Each tier's verdict, in order."""
    keys = load_keys(config, env)
    secrets = read_secrets(config, env, unsubscribe_url=issue.unsubscribe_url, smtp=False)
    copy = signed_copy(issue, config, keys, STAND_IN, now=now, secret=secrets.unsubscribe)
    verdicts = [check_message(copy, keys, from_domain(config), spamassassin=installed_spamassassin())]
    if not options.offline:  # the domain tier
        resolver = replaying(options.answers) if options.answers else Recording(options.nameserver)
        verdict = check_domain(config, keys, resolver)
        verdicts.append(verdict)
        if isinstance(resolver, Recording):
            _save(issue.folder, verdict, resolver.saved(now))
    if options.via_imap:  # the receiver tier
        verdicts.append(via_imap(issue, config, keys, options.via_imap, env=env, now=now, wait=options.wait))
    return verdicts


def via_imap(
    issue: PersonalIssue,
    config: Config,
    keys: list[Key],
    address: str,
    *,
    env: Mapping[str, str],
    now: dt.datetime,
    wait: float,
) -> Verdict:
    """The receiver tier: a signed test copy to `address` through the relay, then looked for in
    the feedback account's folders."""
    mailbox = config.feedback.mailbox or ""
    if not mailbox.startswith(("imap:", "imaps:")):
        raise ConfigError(
            "--via-imap looks in the [feedback] mailbox on IMAP: set feedback.mailbox = 'imaps://…'"
        )
    account_password(config, env)  # before anything is sent
    try:
        recipient = Recipient(sendable(address))
    except (EmailNotValidError, ValueError) as problem:
        raise ConfigError(f"--via-imap: not an address: {address!r} ({problem})") from None
    secrets = read_secrets(config, env, unsubscribe_url=issue.unsubscribe_url)
    marker = uuid.uuid4().hex
    delivery = send_one(
        issue, recipient, config, now=now, secrets=secrets, signer=Signer(keys, now), headers={MARKER: marker}
    )
    if delivery.outcome is not Outcome.SENT:
        return Verdict(
            Tier.RECEIVER, [error("receiver", f"the relay did not take the test copy: {delivery.reply}")]
        )
    return check_receiver(config, env, marker, wait=wait)


def _save(folder: Path, verdict: Verdict, answers: dict[str, object]) -> None:
    """The domain tier's findings and the answers they rest on, in the issue folder."""
    record = {"findings": [str(f) for f in verdict.findings], "dns": answers}
    write_file(
        folder / issue_folder.DELIVERABILITY, json.dumps(record, indent=2, ensure_ascii=False).encode()
    )


def run_preflight(
    config: Config,
    state_dir: Path,
    which: str | None,
    options: Preflight,
    *,
    env: Mapping[str, str],
    now: dt.datetime,
) -> list[Verdict]:
    """`digest check --deliverability`: the issue `which` (number, date or None: the latest) as
    the state database knows it, through the tiers asked for."""
    with open_state(state_dir) as state:
        number, folder = state.issue_folder(which)
    return preflight(issue_folder.read_personal(folder, number), config, options, env=env, now=now)
