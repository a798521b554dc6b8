"""Sending against a real SMTP server on loopback: STARTTLS, AUTH, faults, kill -9, a race.

Every test counts what the server received: each subscriber exactly once.
"""

from __future__ import annotations

import datetime as dt
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from digest.addresses import reader, token
from digest.config import Config, load_config
from digest.config.secrets import Secrets
from digest.errors import SendError
from digest.issue_folder import read_personal
from digest.models import Recipient
from digest.send.copies import Copies
from digest.send.delivery import SendReport, send_issue
from digest.send.lock import exclusive
from digest.send.subscribers import ListReport, read_subscribers
from digest.state import open_state

from .conftest import SAMPLE, Cli, build_into, start_digest
from .smtp import PASSWORD, SmtpServer
from .test_cli import assert_one_line_error

SECRET = "unsubscribe-secret-for-tests"


def newsletter(
    folder: Path,
    smtp: SmtpServer,
    subscribers: int = 0,
    *,
    ca: bool = True,
    extra: str = "",
    connections: int = 1,
    smtp_extra: str = "",
) -> Path:
    """The sample newsletter with the test server as its SMTP relay (and n generated subscribers);
    `connections` and `smtp_extra` go into its [smtp] section."""
    folder.mkdir(exist_ok=True)
    for name in ("news.rss", "analytics.csv", "picks.toml", "subscribers.csv"):
        (folder / name).write_bytes((SAMPLE / name).read_bytes())
    # The sample's own [smtp] section gives way to the test server's.
    config = re.sub(r"\[smtp\]\n(?:[^\[\n].*\n|\n)*", "", (SAMPLE / "digest.toml").read_text())
    smtp_section = smtp.toml(ca=ca) + f"connections = {connections}\n" + smtp_extra
    config += smtp_section + extra + '[output]\ndir = "issues"\n[state]\ndir = "state"\n'
    (folder / "digest.toml").write_text(config)
    if subscribers:
        # Mixed case on purpose: the ledger must know Reader0@… and reader0@… as one subscriber.
        rows = "".join(f"Reader{n}@Example.org,Reader {n},\n" for n in range(subscribers))
        (folder / "subscribers.csv").write_text("email,name,status\n" + rows)
    return folder / "digest.toml"


def send_in_process(config: Config, folder: Path, **clocks: Any) -> SendReport:
    """`digest send` of the latest issue built into `folder`, with clocks of the test's own."""
    with open_state(folder / "state") as state:
        number, issue_path = state.issue_folder(None)
        listed = ListReport()
        subscribers = read_subscribers(
            Path(config.resolve(config.send.subscribers)), "subscribers.csv", listed
        )
        return send_issue(
            read_personal(issue_path, number),
            subscribers,
            listed,
            state.ledger(number),
            config,
            now=dt.datetime(2025, 11, 24, tzinfo=dt.UTC),
            secrets=Secrets(PASSWORD, SECRET),
            **clocks,
        )


def unconfirmed_in(state: Path) -> set[str]:
    """The recipients the ledger has as unconfirmed (any issue)."""
    with open_state(state) as opened:
        rows = opened.ledger(0)._db.execute("SELECT email FROM sends WHERE status = 'unconfirmed'")
        return {email for (email,) in rows}


def environment(password: str = PASSWORD) -> dict[str, str]:
    return {"DIGEST_SMTP_PASSWORD": password, "DIGEST_UNSUBSCRIBE_SECRET": SECRET}


def digest(*args: str, cwd: Path, password: str = PASSWORD) -> subprocess.Popen[str]:
    return start_digest(*args, cwd=cwd, env=environment(password))


