"""Tier 2, the domain: what receivers look up in DNS before they trust a copy.

- SPF of the envelope's domain (the return path, else From): there, within 10 lookups, and
  letting the relay's addresses send (checkdmarc parses the record and counts the lookups);
- each DKIM key published at its selector, 2048 bits or more, and the same as the key signing;
- DMARC of the From domain: there, enforcing (p=none is a warning), and aligned with the DKIM
  signature or SPF's domain, as DMARC itself decides (relaxed or strict, adkim and aspf).
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Iterator, Sequence
from typing import Any

import dns.exception
import dns.resolver
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from dkim.util import parse_tag_value

from digest.config import Config
from digest.deliverability.findings import Finding, Tier, Verdict, error, warning
from digest.deliverability.message import aligned
from digest.deliverability.records import envelope_domain, from_domain
from digest.send.dkim import GOOD_BITS, Key

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_DEPTH = 10  # includes and redirects followed; RFC 7208 stops at 10 lookups anyway


def _texts(resolver: dns.resolver.Resolver, name: str, kind: str) -> list[str] | None:
    """The answers' text (TXT strings joined), [] for none, None when the name does not exist."""
    try:
        answer = resolver.resolve(name, kind)
    except dns.resolver.NXDOMAIN:
        return None
    except dns.resolver.NoAnswer:
        return []
    if kind == "TXT":
        return [b"".join(rdata.strings).decode("utf-8", "replace") for rdata in answer]
    return [rdata.to_text() for rdata in answer]


