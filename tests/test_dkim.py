"""DKIM in the sender: every copy signed (the splice and the copy composed in full alike), each
signature verified by dkimpy as a receiver would, against the public key the test publishes."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import dkim as dkimpy
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from digest.config import Config, load_config
from digest.errors import ConfigError
from digest.issue_folder import PersonalIssue
from digest.models import Recipient
from digest.send.copies import Copies, boundary_for
from digest.send.dkim import OVERSIGNED, Key, Signer, load_keys
from digest.send.personalize import personal_message
from digest.send.transports.smtp import to_wire

from .conftest import Cli
from .smtp import SmtpServer
from .test_copies import NOW, RECIPIENTS
from .test_copies import issue as issue  # the module's fixture: one build for every test here
from .test_send import environment, newsletter


def rsa_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def short_rsa_pem() -> bytes:
    """A 768-bit key, as old setups have: `cryptography` makes none under 1024 bits, OpenSSL does."""
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    return subprocess.run(["openssl", "genrsa", "768"], capture_output=True, check=True).stdout


def ed25519_pem() -> bytes:
    return ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.fixture(scope="module")
def keys() -> list[Key]:
    rsa_key = serialization.load_pem_private_key(rsa_pem(), None)
    ed_key = serialization.load_pem_private_key(ed25519_pem(), None)
    assert isinstance(rsa_key, rsa.RSAPrivateKey) and isinstance(ed_key, ed25519.Ed25519PrivateKey)
    return [Key(rsa_key, "d2025", "commonground.example"), Key(ed_key, "ed2025", "commonground.example")]


def published(keys: list[Key]) -> Callable[..., bytes | None]:
    """dkimpy's DNS lookup, answered with the keys' records (as the zone would publish them)."""
    records = {f"{key.name}.".encode(): key.record().encode() for key in keys}
    return lambda name, timeout=5: records.get(name)


def verified(message: bytes, keys: list[Key]) -> list[bool]:
    """Each signature's verdict, as a receiver's dkimpy gives it."""
    checker = dkimpy.DKIM(message)
    count = sum(
        1 for line in message.split(b"\r\n\r\n")[0].split(b"\r\n") if line.startswith(b"DKIM-Signature:")
    )
    verdicts = []
    for n in range(count):
        try:
            verdicts.append(bool(checker.verify(n, dnsfunc=published(keys))))
        except dkimpy.DKIMException:  # what dkimpy raises of a body that does not match
            verdicts.append(False)
    return verdicts


def test_every_spliced_copy_is_signed_as_the_copy_composed_in_full_and_verifies(
    issue: tuple[PersonalIssue, Config], keys: list[Key]
) -> None:
    built, config = issue
    signer = Signer(keys, NOW)
    copies = Copies(built, config, now=NOW, secret="secret", signer=signer)
    for recipient in RECIPIENTS:
        full = signer.sign(
            personal_message(built, recipient, config, now=NOW, secret="secret", boundary=boundary_for(built))
        )
        assert copies.for_recipient(recipient) == full, recipient
        assert copies.wire(recipient) == to_wire(full), recipient
        assert verified(full, keys) == [True, True], recipient


@settings(max_examples=40, deadline=None)
@given(
    name=st.text(st.sampled_from(" \t.ab-é"), max_size=12),
    greeting=st.sampled_from(["Dear {name},", "Dear  {name} ,", "\t{name}  ", ".{name}"]),
)
def test_copies_with_white_space_and_dots_in_their_values_verify(
    issue: tuple[PersonalIssue, Config], keys: list[Key], name: str, greeting: str
) -> None:
    """Runs of spaces and tabs (which the relaxed form folds) and lines starting with a dot
    (which SMTP doubles) in the values a copy fills in: the canonical forms made of pieces hold."""
    built, config = issue
    config = replace(config, send=replace(config.send, greeting=greeting))
    copies = Copies(built, config, now=NOW, secret="secret", signer=Signer(keys[:1], NOW))
    wire = copies.wire(Recipient("reader@example.org", name))
    message = re.sub(rb"(?m)^\.\.", b".", wire[: -len(b".\r\n")])  # as the receiver stores it
    assert verified(message, keys) == [True]


def test_a_copy_changed_on_the_way_fails_and_no_body_length_lets_anyone_append(
    issue: tuple[PersonalIssue, Config], keys: list[Key]
) -> None:
    built, config = issue
    copy = Copies(built, config, now=NOW, secret="secret", signer=Signer(keys, NOW)).for_recipient(
        RECIPIENTS[0]
    )
    header = copy.split(b"\r\nFrom:")[0].decode()
    assert " l=" not in header and ";l=" not in header
    listed = re.search(r"h=([^;]+);", header)
    assert listed is not None
    names = [n.strip() for n in listed.group(1).replace("\r\n", "").split(":")]
    assert names == [n.decode() for n in OVERSIGNED]  # each twice: a second instance breaks it
    for name in ("from", "to", "subject", "list-unsubscribe", "list-unsubscribe-post"):
        assert names.count(name) == 2
    assert verified(copy.replace(b"Dear Ana", b"Dear Bob"), keys) == [False, False]
    added = copy.replace(b"\r\nSubject:", b"\r\nSubject: Win a prize\r\nSubject:", 1)
    assert verified(added, keys) == [False, False]


def config_with(tmp_path: Path, dkim: str) -> Config:
    (tmp_path / "digest.toml").write_text(f"[dkim]\n{dkim}")
    return load_config(tmp_path / "digest.toml")


def test_the_key_comes_from_its_file_or_the_variable_and_a_selector_without_one_is_an_error(
    tmp_path: Path,
) -> None:
    (tmp_path / "dkim.pem").write_bytes(rsa_pem())
    config = config_with(tmp_path, 'selector = "s1"\nkey_file = "dkim.pem"\n')
    [key] = load_keys(config, {})
    assert (key.selector, key.domain, key.bits) == ("s1", "example.org", 2048)  # the From address's domain
    config = config_with(tmp_path, 'selector = "s1"\ndomain = "mail.example.org"\n')
    [key] = load_keys(config, {"DIGEST_DKIM_KEY": rsa_pem().decode()})
    assert key.name == "s1._domainkey.mail.example.org"
    with pytest.raises(ConfigError, match=r"no key: set dkim.key_file or \$DIGEST_DKIM_KEY"):
        load_keys(config, {})
    assert load_keys(config_with(tmp_path, ""), {"DIGEST_DKIM_KEY": rsa_pem().decode()}) == []


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (lambda: b"not a key", "dkim.pem: not an unencrypted private key in PEM"),
        (ed25519_pem, "dkim.pem: not an RSA key"),
        (short_rsa_pem, "dkim.pem: an RSA key of 768 bits; receivers ignore fewer than 1024"),
    ],
)
def test_a_bad_key_is_one_line_naming_the_file(
    tmp_path: Path, data: Callable[[], bytes], problem: str
) -> None:
    (tmp_path / "dkim.pem").write_bytes(data())
    config = config_with(tmp_path, 'selector = "s1"\nkey_file = "dkim.pem"\n')
    with pytest.raises(ConfigError) as raised:
        load_keys(config, {})
    assert str(raised.value).startswith(problem) and "\n" not in str(raised.value)


def signed_newsletter(cli: Cli, smtp: SmtpServer) -> tuple[Path, dict[str, str], list[Key]]:
    (cli.cwd / "news").mkdir()
    (cli.cwd / "news" / "dkim.pem").write_bytes(rsa_pem())
    extra = '[dkim]\nselector = "d2025"\nkey_file = "dkim.pem"\ned25519_selector = "ed2025"\n'
    config = newsletter(cli.cwd / "news", smtp, extra=extra)
    env = environment() | {"DIGEST_DKIM_ED25519_KEY": ed25519_pem().decode()}
    assert cli("build", "--config", str(config)).exit_code == 0
    return config, env, load_keys(load_config(config), env)


def test_digest_send_signs_every_copy_and_the_test_copy_and_the_dry_run(cli: Cli, smtp: SmtpServer) -> None:
    config, env, keys = signed_newsletter(cli, smtp)
    assert [k.domain for k in keys] == ["commonground.example"] * 2
    sent = cli("send", "--config", str(config), env=env)
    assert sent.exit_code == 0, sent.output
    assert len(smtp.recorder.messages) == 4
    for _, data in smtp.recorder.messages:
        assert verified(data.replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n"), keys) == [True, True]
    smtp.recorder.messages.clear()
    test = cli("send", "--config", str(config), "--test", "proof@example.org", env=env)
    assert test.exit_code == 0, test.output
    [(_, data)] = smtp.recorder.messages
    assert verified(data.replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n"), keys) == [True, True]
    dry = cli("send", "--config", str(config), "--dry-run", env=env)
    assert dry.exit_code == 0, dry.output
    copies = sorted(Path(dry.stdout.splitlines()[-1]).glob("*.eml"))
    assert len(copies) == 4 and all(verified(p.read_bytes(), keys) == [True, True] for p in copies)


def test_a_send_with_a_selector_and_no_key_sends_nothing_and_says_so(cli: Cli, smtp: SmtpServer) -> None:
    config = newsletter(cli.cwd / "news", smtp, extra='[dkim]\nselector = "d2025"\n')
    cli("build", "--config", str(config))
    result = cli("send", "--config", str(config), env=environment())
    assert result.exit_code == 2
    assert "no key: set dkim.key_file or $DIGEST_DKIM_KEY" in result.stderr
    assert smtp.recorder.messages == []