def test_the_sample_goes_to_each_subscriber_once_over_starttls_with_auth(cli: Cli, smtp: SmtpServer) -> None:
    config = newsletter(cli.cwd / "news", smtp)
    built = cli("build", "--config", str(config))
    assert built.exit_code == 0, built.output
    result = cli("send", "--config", str(config), env=environment())
    assert result.exit_code == 0, result.output
    assert smtp.recorder.copies == {
        "ana.ionescu@example.org": 1,
        "levan@example.net": 1,
        "m.sargsyan@example.com": 1,
        "editor@commonground.example": 1,
    }
    assert "4 sent" in result.stdout and "2 unsubscribed or bounced skipped" in result.stdout
    assert "subscribers.csv:7: 'not-an-address' skipped" in result.stderr
    # A second run sends nothing: the ledger remembers.
    again = cli("send", "--config", str(config), env=environment())
    assert again.exit_code == 0 and "0 sent, 4 already sent" in again.stdout
    assert sum(smtp.recorder.copies.values()) == 4


def test_each_copy_is_personal(cli: Cli, smtp: SmtpServer) -> None:
    config = newsletter(cli.cwd / "news", smtp)
    cli("build", "--config", str(config))
    cli("send", "--config", str(config), env=environment())
    by_recipient = {m["To"].addresses[0].addr_spec: m for m in smtp.recorder.parsed()}
    ana = by_recipient["ana.ionescu@example.org"]
    html, text = ana.get_body(("html",)).get_content(), ana.get_body(("plain",)).get_content()
    assert "Dear Ana Ionescu," in html and "Dear Ana Ionescu," in text
    ref = reader("ana.ionescu@example.org")
    assert f"unsubscribe?reader={ref}&amp;token=" in html
    assert f"reader={ref}&token=" in ana["List-Unsubscribe"]
    assert "ana.ionescu@example.org" not in ana["List-Unsubscribe"] + html  # no address spelled out in a link
    nameless = by_recipient["editor@commonground.example"]
    assert "Dear reader," in nameless.get_body(("plain",)).get_content()
    assert f"token={token(SECRET, 'ana.ionescu@example.org')}" in ana["List-Unsubscribe"]
    assert token(SECRET, "a@x.org") != token(SECRET, "b@x.org")


@pytest.mark.parametrize("connections", [1, 8])
def test_a_refused_recipient_is_recorded_and_the_rest_sent(
    cli: Cli, smtp: SmtpServer, connections: int
) -> None:
    config = newsletter(cli.cwd / "news", smtp, connections=connections)
    cli("build", "--config", str(config))
    smtp.recorder.faults.refuse = {"levan@example.net"}
    result = cli("send", "--config", str(config), env=environment())
    assert result.exit_code == 6
    assert "levan@example.net: failed: 550 5.1.1 no such mailbox" in result.stderr
    assert smtp.recorder.copies == {
        "ana.ionescu@example.org": 1,
        "m.sargsyan@example.com": 1,
        "editor@commonground.example": 1,
    }


@pytest.mark.parametrize(
    "fault",
    [
        {"busy": 3},  # 421 three times, then the server recovers
        {"drop_after": 5},  # the server drops the connection after five messages
    ],
    ids=["421-then-recovery", "dropped-after-5"],
)
@pytest.mark.parametrize("connections", [1, 8])
def test_a_transient_fault_is_retried_on_a_new_connection_without_duplicates(
    cli: Cli, smtp: SmtpServer, fault: dict[str, int], connections: int
) -> None:
    config = newsletter(cli.cwd / "news", smtp, subscribers=12, connections=connections)
    cli("build", "--config", str(config))
    for name, value in fault.items():
        setattr(smtp.recorder.faults, name, value)
    result = cli("send", "--config", str(config), env=environment())
    assert result.exit_code == 0, result.output
    assert smtp.recorder.faults.busy == 0 and smtp.recorder.dropped == ("drop_after" in fault)  # it fired
    assert len(smtp.recorder.copies) == 12 and set(smtp.recorder.copies.values()) == {1}


