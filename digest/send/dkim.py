"""DKIM signatures on each copy (RFC 6376): relaxed/relaxed, rsa-sha256, and with a second key an
ed25519-sha256 signature beside it (RFC 8463).

dkimpy does what a signature is made of: the canonical forms, which header instances are
hashed, the header's folding. The private-key operation is OpenSSL's (`cryptography`): dkimpy's
own RSA is pure Python, 7 ms a signature with a 2048-bit key, four times what sending a copy
costs; OpenSSL's is a quarter of a millisecond. The copies' splice (`copies.Copies`) hands over
the headers and the body hash it made from pieces canonicalized once; `sign` does the same for
a whole message (the test copy, a copy composed in full, `digest check --deliverability`).

Signed, each listed twice (oversigned, so that no second instance can be added on the way):
the headers a reader sees and the ones Gmail and Yahoo require to be signed, List-Unsubscribe
and List-Unsubscribe-Post among them. Never `l=`: a body length lets anyone append to the body.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from dkim import fold, hash_headers, rfc822_parse
from dkim.canonicalization import (
    CanonicalizationPolicy,
    Relaxed,
    compress_whitespace,
    strip_trailing_whitespace,
)

from digest.config import Config, DkimConfig
from digest.errors import ConfigError
from digest.files import read_input_bytes
from digest.render.message import sender_domain

SIGNED = (
    b"from",
    b"reply-to",
    b"subject",
    b"date",
    b"message-id",
    b"to",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"mime-version",
    b"content-type",
)
OVERSIGNED = tuple(name for name in SIGNED for _ in (1, 2))
MAX_KEY_BYTES = 64 * 1024  # a PEM key is a few kilobytes
MIN_BITS = 1024  # receivers ignore a shorter RSA key (RFC 8301); `check --deliverability` asks 2048
GOOD_BITS = 2048
RELAXED = CanonicalizationPolicy.from_c_value(b"relaxed/relaxed")
Headers = Sequence[tuple[bytes, bytes]]  # (name, value as written after the colon, with its CRLF)

PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


class Key:
    """One signing key and where its public half is published."""

    def __init__(self, private: PrivateKey, selector: str, domain: str) -> None:
        self.private, self.selector, self.domain = private, selector, domain
        self.algorithm = b"rsa-sha256" if isinstance(private, rsa.RSAPrivateKey) else b"ed25519-sha256"

    @property
    def bits(self) -> int:
        return self.private.key_size if isinstance(self.private, rsa.RSAPrivateKey) else 256

    @property
    def name(self) -> str:
        """The DNS name the public key is published at."""
        return f"{self.selector}._domainkey.{self.domain}"

    def record(self) -> str:
        """The TXT record that publishes the public key (RFC 6376 3.6.1, RFC 8463 4)."""
        public = self.private.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            der = public.public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode()}"
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return f"v=DKIM1; k=ed25519; p={base64.b64encode(raw).decode()}"

    def sign_digest(self, digest: bytes) -> bytes:
        if isinstance(self.private, rsa.RSAPrivateKey):
            return self.private.sign(digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
        return self.private.sign(digest)  # RFC 8463: Ed25519 over the SHA-256 of the headers


def new_key() -> bytes:
    """A new RSA key of 2048 bits in PEM (PKCS#8): what receivers ask for, and what fits one TXT
    record (a 4096-bit key's record is past what many DNS hosting panels take)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=GOOD_BITS)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def parse_key(data: bytes, where: str, *, ed25519_key: bool = False) -> PrivateKey:
    """A private key in PEM (PKCS#1 or PKCS#8), unencrypted; `where` names it in errors."""
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        first = str(error).splitlines()[0] if str(error) else "unreadable"
        raise ConfigError(f"{where}: not an unencrypted private key in PEM ({first})") from None
    wanted = ed25519.Ed25519PrivateKey if ed25519_key else rsa.RSAPrivateKey
    if not isinstance(private, wanted):
        kind = "Ed25519" if ed25519_key else "RSA"
        raise ConfigError(f"{where}: not an {kind} key")
    if isinstance(private, rsa.RSAPrivateKey) and private.key_size < MIN_BITS:
        raise ConfigError(
            f"{where}: an RSA key of {private.key_size} bits; receivers ignore fewer than {MIN_BITS}"
        )
    return private


def _key_data(config: Config, file: str | None, variable: str, env: Mapping[str, str]) -> bytes | None:
    if file:
        return read_input_bytes(Path(config.resolve(file)), file, "DKIM key", MAX_KEY_BYTES)
    value = env.get(variable)
    return value.encode() if value else None


def signing_domain(config: Config) -> str:
    """d=: the configured domain, else the From address's (aligned with it, as DMARC wants)."""
    return config.dkim.domain or sender_domain(config.newsletter.sender)


def load_keys(config: Config, env: Mapping[str, str]) -> list[Key]:
    """The configured keys (none when `dkim.selector` is unset); a selector without its key is
    a mistake, never a copy sent unsigned."""
    dkim: DkimConfig = config.dkim
    domain = signing_domain(config)
    keys = []
    for selector, file, variable, key, ed in (
        (dkim.selector, dkim.key_file, dkim.key_env, "key_file", False),
        (dkim.ed25519_selector, dkim.ed25519_key_file, dkim.ed25519_key_env, "ed25519_key_file", True),
    ):
        if not selector:
            continue
        data = _key_data(config, file, variable, env)
        if data is None:
            raise ConfigError(f"dkim: a selector is set but no key: set dkim.{key} or ${variable}")
        where = file if file else f"${variable}"
        keys.append(Key(parse_key(data, where, ed25519_key=ed), selector, domain))
    if dkim.ed25519_selector and not dkim.selector:
        raise ConfigError(
            "dkim.ed25519_selector: an Ed25519 signature goes beside an RSA one: set dkim.selector"
        )
    return keys


def header_fields(message: bytes) -> list[tuple[bytes, bytes]]:
    """A message's header fields as dkimpy reads them: (name, what follows the colon)."""
    parsed, _ = rfc822_parse(message)
    return [(name, value) for name, value in parsed]


def body_hash(canonical_body: bytes) -> bytes:
    return base64.b64encode(hashlib.sha256(canonical_body).digest())


def canonical_lines(lines: bytes, *, last: bool = False) -> bytes:
    """The relaxed canonical form of whole lines of a body; `last`: the body's end (where empty
    lines are dropped). The pieces' forms joined are the whole body's form."""
    form: bytes = (
        Relaxed.canonicalize_body(lines) if last else compress_whitespace(strip_trailing_whitespace(lines))
    )
    return form


class Signer:
    """DKIM-Signature headers for messages dated `now` (t=), one per key."""

    def __init__(self, keys: Sequence[Key], now: dt.datetime) -> None:
        self.keys = list(keys)
        self.timestamp = str(int(now.timestamp())).encode()

    def headers(self, headers: Headers, bh: bytes) -> bytes:
        """The signature headers for a message with these headers (canonicalized already) and
        this body hash; each goes above the message."""
        out = []
        for key in self.keys:
            fields = b"; ".join(
                [
                    b"v=1",
                    b"a=" + key.algorithm,
                    b"c=relaxed/relaxed",
                    b"d=" + key.domain.encode("ascii"),
                    b"s=" + key.selector.encode("ascii"),
                    b"t=" + self.timestamp,
                    b"h=" + b" : ".join(OVERSIGNED),
                    b"bh=" + bh,
                    b"b=",
                ]
            )
            unsigned = fold(fields, namelen=len(b"DKIM-Signature:"))
            hasher = hashlib.sha256()
            hash_headers(
                hasher, RELAXED, list(headers), OVERSIGNED, (b"DKIM-Signature", b" " + unsigned), None
            )
            signature = base64.b64encode(key.sign_digest(hasher.digest()))
            lines = [signature[i : i + 72] for i in range(0, len(signature), 72)]
            out.append(b"DKIM-Signature: " + unsigned + b"\r\n\t" + b"\r\n\t".join(lines) + b"\r\n")
        return b"".join(out)

    def sign(self, message: bytes) -> bytes:
        """`message` (CRLF line endings, not dot-stuffed) with its signatures above it."""
        if not self.keys:
            return message
        parsed, body = rfc822_parse(message)
        headers = RELAXED.canonicalize_headers([(name, value) for name, value in parsed])
        return self.headers(headers, body_hash(Relaxed.canonicalize_body(body))) + message
