"""The DNS the domain tier asks: a resolver that keeps every answer it got (saved in the issue
folder beside the findings), and one that answers from such a file, so that a finding can be
replayed later, elsewhere, after the records have changed, or with no network at all."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import dns.exception
import dns.message
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.rrset

from digest.errors import ConfigError, InputError
from digest.files import read_input_bytes

TIMEOUT = 5.0  # seconds for each question, all tries together
NXDOMAIN, NO_ANSWER = "NXDOMAIN", "NOANSWER"
MAX_ANSWERS_BYTES = 4 * 1024 * 1024


def _key(qname: Any, rdtype: Any) -> str:
    name = str(qname).rstrip(".").lower()
    kind = rdtype if isinstance(rdtype, str) else dns.rdatatype.to_text(rdtype)
    return f"{name} {kind.upper()}"


def nameserver_address(text: str) -> tuple[str, int]:
    """`HOST[:PORT]` (an IPv6 address in brackets when it has a port)."""
    host, port = text, 53
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else 53
    elif text.count(":") == 1:
        host, _, number = text.partition(":")
        if not number.isdigit():
            raise ConfigError(f"--nameserver: not HOST[:PORT]: {text!r}")
        port = int(number)
    if not 0 < port < 65536:
        raise ConfigError(f"--nameserver: not a port: {port}")
    return host, port


class Recording(dns.resolver.Resolver):
    """dnspython's resolver (the system's servers, or the one given), keeping what it was told."""

    def __init__(self, nameserver: str | None = None) -> None:
        super().__init__(configure=nameserver is None)
        if nameserver is not None:
            host, port = nameserver_address(nameserver)
            self.nameservers, self.port = [host], port
        self.lifetime = TIMEOUT
        self.answers: dict[str, list[str] | str] = {}
        self.silent: dns.exception.DNSException | None = None  # the servers did not answer at all

    def resolve(self, qname: Any, rdtype: Any = "A", *args: Any, **kwargs: Any) -> dns.resolver.Answer:
        if self.silent is not None:  # a server that did not answer once is not waited for again
            raise self.silent
        key = _key(qname, rdtype)
        try:
            answer = super().resolve(qname, rdtype, *args, **kwargs)
        except (dns.exception.Timeout, dns.resolver.NoNameservers) as failure:
            self.silent = failure
            raise
        except dns.resolver.NXDOMAIN:
            self.answers[key] = NXDOMAIN
            raise
        except dns.resolver.NoAnswer:
            self.answers[key] = NO_ANSWER
            raise
        self.answers[key] = [rdata.to_text() for rdata in answer]
        return answer

    def saved(self, now: dt.datetime) -> dict[str, Any]:
        """What was asked and answered, for the issue folder (`replaying` reads it back)."""
        return {"asked": now.isoformat(), "answers": dict(sorted(self.answers.items()))}


class NotSaved(dns.exception.DNSException):
    """A replayed check asked what the check it replays never did (digest changed since)."""


class Replaying(dns.resolver.Resolver):
    """Answers from a saved check's file; a question it never asked has no answer here."""

    def __init__(self, answers: dict[str, list[str] | str]) -> None:
        super().__init__(configure=False)
        self.nameservers = ["192.0.2.1"]  # never asked: every answer comes from the file
        self.answers = answers

    def resolve(self, qname: Any, rdtype: Any = "A", *args: Any, **kwargs: Any) -> dns.resolver.Answer:
        key = _key(qname, rdtype)
        saved = self.answers.get(key)
        if saved is None:
            raise NotSaved(f"{key} is not among the saved answers")  # type: ignore[no-untyped-call]
        name = dns.name.from_text(str(qname))
        if saved == NXDOMAIN:
            raise dns.resolver.NXDOMAIN(qnames=[name])  # type: ignore[no-untyped-call]
        if saved == NO_ANSWER or isinstance(saved, str):
            raise dns.resolver.NoAnswer()  # type: ignore[no-untyped-call]
        kind = dns.rdatatype.from_text(key.rpartition(" ")[2])
        response = dns.message.make_response(dns.message.make_query(name, kind))
        assert isinstance(response, dns.message.QueryMessage)
        # Through find_rrset, which indexes it: an rrset appended to `answer` is not found there.
        answer = response.find_rrset(dns.message.ANSWER, name, dns.rdataclass.IN, kind, create=True)
        answer.update(dns.rrset.from_text_list(name, 300, dns.rdataclass.IN, kind, saved))  # type: ignore[no-untyped-call]
        return dns.resolver.Answer(name, kind, dns.rdataclass.IN, response)


def replaying(path: Path) -> Replaying:
    """The resolver that answers from a saved check (`deliverability.json` of an issue)."""
    data = read_input_bytes(path, str(path), "file of DNS answers", MAX_ANSWERS_BYTES)
    try:
        saved = json.loads(data)["dns"]["answers"]
        if not isinstance(saved, dict) or not all(isinstance(k, str) for k in saved):
            raise ValueError("no answers in it")
    except (ValueError, KeyError, TypeError) as error:
        raise InputError(f"not a saved deliverability check: {error}", path=str(path)) from None
    return Replaying(saved)