@pytest.mark.slow
@pytest.mark.parametrize("connections", [1, 8])
def test_a_server_that_stays_busy_leaves_recipients_for_the_next_run(
    cli: Cli, smtp: SmtpServer, connections: int
) -> None:
    config = newsletter(cli.cwd / "news", smtp, subscribers=3, connections=connections)
    cli("build", "--config", str(config))
    smtp.recorder.faults.busy = 1000
    result = cli("send", "--config", str(config), env=environment())
    assert result.exit_code == 6
    assert "not sent yet (a rerun retries): 421" in result.stderr
    smtp.recorder.faults.busy = 0
    rerun = cli("send", "--config", str(config), env=environment())
    assert rerun.exit_code == 0, rerun.output
    assert len(smtp.recorder.copies) == 3 and set(smtp.recorder.copies.values()) == {1}


@pytest.mark.slow
@pytest.mark.parametrize("settle", ["skip", "resend"])
@pytest.mark.parametrize("connections", [1, 8])
def test_kill_9_mid_send_then_rerun_sends_each_subscriber_exactly_once(
    tmp_path: Path, smtp: SmtpServer, settle: str, connections: int
) -> None:
    config = newsletter(tmp_path / "news", smtp, subscribers=20, connections=connections)
    build = digest("build", "--config", str(config), cwd=tmp_path)
    assert build.wait(timeout=60) == 0
    first = digest("send", "--config", str(config), cwd=tmp_path)
    smtp.recorder.faults.kill = (first.pid, 7)
    first.wait(timeout=60)
    assert first.returncode == -signal.SIGKILL
    assert sum(smtp.recorder.copies.values()) == 7  # the server stops taking messages as it kills
    smtp.recorder.faults.kill = None
    rerun = digest("send", "--config", str(config), cwd=tmp_path)
    _, err = rerun.communicate(timeout=60)
    # What the sender was delivering when it died may have reached the server; the sender could
    # not know: it is reported as unconfirmed (exit 6), never sent again on its own.
    assert rerun.returncode == 6, err
    unconfirmed = unconfirmed_in(tmp_path / "news" / "state")
    assert "unconfirmed" in err and 1 <= len(unconfirmed) <= connections
    assert set(smtp.recorder.copies.values()) == {1}  # nobody twice
    everyone = {f"reader{n}@example.org" for n in range(20)}
    assert set(smtp.recorder.copies) | unconfirmed == everyone
    received = dict(smtp.recorder.copies)
    settled = digest("send", "--config", str(config), "--unconfirmed", settle, cwd=tmp_path)
    assert settled.wait(timeout=60) == 0
    if settle == "skip":  # assumed delivered: nobody gets anything more
        assert smtp.recorder.copies == received
    else:  # the editor chose to resend: the unconfirmed, and only they, get one more copy
        assert smtp.recorder.copies == {a: received.get(a, 0) + (a in unconfirmed) for a in everyone}
    total = sum(smtp.recorder.copies.values())
    again = digest("send", "--config", str(config), cwd=tmp_path)
    assert again.wait(timeout=60) == 0 and sum(smtp.recorder.copies.values()) == total


@pytest.mark.slow
@pytest.mark.parametrize("connections", [1, 8])
def test_two_sends_at_once_one_sends_the_other_exits_7(
    tmp_path: Path, smtp: SmtpServer, connections: int
) -> None:
    config = newsletter(tmp_path / "news", smtp, subscribers=15, connections=connections)
    assert digest("build", "--config", str(config), cwd=tmp_path).wait(timeout=60) == 0
    smtp.recorder.faults.delay = 0.05
    first = digest("send", "--config", str(config), cwd=tmp_path)
    while not smtp.recorder.messages:
        time.sleep(0.02)
    second = digest("send", "--config", str(config), cwd=tmp_path)
    _, second_err = second.communicate(timeout=60)
    first.wait(timeout=60)
    assert second.returncode == 7
    assert "another digest send or run holds the lock" in second_err
    assert first.returncode == 0
    assert len(smtp.recorder.copies) == 15 and set(smtp.recorder.copies.values()) == {1}


@pytest.mark.slow
def test_the_password_appears_in_no_output_log_or_file(tmp_path: Path, smtp: SmtpServer) -> None:
    config = newsletter(tmp_path / "news", smtp, subscribers=3)
    outputs: list[str] = []
    for args, password in ((("build",), PASSWORD), (("send",), PASSWORD), (("send",), "wrong-" + PASSWORD)):
        process = digest(*args, "--config", str(config), cwd=tmp_path, password=password)
        outputs.extend(process.communicate(timeout=60))
    assert all(PASSWORD not in output for output in outputs)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path
    assert all(PASSWORD.encode() not in data for _, data in smtp.recorder.messages)