def addresses(resolver: dns.resolver.Resolver, host: str) -> list[Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    found: list[Address] = []
    for kind in ("A", "AAAA"):
        try:
            found += [ipaddress.ip_address(text) for text in _texts(resolver, host, kind) or []]
        except dns.exception.DNSException:
            continue
    return found


def _mx_addresses(resolver: dns.resolver.Resolver, domain: str) -> list[Address]:
    hosts = [text.split()[-1].rstrip(".") for text in _texts(resolver, domain, "MX") or []]
    return [ip for host in hosts for ip in addresses(resolver, host)]


def spf_result(
    parsed: dict[str, Any], ip: Address, domain: str, resolver: dns.resolver.Resolver, depth: int = 0
) -> str | None:
    """What SPF says of mail from `ip` (checkdmarc's parsed record): pass, fail, softfail,
    neutral; None where digest cannot tell (exists:, ptr:, macros)."""
    if depth > MAX_DEPTH:
        return None
    for mechanism in parsed.get("mechanisms", []):
        kind, value, action = mechanism["mechanism"], str(mechanism.get("value") or ""), mechanism["action"]
        if kind in ("ip4", "ip6"):
            network = ipaddress.ip_network(value, strict=False)
            matched = ip.version == network.version and ip in network
        elif kind == "a":
            matched = ip in addresses(resolver, value.split("/")[0] or domain)
        elif kind == "mx":
            matched = ip in _mx_addresses(resolver, value.split("/")[0] or domain)
        elif kind == "include":
            inner = mechanism.get("parsed")
            if not isinstance(inner, dict):
                return None
            result = spf_result(inner, ip, value, resolver, depth + 1)
            if result is None:
                return None
            matched = result == "pass"
        else:
            return None
        if matched:
            return str(action)
    redirect = parsed.get("redirect")
    if isinstance(redirect, dict) and isinstance(redirect.get("parsed"), dict):
        return spf_result(redirect["parsed"], ip, str(redirect.get("domain", domain)), resolver, depth + 1)
    return str(parsed.get("all") or "neutral")


def check_spf(config: Config, resolver: dns.resolver.Resolver) -> Iterator[Finding]:
    from checkdmarc.spf import check_spf as checkdmarc_spf

    domain = envelope_domain(config)
    found = checkdmarc_spf(domain, resolver=resolver)
    if not found.get("valid"):
        yield error("spf", f"{domain}: {found.get('error', 'no valid SPF record')}")
        return
    host = config.smtp.host
    relay = addresses(resolver, host)
    if not relay:
        yield warning(
            "spf", f"{domain}: the relay {host} has no address in DNS: which one sends is not known here"
        )
    for ip in relay:
        result = spf_result(found["parsed"], ip, domain, resolver)
        if result is None:
            yield warning(
                "spf", f"{domain}: whether SPF lets {ip} ({host}) send depends on a rule digest cannot follow"
            )
        elif result != "pass":
            yield error("spf", f"{domain}: SPF does not let the relay {host} ({ip}) send: {result}")


def _published_key(text: str) -> rsa.RSAPublicKey | ed25519.Ed25519PublicKey | None:
    """The key a DKIM record publishes (k= rsa or ed25519); None when revoked (p= empty)."""
    tags = parse_tag_value(text.replace(" ", "").encode())
    data = base64.b64decode(tags.get(b"p", b"") + b"==")
    if not data:
        return None
    if tags.get(b"k", b"rsa").lower() == b"ed25519":
        return ed25519.Ed25519PublicKey.from_public_bytes(data)
    public = serialization.load_der_public_key(data)
    if not isinstance(public, rsa.RSAPublicKey):
        raise ValueError("k=rsa, but not an RSA key")
    return public


def _raw(public: rsa.RSAPublicKey | ed25519.Ed25519PublicKey) -> bytes:
    if isinstance(public, rsa.RSAPublicKey):
        return public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def check_dkim_keys(keys: Sequence[Key], resolver: dns.resolver.Resolver) -> Iterator[Finding]:
    if not keys:
        yield error("dkim", "no key to look up: copies go out unsigned (digest init --dkim)")
    for key in keys:
        texts = _texts(resolver, key.name, "TXT")
        records = [t for t in texts or [] if "p=" in t]
        if not records:
            yield error("dkim", f"{key.name}: no key published there (digest init --dkim prints the record)")
            continue
        try:
            public = _published_key(records[0])
        except (ValueError, UnsupportedAlgorithm) as failure:
            yield error("dkim", f"{key.name}: the published key cannot be read: {failure}")
            continue
        if public is None:
            yield error("dkim", f"{key.name}: the key published there is revoked (p= is empty)")
            continue
        if isinstance(public, rsa.RSAPublicKey) and public.key_size < GOOD_BITS:
            yield error(
                "dkim", f"{key.name}: a {public.key_size}-bit key; receivers ask for {GOOD_BITS} bits"
            )
        if _raw(public) != _raw(key.private.public_key()):
            yield error(
                "dkim", f"{key.name}: the key published there is not the one signing: every copy fails DKIM"
            )


def check_dmarc(config: Config, keys: Sequence[Key], resolver: dns.resolver.Resolver) -> Iterator[Finding]:
    from checkdmarc.dmarc import check_dmarc as checkdmarc_dmarc

    domain, envelope = from_domain(config), envelope_domain(config)
    found = checkdmarc_dmarc(domain, resolver=resolver)
    if not found.get("valid"):
        yield error("dmarc", f"{domain}: {found.get('error', 'no DMARC record')}")
        return
    tags = found["tags"]
    policy, adkim, aspf = (str(tags[name]["value"]) for name in ("p", "adkim", "aspf"))
    if policy == "none":
        yield warning(
            "dmarc",
            f"{domain}: p=none asks receivers to do nothing with mail that fails;"
            " move to p=quarantine once the reports are clean",
        )
    by_dkim = any(aligned(key.domain, domain, strict=adkim == "s") for key in keys)
    by_spf = aligned(envelope, domain, strict=aspf == "s")
    if not by_dkim and not by_spf:
        yield error(
            "dmarc",
            f"neither a DKIM signature nor the return path's domain {envelope} is aligned with"
            f" From {domain} (adkim={adkim}, aspf={aspf}): every copy fails DMARC",
        )
    elif not by_spf:
        yield warning(
            "dmarc",
            f"the return path's domain {envelope} is not aligned with From {domain} (aspf={aspf}):"
            " DMARC rests on the DKIM signature alone",
        )
    elif not by_dkim and keys:
        yield warning("dmarc", f"no DKIM signature is aligned with From {domain}: DMARC rests on SPF alone")


def check_domain(config: Config, keys: Sequence[Key], resolver: dns.resolver.Resolver) -> Verdict:
    """The domain tier's findings, asking `resolver`."""
    from checkdmarc.utils import DNS_CACHE

    DNS_CACHE.clear()  # checkdmarc's cache is by name alone, not by server: every answer asked anew
    try:
        findings = [
            *check_spf(config, resolver),
            *check_dkim_keys(keys, resolver),
            *check_dmarc(config, keys, resolver),
        ]
    except dns.exception.DNSException as failure:  # past what checkdmarc turns into its own words
        findings = [error("dns", f"{failure}: the domain was not checked")]
    silent = getattr(resolver, "silent", None)
    if silent is not None:  # what was found rests on questions nobody answered
        findings = [error("dns", f"no answer from the DNS server ({silent}): the domain was not checked")]
    return Verdict(Tier.DOMAIN, findings)
