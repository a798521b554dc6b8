"""`digest check --deliverability`, tier 1: the message, offline. The copy a reader gets, signed as
`digest send` signs it; each finding one line, the tier's exit code 9."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from msgspec.structs import replace

from digest.config import Config
from digest.deliverability.commands import STAND_IN, signed_copy
from digest.deliverability.message import check_contrast, check_message, installed_spamassassin, spam_score
from digest.issue_folder import PersonalIssue
from digest.send.dkim import Key, load_keys

from .conftest import SAMPLE, Cli
from .test_copies import NOW
from .test_copies import issue as issue  # the module's fixture: one build for every test here
from .test_dkim import rsa_pem

SECRET = {"DIGEST_UNSUBSCRIBE_SECRET": "s3cret"}
needs_spamassassin = pytest.mark.skipif(
    installed_spamassassin() is None, reason="spamassassin is not installed (make test installs Debian's)"
)


def sample_newsletter(folder: Path, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("news.rss", "analytics.csv", "picks.toml", "subscribers.csv", "digest.toml"):
        shutil.copy(SAMPLE / name, folder / name)
    (folder / "dkim.pem").write_bytes(rsa_pem())
    config = folder / "digest.toml"
    config.write_text(config.read_text() + '[output]\ndir = "issues"\n[state]\ndir = "state"\n' + extra)
    return config


SIGNED = '[dkim]\nselector = "d2025"\nkey_file = "dkim.pem"\n'


@pytest.mark.slow  # a build, and SpamAssassin when installed
def test_the_sample_signed_passes_the_message_tier_and_unsigned_is_exit_9(cli: Cli) -> None:
    config = sample_newsletter(cli.cwd / "news", SIGNED)
    assert cli("build", "--config", str(config)).exit_code == 0
    result = cli("check", "--deliverability", "--offline", "--config", str(config), env=SECRET)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("message: 0 errors, 0 warnings")
    unsigned = sample_newsletter(cli.cwd / "plain")
    assert cli("build", "--config", str(unsigned)).exit_code == 0
    result = cli("check", "--deliverability", "--offline", "--config", str(unsigned), env=SECRET)
    assert result.exit_code == 9
    assert result.stderr.startswith("digest: error: dkim: copies go out unsigned (no dkim.selector)")


def findings(copy: bytes, config: Config, keys: list[Key]) -> list[str]:
    return [str(f) for f in check_message(copy, keys, "commonground.example").findings]


def test_a_signature_that_does_not_verify_or_is_not_aligned_is_an_error(
    issue: tuple[PersonalIssue, Config], tmp_path: Path
) -> None:
    built, config = issue
    (tmp_path / "dkim.pem").write_bytes(rsa_pem())
    own = replace(config, dkim=replace(config.dkim, selector="d2025", key_file=str(tmp_path / "dkim.pem")))
    keys = load_keys(own, {})
    copy = signed_copy(built, own, keys, STAND_IN, now=NOW, secret="s")
    assert [f for f in findings(copy, own, keys) if "dkim" in f] == []
    changed = copy.replace(b"Sample Reader,", b"Someone Else,")
    [broken] = [f for f in findings(changed, own, keys) if "dkim" in f]
    assert broken.startswith(
        "error: dkim: the signature by d2025._domainkey.commonground.example does not verify"
    )
    other = replace(own, dkim=replace(own.dkim, domain="elsewhere.example"))
    keys = load_keys(other, {})
    copy = signed_copy(built, other, keys, STAND_IN, now=NOW, secret="s")
    assert findings(copy, other, keys)[0] == (
        "error: dkim: d=elsewhere.example is not aligned with the From domain commonground.example:"
        " DMARC does not count the signature (set dkim.domain)"
    )


@pytest.mark.slow  # a build, and SpamAssassin when installed
def test_without_a_one_click_link_the_unsubscribe_headers_are_an_error(cli: Cli) -> None:
    config = sample_newsletter(cli.cwd / "news", SIGNED)
    text = config.read_text()
    config.write_text(text.replace("unsubscribe_url = ", "# unsubscribe_url = "))
    assert cli("build", "--config", str(config)).exit_code == 0
    result = cli("check", "--deliverability", "--offline", "--config", str(config), env=SECRET)
    assert result.exit_code == 9
    assert "digest: error: list-unsubscribe: no https link in List-Unsubscribe" in result.stderr


def test_hidden_low_contrast_text_is_found_and_the_sample_has_none(
    issue: tuple[PersonalIssue, Config],
) -> None:
    built, _ = issue
    assert list(check_contrast(built.html)) == []
    # What MJML's <mj-preview> writes: white text in a white cell, hidden by display:none too.
    hidden = '<table bgcolor="#FFF"><tr><td><div style="display:none;color:#fff">Buy now</div></td></tr>'
    [found] = check_contrast(f"<html><body>{hidden}</table><p>Hello</p></body></html>")
    assert str(found) == "error: content: hidden low-contrast text (#ffffff on #ffffff) in <div>: 'Buy now'"
    near = '<body style="background-color:#eef0f3"><p style="color:#eaedf0">faint</p><p>plain</p></body>'
    assert [f.message.split(" in ")[0] for f in check_contrast(near)] == [
        "hidden low-contrast text (#eaedf0 on #eef0f3)"
    ]


@pytest.mark.slow
@needs_spamassassin
def test_the_sample_personal_copy_scores_zero_with_local_spamassassin_rules(
    issue: tuple[PersonalIssue, Config],
) -> None:
    built, config = issue
    copy = signed_copy(built, config, [], STAND_IN, now=NOW, secret="s")
    program = installed_spamassassin()
    assert program is not None
    score, required, rules = spam_score(copy, program)
    assert (score, required) == (0.0, 5.0), rules
    # The same copy with the old white-on-white preheader: SpamAssassin finds it, and says so.
    html = built.html.replace(
        '<div class="preheader" style="display:none;', '<div style="display:none;color:#ffffff;'
    )
    assert html != built.html
    old = signed_copy(replace(built, html=html), config, [], STAND_IN, now=NOW, secret="s")
    score, _, rules = spam_score(old, program)
    assert score > 0 and "HTML_FONT_LOW_CONTRAST" in [name for _, name, _ in rules]
    [finding] = [
        f
        for f in check_message(old, [], "commonground.example", spamassassin=program).findings
        if f.topic == "spamassassin"
    ]
    assert str(finding).startswith(
        "warning: spamassassin: scores 0.7 (spam from 5.0): HTML_FONT_LOW_CONTRAST +0.7"
    )
