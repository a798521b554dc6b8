"""What a deliverability check finds: one line each, `error|warning: topic: what`, by tier."""

from __future__ import annotations

from enum import StrEnum

from msgspec import Struct

from digest.errors import ExitCode


class Severity(StrEnum):
    ERROR = "error"  # the mail is likely to be refused, junked or unauthenticated: fails the tier
    WARNING = "warning"  # worth fixing; the tier still passes


class Tier(StrEnum):
    MESSAGE = "message"  # offline: the signed copy itself
    DOMAIN = "domain"  # the DNS records receivers look up
    RECEIVER = "receiver"  # a copy as a real mailbox filed it

    @property
    def exit_code(self) -> ExitCode:
        return _EXIT[self]


_EXIT = {
    Tier.MESSAGE: ExitCode.UNDELIVERABLE_MESSAGE,
    Tier.DOMAIN: ExitCode.UNDELIVERABLE_DOMAIN,
    Tier.RECEIVER: ExitCode.UNDELIVERABLE_RECEIVER,
}


class Finding(Struct, frozen=True):
    severity: Severity
    topic: str  # dkim, spf, dmarc, list-unsubscribe, content, spamassassin, receiver
    message: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.topic}: {self.message}"


def error(topic: str, message: str) -> Finding:
    return Finding(Severity.ERROR, topic, message)


def warning(topic: str, message: str) -> Finding:
    return Finding(Severity.WARNING, topic, message)


class Verdict(Struct, frozen=True):
    tier: Tier
    findings: list[Finding]
    facts: dict[str, str] = {}  # what was seen on the way (score, folder, results), for the summary

    @property
    def failed(self) -> bool:
        return any(f.severity is Severity.ERROR for f in self.findings)

    def summary(self) -> str:
        errors = sum(1 for f in self.findings if f.severity is Severity.ERROR)
        warnings = len(self.findings) - errors
        seen = "".join(f"; {key} {value}" for key, value in self.facts.items())
        counted = f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
        return f"{self.tier}: {counted}{seen}"