@pytest.mark.parametrize("connections", [1, 8])
def test_a_wrong_password_is_a_clear_failure(cli: Cli, smtp: SmtpServer, connections: int) -> None:
    config = newsletter(cli.cwd / "news", smtp, connections=connections)
    cli("build", "--config", str(config))
    result = cli("send", "--config", str(config), env=environment("not-it"))
    assert result.exit_code == 6
    assert "authentication failed (535)" in result.stderr
    assert smtp.recorder.messages == []


@pytest.mark.parametrize("connections", [1, 8])
def test_an_unverifiable_certificate_stops_the_send(cli: Cli, smtp: SmtpServer, connections: int) -> None:
    config = newsletter(cli.cwd / "news", smtp, ca=False, connections=connections)
    cli("build", "--config", str(config))
    result = cli("send", "--config", str(config), env=environment())
    assert result.exit_code == 6
    assert "TLS failed" in result.stderr and "CERTIFICATE_VERIFY_FAILED" in result.stderr
    assert smtp.recorder.messages == []


def test_a_test_copy_is_marked_and_not_recorded(cli: Cli, smtp: SmtpServer) -> None:
    config = newsletter(cli.cwd / "news", smtp)
    cli("build", "--config", str(config))
    result = cli("send", "--config", str(config), "--test", "proof@example.org", env=environment())
    assert result.exit_code == 0, result.output
    [message] = smtp.recorder.parsed()
    assert message["Subject"].strip().startswith("[TEST] CommonGround Weekly #1")
    full = cli("send", "--config", str(config), env=environment())
    assert "4 sent" in full.stdout  # the test copy did not count as anyone's delivery


def dry_run(cli: Cli, config: Path) -> Path:
    """The issue built, then `digest send --dry-run`: the folder it wrote."""
    cli("build", "--config", str(config))
    result = cli("send", "--config", str(config), "--dry-run", env=environment())
    assert result.exit_code == 0, result.output
    return Path(result.stdout.splitlines()[-1])


def test_dry_run_writes_every_personal_message(cli: Cli, smtp: SmtpServer) -> None:
    folder = dry_run(cli, newsletter(cli.cwd / "news", smtp))
    assert sorted(p.name for p in folder.iterdir()) == [
        ".made-by-digest",
        "00001-ana.ionescu@example.org.eml",
        "00002-levan@example.net.eml",
        "00003-m.sargsyan@example.com.eml",
        "00004-editor@commonground.example.eml",
    ]
    assert smtp.recorder.messages == []


def test_run_builds_then_sends_and_exits_3_when_nothing_is_new(cli: Cli, smtp: SmtpServer) -> None:
    config = newsletter(cli.cwd / "news", smtp)
    result = cli("run", "--config", str(config), env=environment())
    assert result.exit_code == 0, result.output
    assert sum(smtp.recorder.copies.values()) == 4
    # A week later, the feed has not grown: nothing new, exit 3, and nobody gets a second mail.
    later = cli("run", "--config", str(config), env=environment() | {"DIGEST_ISSUE__DATE": "2025-12-01"})
    assert later.exit_code == 3
    assert sum(smtp.recorder.copies.values()) == 4


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_run_takes_the_issue_date_as_build_does(cli: Cli, smtp: SmtpServer, how: str) -> None:
    config = newsletter(cli.cwd / "news", smtp)
    flag = ["--date", "2025-11-25"] if how == "flag" else []
    env = environment() | ({"DIGEST_DATE": "2025-11-25"} if how == "environment" else {})
    result = cli("run", "--config", str(config), *flag, env=env)
    assert result.exit_code == 0, result.output
    assert (cli.cwd / "news" / "issues" / "2025-11-25" / "index.html").is_file()
    assert not (cli.cwd / "news" / "issues" / "2025-11-24").exists()  # the config's pinned date gave way


