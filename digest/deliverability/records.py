"""The DNS records a newsletter publishes so that receivers trust its mail: the DKIM key, SPF
for the envelope's domain, DMARC for the From address's. `digest init --dkim` prints them as
zone-file lines; `digest check --deliverability` says which one is missing or wrong."""

from __future__ import annotations

from collections.abc import Sequence

from digest.config import Config
from digest.net import is_loopback
from digest.render.message import sender_domain
from digest.send.dkim import Key

TXT_CHUNK = 255  # one character-string of a TXT record holds at most 255 octets (RFC 1035 3.3)


def txt(name: str, value: str) -> str:
    """A zone-file line: the value cut into quoted strings of at most 255 characters."""
    chunks = " ".join(f'"{value[i : i + TXT_CHUNK]}"' for i in range(0, len(value), TXT_CHUNK))
    return f"{name}. 3600 IN TXT {chunks}"


def from_domain(config: Config) -> str:
    return sender_domain(config.newsletter.sender).lower()


def envelope_domain(config: Config) -> str:
    """The domain of MAIL FROM (the return path): SPF is checked there, not on From."""
    if config.feedback.return_path:
        return config.feedback.return_path.rpartition("@")[2].lower()
    return from_domain(config)


def spf_value(config: Config) -> str:
    """An SPF policy that lets the relay send: its host's addresses (`a:`), or for a relay on this
    machine, the domain's MX hosts (where a self-hosted sender usually is)."""
    host = config.smtp.host
    mechanism = "mx" if is_loopback(host) or host == "localhost" else f"a:{host}"
    return f"v=spf1 {mechanism} ~all"


def dmarc_value(config: Config) -> str:
    """A DMARC policy to start with: reports, no rejections yet (raise `p` once they are clean)."""
    return f"v=DMARC1; p=none; rua=mailto:dmarc-reports@{from_domain(config)}"


def records(config: Config, keys: Sequence[Key]) -> list[str]:
    """Every record to publish, as zone-file lines."""
    lines = [txt(key.name, key.record()) for key in keys]
    lines.append(txt(envelope_domain(config), spf_value(config)))
    lines.append(txt(f"_dmarc.{from_domain(config)}", dmarc_value(config)))
    return lines
