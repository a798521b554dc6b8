"""message.eml: what a mail client receives, parsed back with the standard library."""

from __future__ import annotations

import email
from email import policy
from email.message import EmailMessage
from pathlib import Path

from msgspec.structs import replace

from digest.build import compose_issue, read_inputs
from digest.config import Config
from digest.models import issue_moment

from .conftest import compose


def message_of(config: Config) -> EmailMessage:
    parsed = email.message_from_bytes(compose(config).files["message.eml"], policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_text_first_html_last_both_utf8(sample_config: Config) -> None:
    message = message_of(sample_config)
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    text, html = (p.get_content() for p in parts)
    assert "EU - Azerbaijan Security Dialogue held in Brussels [1]" in text
    assert html.startswith("<!doctype html>")
    assert "Türkiye" in html  # UTF-8 survived the transfer encoding


def test_headers_a_mail_client_and_a_list_server_need(sample_config: Config) -> None:
    message = message_of(sample_config)
    assert message["From"] == "CommonGround Weekly <weekly@commonground.example>"
    # A long header is folded onto the next line; a reader unfolds it and trims the space.
    assert (
        message["Subject"].strip()
        == "CommonGround Weekly #1: EU - Azerbaijan Security Dialogue held in Brussels"
    )
    assert message["Date"] == "Mon, 24 Nov 2025 00:00:00 +0000"
    assert message["Message-ID"].startswith("<digest.1.2025-11-24.")
    assert message["Message-ID"].endswith("@commonground.example>")
    assert message["List-Unsubscribe"].strip() == (
        "<https://www.commonground.example/newsletter/unsubscribe>, "
        "<mailto:unsubscribe@commonground.example>"  # the token's subject is for each subscriber
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_the_preheader_is_in_the_html_part(sample_config: Config) -> None:
    html = message_of(sample_config).get_body(("html",))
    assert html is not None
    assert "The 6th round of the Security Dialogue between the European Union" in html.get_content()


def test_without_an_https_unsubscribe_link_there_is_no_one_click_header(sample_config: Config) -> None:
    newsletter = replace(sample_config.newsletter, unsubscribe_url="*|UNSUB|*")
    message = message_of(replace(sample_config, newsletter=newsletter))
    assert message["List-Unsubscribe"].strip() == "<mailto:unsubscribe@commonground.example>"
    assert message["List-Unsubscribe-Post"] is None


def test_the_message_is_the_same_bytes_for_the_same_inputs(sample_config: Config, tmp_path: Path) -> None:
    assert sample_config.issue.date is not None
    now = issue_moment(sample_config.issue.date)
    first = compose_issue(read_inputs(sample_config), sample_config, now).files["message.eml"]
    second = compose_issue(read_inputs(sample_config), sample_config, now).files["message.eml"]
    assert first == second
    assert b"\r\n" in first  # SMTP line endings
