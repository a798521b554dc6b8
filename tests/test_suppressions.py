"""The suppression list: by hand, from other systems' exports, in the ledger, and back out."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from digest.state import open_state

from .conftest import Cli
from .smtp import SmtpServer
from .test_send import environment, newsletter


def test_a_suppressed_address_is_never_mailed_and_the_ledger_and_history_say_so(
    cli: Cli, smtp: SmtpServer
) -> None:
    config = str(newsletter(cli.cwd / "news", smtp))
    cli("build", "--config", config)
    added = cli(
        "subscribers", "suppress", "Levan@Example.net", "--reason", "unsubscribed", "--config", config
    )
    assert added.exit_code == 0 and "1 suppressed, 0 already were" in added.stdout
    again = cli("subscribers", "suppress", "levan@example.net", "--config", config)
    assert "0 suppressed, 1 already were" in again.stdout  # the first provenance stays
    result = cli("send", "--config", config, env=environment())
    assert result.exit_code == 0, result.output
    assert "levan@example.net" not in smtp.recorder.copies and len(smtp.recorder.copies) == 3
    assert "3 sent, 0 already sent, 1 suppressed, " in result.stdout
    with open_state(cli.cwd / "news" / "state") as state:
        status = state.ledger(1)._db.execute("SELECT status FROM sends WHERE email = 'levan@example.net'")
        assert status.fetchone() == ("suppressed",)
    history = cli("history", "--config", config)
    assert "sent, 1 suppressed" in history.stdout
    listed = json.loads(cli("subscribers", "suppressed", "--format", "json", "--config", config).stdout)
    assert [(r["email"], r["reason"], r["source"]) for r in listed] == [
        ("levan@example.net", "unsubscribed", "command")
    ]
    # Taken off the list, the address is mailed by the next run, once.
    assert cli("subscribers", "unsuppress", "levan@example.net", "--config", config).exit_code == 0
    rerun = cli("send", "--config", config, env=environment())
    assert rerun.exit_code == 0 and smtp.recorder.copies["levan@example.net"] == 1


EXPORTS = {
    "plain.txt": (
        "# bounced last month\nana.ionescu@example.org\n\nLEVAN@example.net\n",
        {"ana.ionescu@example.org": "imported", "levan@example.net": "imported"},
    ),
    "ses.json": (
        json.dumps(
            {
                "SuppressedDestinationSummaries": [
                    {
                        "EmailAddress": "ana.ionescu@example.org",
                        "Reason": "BOUNCE",
                        "LastUpdateTime": "2025-11-01T10:00:00Z",
                    },
                    {
                        "EmailAddress": "levan@example.net",
                        "Reason": "COMPLAINT",
                        "LastUpdateTime": "2025-11-02T10:00:00Z",
                    },
                ]
            }
        ),
        {"ana.ionescu@example.org": "hard_bounce", "levan@example.net": "complaint"},
    ),
    "ses.csv": (
        "EmailAddress,Reason,LastUpdateTime\nana.ionescu@example.org,BOUNCE,2025-11-01\n",
        {"ana.ionescu@example.org": "hard_bounce"},
    ),
    "mailgun-bounces.csv": (
        "address,code,error,created_at\n"
        'ana.ionescu@example.org,550,"No such user",Fri 01 Nov 2025 10:00:00 UTC\n',
        {"ana.ionescu@example.org": "hard_bounce"},
    ),
    "mailgun-unsubscribes.csv": (
        "address,tags,created_at\nlevan@example.net,*,Fri 01 Nov 2025 10:00:00 UTC\n",
        {"levan@example.net": "unsubscribed"},
    ),
    "mailgun-complaints.csv": (
        "address,created_at\nlevan@example.net,Fri 01 Nov 2025 10:00:00 UTC\n",
        {"levan@example.net": "complaint"},
    ),
    "postmark.json": (
        json.dumps(
            {
                "Suppressions": [
                    {
                        "EmailAddress": "ana.ionescu@example.org",
                        "SuppressionReason": "HardBounce",
                        "Origin": "Recipient",
                        "CreatedAt": "2025-11-01T10:00:00-05:00",
                    },
                    {
                        "EmailAddress": "levan@example.net",
                        "SuppressionReason": "SpamComplaint",
                        "Origin": "Recipient",
                        "CreatedAt": "2025-11-01T10:00:00-05:00",
                    },
                    {
                        "EmailAddress": "m.sargsyan@example.com",
                        "SuppressionReason": "ManualSuppression",
                        "Origin": "Customer",
                        "CreatedAt": "2025-11-01T10:00:00-05:00",
                    },
                ]
            }
        ),
        {
            "ana.ionescu@example.org": "hard_bounce",
            "levan@example.net": "complaint",
            "m.sargsyan@example.com": "manual",
        },
    ),
}


@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_suppression_exports_are_recognised_from_their_columns(cli: Cli, smtp: SmtpServer, name: str) -> None:
    content, expected = EXPORTS[name]
    config = str(newsletter(cli.cwd / "news", smtp))
    (cli.cwd / "export").write_text(content)  # no telling extension: the columns say what it is
    result = cli("subscribers", "import", str(cli.cwd / "export"), "--config", config)
    assert result.exit_code == 0, result.output
    assert f"{len(expected)} read" in result.stdout
    listed = json.loads(cli("subscribers", "suppressed", "--format", "json", "--config", config).stdout)
    assert {r["email"]: r["reason"] for r in listed} == expected
    assert {r["source"] for r in listed} == {"file"}
    again = cli("subscribers", "import", str(cli.cwd / "export"), "--config", config)
    assert "0 newly suppressed" in again.stdout  # importing twice changes nothing


def test_a_file_with_a_bad_address_is_refused_in_one_line_naming_it(cli: Cli, smtp: SmtpServer) -> None:
    config = str(newsletter(cli.cwd / "news", smtp))
    (cli.cwd / "list.txt").write_text("ana.ionescu@example.org\nnot an address\n")
    result = cli("subscribers", "import", str(cli.cwd / "list.txt"), "--config", config)
    assert result.exit_code == 2
    assert "list.txt: line 2: 'not an address' is not an email address" in result.stderr
    assert json.loads(cli("subscribers", "suppressed", "--format", "json", "--config", config).stdout) == []


def test_the_export_brings_each_status_up_to_date_and_keeps_every_other_cell(
    cli: Cli, smtp: SmtpServer
) -> None:
    config = str(newsletter(cli.cwd / "news", smtp))
    cli("subscribers", "suppress", "ana.ionescu@example.org", "--reason", "hard_bounce", "--config", config)
    cli("subscribers", "suppress", "levan@example.net", "--reason", "complaint", "--config", config)
    cli(
        "subscribers",
        "suppress",
        "editor@commonground.example",
        "--reason",
        "unsubscribed",
        "--config",
        config,
    )
    result = cli("subscribers", "export", "--config", config)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    before = list(csv.DictReader(io.StringIO((Path(config).parent / "subscribers.csv").read_text())))
    assert [r["email"] for r in rows] == [r["email"] for r in before]
    status = {r["email"]: r["status"] for r in rows}
    assert status["ana.ionescu@example.org"] == "bounced"
    assert status["levan@example.net"] == "complained"
    assert status["editor@commonground.example"] == "unsubscribed"
    assert status["m.sargsyan@example.com"] == ""  # untouched, as every other cell
    assert [r["city"] for r in rows] == [r["city"] for r in before]


def test_hostile_rows_in_the_list_are_skipped_alone_and_exports_run_no_formula(
    cli: Cli, smtp: SmtpServer
) -> None:
    config = str(newsletter(cli.cwd / "news", smtp))
    listed = Path(config).parent / "subscribers.csv"
    rows = [
        "email,name,status",
        "ana.ionescu@example.org,Ana,",
        f"huge@example.org,{'N' * 1_000_000},",  # line 3
        "nul@example.org,Nu\0l \x1b[31mRed,",
        'formula@example.org,=HYPERLINK("https://evil.example"),',
        f"long@example.org,{'L' * 5000},",  # line 6
    ]
    listed.write_text("\n".join(rows) + "\n")
    assert cli("build", "--config", config).exit_code == 0
    result = cli("send", "--config", config, env=environment())
    assert result.exit_code == 0, result.output
    assert f"{listed.name}:3:" in result.stderr and f"{listed.name}:6:" in result.stderr, result.stderr
    assert sorted(smtp.recorder.copies) == [
        "ana.ionescu@example.org",
        "formula@example.org",
        "nul@example.org",
    ]
    to = next(data for rcpts, data in smtp.recorder.messages if rcpts == ["nul@example.org"])
    assert b'To: "Nu l [31mRed" <nul@example.org>' in to
    assert b"\0" not in to and b"\x1b" not in to
    cli(
        "subscribers",
        "suppress",
        "formula@example.org",
        "--reason",
        "manual",
        "--note",
        "-1+1",
        "--config",
        config,
    )
    exported = cli("subscribers", "export", "--config", config).stdout
    assert "formula@example.org,\"'=HYPERLINK" in exported
    suppressions = cli("subscribers", "suppressed", "--format", "csv", "--config", config).stdout
    assert ",'-1+1" in suppressions
