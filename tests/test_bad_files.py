"""Broken input files an editor may hand digest: each is exit 2 and one line naming the file,
never exit 70 (a bug by our own definition) and never a traceback. The files are made here."""

from __future__ import annotations

import email
import io
import zipfile
from collections.abc import Callable
from email import policy
from pathlib import Path

import pytest

from .conftest import Cli

HEADER = "url,pageviews\n"


def csv_field_over_the_limit() -> bytes:
    return (HEADER + '"/news/' + "a" * 200_000 + '",1\n').encode()


def utf16_lone_surrogate() -> bytes:
    return b"\xff\xfe" + HEADER.encode("utf-16-le") + b"/\x00x\x00\x00\xd8,\x001\x00\n\x00"


def json_nested_deep() -> bytes:
    return b"[" * 100_000 + b"]" * 100_000


def json_integer_of_5000_digits() -> bytes:
    return b'[{"url": "/news/x", "pageviews": 1' + b"0" * 5000 + b"}]"


def json_float_overflow() -> bytes:
    return b'[{"url": "/news/x", "pageviews": 1.0e400}]'


def csv_integer_of_5000_digits() -> bytes:
    return (HEADER + "/news/x,1" + "0" * 5000 + "\n").encode()


def ga4_unreadable_date() -> bytes:
    return (
        b"# ----------------------------------------\n# Start date: 20259999\n# End date: 20251123\n"
        b"# ----------------------------------------\nPage path and screen class,Views\n/news/x,12\n"
    )


def encrypted_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("pages.csv", "name,visitors,pageviews\n/news/x,1,2\n")
    data = bytearray(buffer.getvalue())
    # Set the "encrypted" flag in the local and central headers, as a password-protected export has it.
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.index(signature) + offset
        data[at] |= 1
    return bytes(data)


ANALYTICS: dict[str, Callable[[], bytes]] = {
    "csv-field-over-limit": csv_field_over_the_limit,
    "utf16-lone-surrogate": utf16_lone_surrogate,
    "json-nested-deep": json_nested_deep,
    "json-5000-digits": json_integer_of_5000_digits,
    "json-1e400": json_float_overflow,
    "csv-5000-digits": csv_integer_of_5000_digits,
    "ga4-bad-date": ga4_unreadable_date,
    "encrypted-zip": encrypted_zip,
}


def one_error_line(result: object, name: str) -> str:
    exit_code = getattr(result, "exit_code")  # noqa: B009
    stderr: str = getattr(result, "stderr")  # noqa: B009
    assert exit_code == 2, (exit_code, stderr)
    assert "Traceback" not in stderr and "internal error" not in stderr
    [line] = [line for line in stderr.splitlines() if line.startswith("digest: error:")]
    assert name in line
    return line


@pytest.mark.parametrize("case", sorted(ANALYTICS))
def test_a_broken_analytics_export_is_exit_2_naming_it(cli: Cli, newsletter: Path, case: str) -> None:
    name = "analytics.zip" if case == "encrypted-zip" else "analytics.csv"
    (newsletter / name).write_bytes(ANALYTICS[case]())
    config = newsletter / "digest.toml"
    config.write_text(config.read_text().replace('analytics = "analytics.csv"', f'analytics = "{name}"'))
    one_error_line(cli("build", "--config", str(config), "--out", str(newsletter / "out")), name)


@pytest.mark.parametrize("where", ["picks.toml", "digest.toml"])
def test_toml_nested_deep_is_exit_2_naming_it(cli: Cli, newsletter: Path, where: str) -> None:
    path = newsletter / where
    path.write_text(path.read_text() + "\n[deep]\nx = " + "[" * 100_000 + "]" * 100_000 + "\n")
    one_error_line(
        cli("build", "--config", str(newsletter / "digest.toml"), "--out", str(newsletter / "o")), where
    )


@pytest.mark.parametrize("command", ["send", "rebuild"])
def test_an_issue_number_past_any_integer_is_exit_2(cli: Cli, newsletter: Path, command: str) -> None:
    config = str(newsletter / "digest.toml")
    assert cli("build", "--config", config, "--out", str(newsletter / "o")).exit_code == 0
    flags = ["--dry-run"] if command == "send" else []
    result = cli(command, "1" + "0" * 30, "--config", config, *flags)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr


def test_a_newsletter_name_of_10_mb_is_exit_2_naming_the_key(cli: Cli, newsletter: Path) -> None:
    config = newsletter / "digest.toml"
    result = cli("build", "--config", str(config), env={"DIGEST_NEWSLETTER__NAME": "N" * 10_000_000})
    assert "newsletter.name" in one_error_line(result, "digest.toml")
    config.write_text(config.read_text() + "# " + "x" * 2_000_000 + "\n")
    assert "not a config" in one_error_line(cli("build", "--config", str(config)), "digest.toml")


def test_a_headline_of_a_megabyte_is_cut_where_it_meets_the_subject(cli: Cli, newsletter: Path) -> None:
    feed = newsletter / "news.rss"
    text = feed.read_text()
    lead = (newsletter / "picks.toml").read_text().split('lead = "')[1].split('"')[0]
    first = text.index("<title>", text.rindex("<item>", 0, text.index(f"<link>{lead}</link>"))) + len(
        "<title>"
    )
    feed.write_text(text[:first] + "W" * 1_000_000 + text[text.index("</title>", first) :])
    result = cli("build", "--config", str(newsletter / "digest.toml"), "--out", str(newsletter / "o"))
    assert result.exit_code == 0, result.output
    raw = (Path(result.stdout.splitlines()[-1]) / "message.eml").read_bytes()
    subject = str(email.message_from_bytes(raw, policy=policy.default)["Subject"])
    assert "W" * 250 in subject and "W" * 301 not in subject and "…" in subject
    assert len(raw) < 200_000


def test_a_json_feed_nested_deep_is_refused_naming_it(cli: Cli, tmp_path: Path) -> None:
    feed = tmp_path / "deep.json"
    items = "[" * 100_000 + "]" * 100_000
    feed.write_text(f'{{"version": "https://jsonfeed.org/version/1.1", "title": "x", "items": {items}}}')
    result = cli("build", "--feed", str(feed), "--date", "2025-11-24", "--out", str(tmp_path / "o"))
    assert result.exit_code == 4, result.output
    assert "deep.json: cannot read the feed: nested too deep" in result.stderr
    assert "internal error" not in result.stderr


def test_an_opml_list_of_more_feeds_than_a_build_can_fetch_is_refused(cli: Cli, tmp_path: Path) -> None:
    outlines = "".join(f'<outline type="rss" xmlUrl="https://f{n}.example/rss"/>' for n in range(1001))
    (tmp_path / "all.opml").write_text(
        f'<?xml version="1.0"?><opml version="2.0"><body>{outlines}</body></opml>'
    )
    result = cli(
        "build", "--feed", str(tmp_path / "all.opml"), "--date", "2025-11-24", "--out", str(tmp_path / "o")
    )
    assert result.exit_code == 4, result.output
    assert "all.opml: an OPML list of more than 1,000 feeds, refused" in result.stderr