def test_the_rate_limit_spaces_the_messages(tmp_path: Path, smtp: SmtpServer) -> None:
    """Ten messages at 4 per second: nine waits of a quarter second, on a clock of our own."""
    config_path = newsletter(tmp_path / "news", smtp, subscribers=10, extra="")
    text = config_path.read_text().replace("[smtp]\n", "[smtp]\nrate = 4\n")
    config_path.write_text(text)
    config = load_config(config_path)
    build_into(config, tmp_path)
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(round(seconds, 6))
        now[0] += seconds

    report = send_in_process(config, tmp_path, sleep=sleep, clock=lambda: now[0])
    assert report.sent == 10
    assert waits == [0.25] * 9


def test_run_waits_for_no_one_when_another_holds_the_lock(cli: Cli, smtp: SmtpServer) -> None:
    config = newsletter(cli.cwd / "news", smtp)
    with exclusive(cli.cwd / "news" / "state" / "send.lock"):
        result = cli("run", "--config", str(config), env=environment())
    assert result.exit_code == 7
    assert "another digest send or run holds the lock" in result.stderr
    assert not (cli.cwd / "news" / "issues").exists()  # it built nothing either
    assert smtp.recorder.messages == []


@pytest.mark.parametrize("smtp", [{"security": "tls"}], indirect=True)
def test_implicit_tls_sends_over_an_encrypted_connection_from_the_start(cli: Cli, smtp: SmtpServer) -> None:
    config = newsletter(cli.cwd / "news", smtp)
    assert 'security = "tls"' in config.read_text()
    cli("build", "--config", str(config))
    result = cli("send", "--config", str(config), env=environment())
    assert result.exit_code == 0, result.output
    assert sum(smtp.recorder.copies.values()) == 4


def test_the_password_can_come_from_a_file(cli: Cli, smtp: SmtpServer) -> None:
    config = newsletter(cli.cwd / "news", smtp, extra="")
    (config.parent / "smtp-password").write_text(PASSWORD + "\n")
    config.write_text(config.read_text().replace("[smtp]\n", '[smtp]\npassword_file = "smtp-password"\n'))
    cli("build", "--config", str(config))
    without_env = {"DIGEST_UNSUBSCRIBE_SECRET": SECRET}  # no $DIGEST_SMTP_PASSWORD
    result = cli("send", "--config", str(config), env=without_env)
    assert result.exit_code == 0, result.output
    assert sum(smtp.recorder.copies.values()) == 4
    (config.parent / "smtp-password").unlink()
    missing = cli("send", "--config", str(config), "--test", "proof@example.org", env=without_env)
    assert missing.exit_code == 2
    assert "smtp.password_file: cannot read it (No such file or directory)" in missing.stderr


@pytest.mark.parametrize(
    ("smtp", "problem"),
    [
        ({"security": "none"}, "does not offer STARTTLS; not sending in the clear"),
        ({"cram_only": True}, "the server offers no AUTH mechanism digest speaks (CRAM-MD5)"),
    ],
    indirect=["smtp"],
    ids=["no-starttls", "no-usable-auth"],
)
def test_a_server_digest_cannot_talk_to_safely_stops_the_send(
    cli: Cli, smtp: SmtpServer, problem: str
) -> None:
    config = newsletter(cli.cwd / "news", smtp)
    cli("build", "--config", str(config))
    result = cli("send", "--config", str(config), env=environment())
    assert result.exit_code == 6
    assert problem in result.stderr and "Traceback" not in result.output
    assert smtp.recorder.messages == []


