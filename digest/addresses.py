"""One address, one key: the form every record of a subscriber is kept and compared under.

The ledger, the suppression list, the feedback events, the tokens (links, VERP, mailto), the
endpoint, the mailbox and the exports all go through `address_key`, so `Chloé@Bücher.example`,
`chloe@bücher.example` and `chloe@xn--bcher-kva.example` can never be three people. The key is
the address as it is sent: the domain in its ASCII form (IDNA, what every relay takes and what a
bounce names), the local part in Unicode NFC (email-validator's), all lower case.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from email_validator import EmailNotValidError, validate_email

__all__ = [
    "EmailNotValidError",
    "address_key",
    "copy_key",
    "key_or_none",
    "reader",
    "reader_address",
    "sendable",
    "token",
]

MAX_ADDRESS = 320  # RFC 3696's longest address: anything longer is refused before it is parsed


def sendable(address: str) -> str:
    """The address checked (syntax only: no DNS) and as it is sent: its domain in ASCII (IDNA),
    the local part as written. An invalid one raises EmailNotValidError."""
    if len(address) > MAX_ADDRESS * 4:  # email-validator says "too long" itself, after reading it all
        raise EmailNotValidError("The email address is too long.")
    valid = validate_email(address.strip(), check_deliverability=False)
    return f"{valid.local_part}@{valid.ascii_domain}"


def address_key(address: str) -> str:
    """The key an address is recorded and compared under; an invalid one raises EmailNotValidError."""
    return sendable(address).lower()


def key_or_none(address: str) -> str | None:
    """The key, or None for text that is no valid address (what a stranger may write anywhere)."""
    try:
        return address_key(address)
    except (EmailNotValidError, ValueError):
        return None


def copy_key(number: int, key: str, secret: str | None) -> str:
    """What tells one copy of an issue from another in its Message-ID, which bounces and complaints
    quote back. Keyed with the unsubscribe secret when there is one, so nobody who knows an
    address can write the Message-ID of its copy (and forge a bounce that the ledger would take)."""
    data = f"{number}\0{key.strip().lower()}".encode()
    made = hmac.new(secret.encode(), data, hashlib.sha256) if secret else hashlib.sha256(data)
    return made.hexdigest()[:20]


def token(secret: str, key: str) -> str:
    """The unsubscribe token of an address key: an HMAC, so nobody can forge another's link.
    The key of a sent copy is its address lower-cased: the token of either is the same."""
    return hmac.new(secret.encode(), key.strip().lower().encode(), hashlib.sha256).hexdigest()[:32]


def reader(address: str) -> str:
    """A link's `{reader}`: the address as unpadded base64url, so that it is not written out in
    the link. Spam filters score a link carrying the recipient's address (SpamAssassin's
    GB_CUSTOM_HTM_URI, the mark of a phishing kit's prefilled form), and a plain address in a
    URL ends up in every web log and analytics tool the click passes."""
    return base64.urlsafe_b64encode(address.encode()).decode().rstrip("=")


def reader_address(value: str) -> str:
    """The address a `{reader}` value stands for; "" for a value that is none."""
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (binascii.Error, ValueError):
        return ""
