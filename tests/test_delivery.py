"""The delivery plan on the memory transport: pacing, retries, unconfirmed copies, the daily
limit and the ledger, with no relay at all (`digest.send.transports.memory`)."""

from __future__ import annotations

import datetime as dt
import email
from email import policy
from pathlib import Path
from typing import Any

import pytest
from msgspec.structs import replace

from digest.config import Config, load_config
from digest.config.secrets import Secrets
from digest.issue_folder import read_personal
from digest.models import Unconfirmed
from digest.send.delivery import SendReport, send_issue
from digest.send.subscribers import ListReport, read_subscribers
from digest.send.transport import Delivery, Outcome
from digest.send.transports.memory import Outbox
from digest.state import open_state

from .conftest import build_into

SECRET = "a secret for the plan's tests"
READERS = [f"reader{n}@example.org" for n in range(5)]
NOW = dt.datetime(2025, 11, 24, 6, tzinfo=dt.UTC)
LOST = Delivery(Outcome.DEFERRED, "421 4.3.2 closing the channel", connection=True)


@pytest.fixture
def issue(newsletter: Path, tmp_path: Path) -> Config:
    """The sample built with five readers, its state in tmp_path/state."""
    (newsletter / "subscribers.csv").write_text(
        "email,name\n" + "".join(f"{r},R{n}\n" for n, r in enumerate(READERS))
    )
    config = load_config(newsletter / "digest.toml")
    build_into(config, tmp_path)
    return config


def send(config: Config, folder: Path, outbox: Outbox, **options: Any) -> SendReport:
    with open_state(folder / "state") as state:
        number, path = state.issue_folder(None)
        listed = ListReport()
        readers = read_subscribers(Path(config.resolve(config.send.subscribers)), "subscribers.csv", listed)
        return send_issue(
            read_personal(path, number),
            readers,
            listed,
            state.ledger(number),
            config,
            now=NOW,
            secrets=Secrets(None, SECRET),
            transport=outbox.transport,
            **options,
        )


def with_smtp(config: Config, **values: Any) -> Config:
    return replace(config, smtp=replace(config.smtp, **values))


class Clock:
    """A clock of the test's own: sleeping moves it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def test_every_reader_gets_one_personal_copy_and_a_rerun_sends_none(issue: Config, tmp_path: Path) -> None:
    outbox = Outbox()
    report = send(issue, tmp_path, outbox)
    assert (report.sent, report.complete) == (5, True)
    assert [k.recipient for k in outbox.kept] == READERS
    to = [email.message_from_bytes(k.message, policy=policy.default)["To"] for k in outbox.kept]
    assert to == [f"R{n} <{r}>" for n, r in enumerate(READERS)]
    again = send(issue, tmp_path, outbox)
    assert (again.sent, again.already_sent, len(outbox.kept)) == (0, 5, 5)


def test_the_rate_paces_every_message_across_the_run(issue: Config, tmp_path: Path) -> None:
    clock = Clock()
    send(with_smtp(issue, rate=4), tmp_path, Outbox(), clock=clock, sleep=clock.sleep)
    assert clock.slept == [0.25] * 4  # five messages, four gaps of a quarter second


def test_a_lost_connection_is_retried_with_backoff_and_nobody_gets_two(issue: Config, tmp_path: Path) -> None:
    clock = Clock()
    outbox = Outbox({READERS[2]: [LOST, LOST]})
    report = send(issue, tmp_path, outbox, clock=clock, sleep=clock.sleep)
    assert (report.sent, report.complete) == (5, True)
    assert sorted(k.recipient for k in outbox.kept) == sorted(READERS)
    assert outbox.drops == 2 and clock.slept == [2.0, 4.0]  # smtp.backoff, doubling
    assert outbox.offered.count(READERS[2]) == 3


def test_a_relay_that_keeps_failing_stops_the_run_with_the_rest_queued(issue: Config, tmp_path: Path) -> None:
    clock = Clock()
    outbox = Outbox({READERS[1]: [LOST] * 10})
    report = send(with_smtp(issue, retries=2), tmp_path, outbox, clock=clock, sleep=clock.sleep)
    assert report.stopped is not None and "failed 3 times in a row" in report.stopped
    assert (report.sent, report.deferred) == (1, 4)
    assert clock.slept == [2.0, 4.0]
    later = send(issue, tmp_path, Outbox())  # the relay is back: the next run finishes the list
    assert (later.sent, later.already_sent, later.complete) == (4, 1, True)


def test_a_copy_lost_during_its_data_is_unconfirmed_and_never_resent_on_its_own(
    issue: Config, tmp_path: Path
) -> None:
    lost = Delivery(Outcome.UNCONFIRMED, "connection lost during delivery", connection=True)
    clock = Clock()
    report = send(issue, tmp_path, Outbox({READERS[3]: [lost]}), clock=clock, sleep=clock.sleep)
    assert (report.sent, report.unconfirmed) == (4, 1) and not report.complete
    rerun = Outbox()
    assert send(issue, tmp_path, rerun).unconfirmed == 1 and rerun.kept == []
    settled = Outbox()
    report = send(issue, tmp_path, settled, unconfirmed=Unconfirmed.RESEND)
    assert [k.recipient for k in settled.kept] == [READERS[3]] and report.complete


def test_a_permanent_refusal_is_recorded_and_the_others_go_on(issue: Config, tmp_path: Path) -> None:
    refused = Delivery(Outcome.REFUSED, "550 5.1.1 no such mailbox")
    report = send(issue, tmp_path, Outbox({READERS[0]: [refused]}))
    assert (report.sent, report.failed) == (4, 1)
    assert report.examples[next(iter(report.examples))] == [(READERS[0], "550 5.1.1 no such mailbox")]


def test_the_daily_limit_stops_the_run_and_the_next_day_goes_on(issue: Config, tmp_path: Path) -> None:
    limited = with_smtp(issue, daily_limit=3)
    first = send(limited, tmp_path, Outbox(), wall=lambda: NOW)
    assert first.sent == 3 and first.stopped is not None and "daily limit" in first.stopped
    same_day = send(limited, tmp_path, Outbox(), wall=lambda: NOW + dt.timedelta(hours=1))
    assert same_day.sent == 0
    next_day = send(limited, tmp_path, Outbox(), wall=lambda: NOW + dt.timedelta(days=1, minutes=1))
    assert (next_day.sent, next_day.complete) == (2, True)


@pytest.mark.parametrize("connections", [1, 4])
def test_several_transports_at_once_deliver_each_copy_once(
    issue: Config, tmp_path: Path, connections: int
) -> None:
    outbox = Outbox({READERS[4]: [LOST]})
    report = send(with_smtp(issue, connections=connections, backoff=0), tmp_path, outbox)
    assert report.complete and sorted(k.recipient for k in outbox.kept) == sorted(READERS)