def test_the_unsubscribe_secret_comes_from_the_variable_send_secret_env_names(
    cli: Cli, smtp: SmtpServer
) -> None:
    config = newsletter(cli.cwd / "news", smtp)
    config.write_text(config.read_text().replace("[send]\n", '[send]\nsecret_env = "NEWSLETTER_KEY"\n'))
    assert cli("build", "--config", str(config)).exit_code == 0
    unset = cli("send", "--config", str(config), env={"DIGEST_SMTP_PASSWORD": PASSWORD})
    assert unset.exit_code == 2
    assert "set the secret in $NEWSLETTER_KEY" in unset.stderr and "DIGEST_UNSUBSCRIBE" not in unset.stderr
    result = cli(
        "send", "--config", str(config), env={"DIGEST_SMTP_PASSWORD": PASSWORD, "NEWSLETTER_KEY": "k2"}
    )
    assert result.exit_code == 0, result.output
    ana = next(m for m in smtp.recorder.parsed() if "ana.ionescu" in str(m["To"]))
    assert f"token={token('k2', 'ana.ionescu@example.org')}" in ana["List-Unsubscribe"]


def test_test_and_dry_run_together_are_a_usage_error(cli: Cli, smtp: SmtpServer) -> None:
    config = newsletter(cli.cwd / "news", smtp)
    cli("build", "--config", str(config))
    result = cli(
        "send", "--config", str(config), "--test", "proof@example.org", "--dry-run", env=environment()
    )
    assert result.exit_code == 2
    assert "--test and --dry-run: choose one" in result.stderr
    assert smtp.recorder.messages == []
    assert not (cli.cwd / "news" / "issues" / "2025-11-24" / "dry-run").exists()


@pytest.mark.parametrize("command", ["send", "run"])
def test_send_and_run_never_fall_back_to_the_bundled_sample(cli: Cli, smtp: SmtpServer, command: str) -> None:
    assert cli("build").exit_code == 0  # build may show the sample: it mails nobody
    result = cli(command, env=environment())
    assert result.exit_code == 2
    assert "no digest.toml here or in a folder above" in result.stderr and "digest init" in result.stderr
    assert smtp.recorder.messages == []


