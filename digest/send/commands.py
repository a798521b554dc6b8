"""What `digest send` does: the issue to every subscriber, one test copy, or a dry run.

Each reads the issue back from its folder (as the state database knows it), the secrets from
the environment it is given, and the subscribers from their CSV.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from contextlib import nullcontext
from functools import partial
from pathlib import Path

from digest import issue_folder
from digest.config import Config
from digest.config.secrets import read_secrets
from digest.errors import SendError
from digest.issue_folder import PersonalIssue
from digest.models import Recipient, Unconfirmed
from digest.send.copies import Copies, IssueCopies
from digest.send.delivery import Progress, SendReport, assigned, send_issue, send_one
from digest.send.dkim import Signer, load_keys
from digest.send.lock import sender_lock
from digest.send.subscribers import ListReport, Subscriber, read_subscribers
from digest.send.transport import Outcome
from digest.state import State, open_state


def _issue(state: State, which: str | None) -> PersonalIssue:
    """The issue `which` (number, date, or None for the latest) as the state database knows it."""
    number, folder = state.issue_folder(which)
    return issue_folder.read_personal(folder, number)


def _read_issue(state_dir: Path, which: str | None) -> PersonalIssue:
    with open_state(state_dir) as state:
        return _issue(state, which)


def _subscribers(config: Config, report: ListReport) -> Iterator[Subscriber]:
    path = Path(config.resolve(config.send.subscribers))
    return read_subscribers(path, config.send.subscribers, report, config.segments)


def send_all(
    config: Config,
    state_dir: Path,
    which: str | None,
    *,
    now: dt.datetime,
    env: Mapping[str, str],
    unconfirmed: Unconfirmed | None = None,
    progress: Progress | None = None,
    locked: bool = False,
) -> SendReport:
    """`digest send`: under the lock, the issue to every subscriber not yet sent to.

    `locked`: the caller holds the lock already (`digest run`, for its build and its send).
    """
    with nullcontext() if locked else sender_lock(state_dir), open_state(state_dir) as state:
        issue = _issue(state, which)
        listed = ListReport()
        return send_issue(
            issue,
            _subscribers(config, listed),
            listed,
            state.ledger(issue.number),
            config,
            now=now,
            secrets=read_secrets(config, env, unsubscribe_url=issue.unsubscribe_url),
            unconfirmed=unconfirmed,
            progress=progress,
            signer=Signer(load_keys(config, env), now),
        )


def send_test(
    config: Config,
    state_dir: Path,
    which: str | None,
    address: str,
    *,
    now: dt.datetime,
    env: Mapping[str, str],
) -> str:
    """One copy marked [TEST] to `address`; not recorded as the issue's send."""
    issue = _read_issue(state_dir, which)
    secrets = read_secrets(config, env, unsubscribe_url=issue.unsubscribe_url)
    signer = Signer(load_keys(config, env), now)
    delivery = send_one(issue, Recipient(address), config, now=now, secrets=secrets, signer=signer)
    if delivery.outcome is Outcome.DEFERRED:
        raise SendError(f"the test copy was not sent: {delivery.reply}")
    if delivery.outcome is Outcome.REFUSED:
        raise SendError(f"the server refused the test copy: {delivery.reply}")
    return address


# An address may hold a "/" (a/b@example.org is valid): in a file name it would make a folder.
_SLASHES = re.compile(r"[/\\]")


def dry_run(
    config: Config,
    state_dir: Path,
    which: str | None,
    out: Path | None,
    *,
    now: dt.datetime,
    env: Mapping[str, str],
) -> Path:
    """Every subscriber's message as an .eml file in a folder, instead of sending: the bytes
    `digest send` would send."""
    issue = _read_issue(state_dir, which)
    secrets = read_secrets(config, env, unsubscribe_url=issue.unsubscribe_url, smtp=False)
    signer = Signer(load_keys(config, env), now)
    copies = IssueCopies(
        issue, partial(Copies, config=config, now=now, secret=secrets.unsubscribe, signer=signer)
    )
    rows = assigned(_subscribers(config, ListReport()), issue.variants, ListReport())
    files = (
        (f"{n:05d}-{_SLASHES.sub('_', key)}.eml", copies.for_recipient(Recipient(address, name, variant)))
        for n, (key, address, name, variant) in enumerate(rows, start=1)
    )
    return issue_folder.write_folder(out or issue.folder / issue_folder.DRY_RUN, files)