def test_a_bug_mid_send_is_one_line_exit_70_and_a_crash_file_and_nothing_is_lost(
    cli: Cli, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = newsletter(cli.cwd / "news", smtp, subscribers=5)
    cli("build", "--config", str(config))
    real = Copies.wire
    calls = [0]

    def buggy(self: Copies, recipient: Recipient) -> bytes:
        calls[0] += 1
        if calls[0] == 3:
            raise ZeroDivisionError("a bug in the middle of a send")
        return real(self, recipient)

    monkeypatch.setattr(Copies, "wire", buggy)
    result = cli("send", "--config", str(config), env=environment())
    assert result.exit_code == 70
    [line] = result.stderr.splitlines()
    assert line.startswith(
        "digest: internal error: ZeroDivisionError: a bug in the middle of a send; this is a bug"
    )
    crash = Path(line.rsplit("the traceback is in ", 1)[1].rstrip(")"))
    assert crash.parent == cli.cwd / "news" / "state"
    assert "Traceback" in crash.read_text() and "ZeroDivisionError" in crash.read_text()
    assert sum(smtp.recorder.copies.values()) == 2
    monkeypatch.setattr(Copies, "wire", real)
    rerun = cli("send", "--config", str(config), env=environment())
    assert rerun.exit_code == 0, rerun.output
    assert len(smtp.recorder.copies) == 5 and set(smtp.recorder.copies.values()) == {1}


@pytest.mark.parametrize("connections", [1, 8])
def test_a_dead_relay_ends_the_run_quickly_with_everyone_still_queued(cli: Cli, connections: int) -> None:
    dead = SmtpServer(cli.cwd)  # made, never started: nothing listens on its port
    config = newsletter(cli.cwd / "news", dead, subscribers=2000, connections=connections)
    cli("build", "--config", str(config))
    started = time.monotonic()
    result = cli("send", "--config", str(config), env=environment())
    assert time.monotonic() - started < 30  # backoff 0.05 s here; 2+4+8+16 s with the defaults
    assert result.exit_code == 6
    assert_one_line_error(
        result.stderr, "the relay failed 5 times in a row", "2000 of 2000 recipients not sent"
    )
    assert "Connection refused" in result.stderr
    with open_state(cli.cwd / "news" / "state") as state:
        assert state.ledger(1)._db.execute(
            "SELECT status, count(*) FROM sends GROUP BY status"
        ).fetchall() == [("queued", 2000)]


def test_the_daily_limit_stops_the_run_and_the_next_day_goes_on(tmp_path: Path, smtp: SmtpServer) -> None:
    config = load_config(newsletter(tmp_path / "news", smtp, subscribers=5, smtp_extra="daily_limit = 3\n"))
    build_into(config, tmp_path)
    day = [dt.datetime(2025, 11, 24, 6, tzinfo=dt.UTC)]
    first = send_in_process(config, tmp_path, wall=lambda: day[0])
    assert (first.sent, first.deferred, first.stopped) == (
        3,
        2,
        "the daily limit is reached (3 in 24 hours, smtp.daily_limit)",
    )
    with pytest.raises(SendError, match="daily limit"):
        first.raise_if_incomplete()
    day[0] += dt.timedelta(hours=23)  # still within 24 hours of the first three
    assert send_in_process(config, tmp_path, wall=lambda: day[0]).sent == 0
    day[0] += dt.timedelta(hours=2)
    last = send_in_process(config, tmp_path, wall=lambda: day[0])
    assert (last.sent, last.already_sent, last.complete) == (2, 3, True)
    assert len(smtp.recorder.copies) == 5 and set(smtp.recorder.copies.values()) == {1}


def test_a_warm_up_list_is_followed_day_by_day(tmp_path: Path, smtp: SmtpServer) -> None:
    config = load_config(
        newsletter(tmp_path / "news", smtp, subscribers=12, smtp_extra="daily_limit = [2, 4]\n")
    )
    build_into(config, tmp_path)
    start = dt.datetime(2025, 11, 24, 6, tzinfo=dt.UTC)
    sent = [
        send_in_process(config, tmp_path, wall=lambda d=d: start + dt.timedelta(days=d)).sent
        for d in range(4)
    ]
    assert sent == [2, 4, 4, 2]  # day one 2, day two 4, then the last number holds; 12 in all
    assert set(smtp.recorder.copies.values()) == {1}


@pytest.mark.parametrize(("smtp", "offered"), [({"smtputf8": True}, True), ({}, False)], indirect=["smtp"])
def test_a_non_ascii_local_part_goes_with_smtputf8_or_fails_with_the_reason(
    cli: Cli, smtp: SmtpServer, offered: bool
) -> None:
    config = newsletter(cli.cwd / "news", smtp)
    with (config.parent / "subscribers.csv").open("a", encoding="utf-8") as rows:
        rows.write("josé@example.org,José Núñez,\nuser@bücher.example,Bücher,\n")
    cli("build", "--config", str(config))
    result = cli("send", "--config", str(config), env=environment())
    assert "Traceback" not in result.output
    assert smtp.recorder.copies["user@xn--bcher-kva.example"] == 1  # an IDNA domain: plain ASCII on the wire
    if offered:
        assert result.exit_code == 0, result.output
        [jose] = [data for recipients, data in smtp.recorder.messages if recipients == ["josé@example.org"]]
        assert "To: José Núñez <josé@example.org>\r\n".encode() in jose  # UTF-8 headers (RFC 6532)
        assert smtp.recorder.copies["josé@example.org"] == 1
    else:
        assert result.exit_code == 6
        assert "josé@example.org: failed: the address needs SMTPUTF8" in result.stderr
        assert "josé@example.org" not in smtp.recorder.copies
    assert sum(smtp.recorder.copies.values()) == 5 + offered  # the sample's four and the others went


def test_a_dry_run_of_an_address_with_a_slash_writes_one_file_in_its_folder(
    cli: Cli, smtp: SmtpServer
) -> None:
    config = newsletter(cli.cwd / "news", smtp)
    (cli.cwd / "news" / "subscribers.csv").write_text("email\nfinance/news@example.org\n")
    folder = dry_run(cli, config)
    assert sorted(p.name for p in folder.iterdir()) == [
        ".made-by-digest",
        "00001-finance_news@example.org.eml",
    ]
