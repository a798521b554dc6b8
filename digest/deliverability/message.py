"""Tier 1, offline: the copy a reader gets, signed as `digest send` signs it.

- DKIM: each signature verifies against its key's own record, covers List-Unsubscribe and
  List-Unsubscribe-Post, has no body length, and its d= is aligned with From (what DMARC counts);
- one-click unsubscribe (RFC 8058): an https link in List-Unsubscribe, and List-Unsubscribe-Post;
- no hidden low-contrast text (SpamAssassin's test, on the HTML part's inline colours);
- a local SpamAssassin score, where `spamassassin` is installed (its local rules only: no network).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence
from email import message_from_bytes, policy
from email.message import EmailMessage

import dkim as dkimpy
import lxml.html
from dkim.util import parse_tag_value

from digest.deliverability.findings import Finding, Tier, Verdict, error, warning
from digest.send.dkim import GOOD_BITS, Key

ONE_CLICK = "List-Unsubscribe=One-Click"
SPAMASSASSIN_TIMEOUT = 120.0
LOW_CONTRAST = 12.0  # SpamAssassin's distance under which text counts as hidden (HTML.pm)


def aligned(domain: str, from_domain: str, strict: bool = False) -> bool:
    """DMARC's identifier alignment (RFC 7489 3.1): the same domain (strict), or the same
    organizational domain (relaxed, by the Public Suffix List)."""
    domain, from_domain = domain.lower().rstrip("."), from_domain.lower().rstrip(".")
    if strict or domain == from_domain:
        return domain == from_domain
    from checkdmarc.utils import get_base_domain  # the Public Suffix List: read only when asked

    return bool(get_base_domain(domain) == get_base_domain(from_domain))


def _signatures(message: EmailMessage) -> list[dict[bytes, bytes]]:
    found = []
    for value in message.get_all("DKIM-Signature", []):
        unfolded = re.sub(r"\s+", "", str(value)).encode()
        found.append(parse_tag_value(unfolded))
    return found


def check_dkim(
    copy: bytes, message: EmailMessage, keys: Sequence[Key], from_domain: str
) -> Iterator[Finding]:
    if not keys:
        yield error(
            "dkim",
            "copies go out unsigned (no dkim.selector): Gmail and Yahoo require DKIM of bulk senders;"
            " digest init --dkim makes a key",
        )
        return
    records = {f"{key.name}.".encode(): key.record().encode() for key in keys}
    lookup: Callable[..., bytes | None] = lambda name, timeout=5: records.get(name)  # noqa: E731
    checker = dkimpy.DKIM(copy)
    for index, tags in enumerate(_signatures(message)):
        name = f"{tags.get(b's', b'?').decode()}._domainkey.{tags.get(b'd', b'?').decode()}"
        try:
            good = bool(checker.verify(index, dnsfunc=lookup))
        except dkimpy.DKIMException as failure:
            good, why = False, str(failure)
        else:
            why = "the signature does not match the message"
        if not good:
            yield error("dkim", f"the signature by {name} does not verify with the configured key: {why}")
        signed = {h.strip().lower() for h in tags.get(b"h", b"").decode().split(":")}
        for header in ("List-Unsubscribe", "List-Unsubscribe-Post"):
            if header in message and header.lower() not in signed:
                yield error("dkim", f"{name} does not sign {header}: Gmail wants it signed")
        if b"l" in tags:
            yield error("dkim", f"{name} has a body length (l=): anyone can append to the body")
        if not aligned(tags.get(b"d", b"").decode(), from_domain):
            yield error(
                "dkim",
                f"d={tags.get(b'd', b'').decode()} is not aligned with the From domain {from_domain}:"
                " DMARC does not count the signature (set dkim.domain)",
            )
    for key in keys:
        if key.bits < GOOD_BITS:
            yield warning("dkim", f"{key.name}: a {key.bits}-bit key; receivers ask for {GOOD_BITS} bits")


def check_list_unsubscribe(message: EmailMessage) -> Iterator[Finding]:
    links = re.findall(r"<([^>]+)>", str(message.get("List-Unsubscribe", "")))
    if not any(link.startswith("https://") for link in links):
        yield error(
            "list-unsubscribe",
            "no https link in List-Unsubscribe: Gmail and Yahoo require one-click unsubscribe (RFC 8058);"
            " set newsletter.unsubscribe_url",
        )
    elif str(message.get("List-Unsubscribe-Post", "")).strip() != ONE_CLICK:
        yield error("list-unsubscribe", f"no 'List-Unsubscribe-Post: {ONE_CLICK}' (RFC 8058)")
    if not any(link.startswith("mailto:") for link in links):
        yield warning("list-unsubscribe", "no mailto: in List-Unsubscribe: older clients offer only that")


# Colours by name that templates use; anything else unreadable is left unjudged.
_NAMES = {"white": "ffffff", "black": "000000", "transparent": ""}
_STYLE_COLOR = re.compile(r"(?:^|;)\s*color\s*:\s*([^;!]+)", re.IGNORECASE)
_STYLE_BACKGROUND = re.compile(r"(?:^|;)\s*background(?:-color)?\s*:\s*([^;!]+)", re.IGNORECASE)


def _rgb(value: str | None) -> tuple[int, int, int] | None:
    if not value:
        return None
    text = value.strip().lower()
    text = _NAMES.get(text, text).lstrip("#")
    for word in text.split():  # "background: #fff url(…)": the colour among the words
        word = word.lstrip("#")
        if re.fullmatch(r"[0-9a-f]{3}", word):
            word = "".join(c * 2 for c in word)
        if re.fullmatch(r"[0-9a-f]{6}", word):
            return int(word[:2], 16), int(word[2:4], 16), int(word[4:], 16)
    return None


def _distance(one: tuple[int, int, int], other: tuple[int, int, int]) -> float:
    """SpamAssassin's: the colours' difference, weighted by how bright each channel looks."""
    r, g, b = (a - c for a, c in zip(one, other, strict=True))
    return float(((0.2126 * r) ** 2 + (0.7152 * g) ** 2 + (0.0722 * b) ** 2) ** 0.5)


def _inherited(
    element: lxml.html.HtmlElement, pattern: re.Pattern[str], attribute: str
) -> tuple[int, int, int] | None:
    for node in (element, *element.iterancestors()):
        found = pattern.search(node.get("style") or "")
        colour = _rgb(found.group(1)) if found else _rgb(node.get(attribute))
        if colour is not None:
            return colour
    return None


def check_contrast(html: str) -> Iterator[Finding]:
    """Text whose colour is (nearly) its background's: what spam hides, and filters score
    (HTML_FONT_LOW_CONTRAST), whether or not it is also display:none."""
    tree = lxml.html.document_fromstring(html)
    for element in tree.iter():
        if not isinstance(element.tag, str) or element.tag in ("style", "script", "head", "title"):
            continue
        text = (element.text or "").strip()
        if not text:
            continue
        fg = _inherited(element, _STYLE_COLOR, "color") or (0, 0, 0)
        bg = _inherited(element, _STYLE_BACKGROUND, "bgcolor") or (255, 255, 255)
        if _distance(fg, bg) < LOW_CONTRAST:
            shown = "#{:02x}{:02x}{:02x} on #{:02x}{:02x}{:02x}".format(*fg, *bg)
            yield error("content", f"hidden low-contrast text ({shown}) in <{element.tag}>: {text[:60]!r}")


_SCORE = re.compile(r"Content analysis details:\s+\((-?[\d.]+) points, (-?[\d.]+) required\)")
_RULE = re.compile(r"^\s*(-?\d+\.\d+)\s+([A-Z0-9_]+)\s+(.*)$")


def spam_score(copy: bytes, program: str) -> tuple[float, float, list[tuple[float, str, str]]]:
    """(score, the score that is spam, the rules that scored) from SpamAssassin's local rules."""
    done = subprocess.run(
        [program, "-L", "-t"], input=copy, capture_output=True, timeout=SPAMASSASSIN_TIMEOUT, check=False
    )
    report = done.stdout.decode("utf-8", "replace")
    found = _SCORE.search(report)
    if not found:
        raise ValueError(f"no score in its report (exit {done.returncode})")
    rules = []
    for line in report[found.end() :].splitlines():
        rule = _RULE.match(line)
        if rule:
            rules.append((float(rule.group(1)), rule.group(2), rule.group(3).strip()))
    score = round(float(found.group(1)), 1) + 0.0  # SpamAssassin's "-0.0": a sum of -0.001s
    return score, float(found.group(2)), rules


def check_spam(copy: bytes, program: str | None) -> tuple[list[Finding], str | None]:
    if program is None:
        return [
            warning("spamassassin", "not installed: no local score (Debian: apt-get install spamassassin)")
        ], None
    try:
        score, required, rules = spam_score(copy, program)
    except (OSError, subprocess.SubprocessError, ValueError) as failure:
        return [warning("spamassassin", f"could not score the copy: {failure}")], None
    scored = ", ".join(f"{name} {points:+.1f}" for points, name, _ in rules if points > 0)
    if score >= required:
        return [
            error("spamassassin", f"scores {score:.1f}, spam from {required:.1f}: {scored}")
        ], f"{score:.1f}"
    if score > 0:
        return [
            warning("spamassassin", f"scores {score:.1f} (spam from {required:.1f}): {scored}")
        ], f"{score:.1f}"
    return [], f"{score:.1f}"


def check_message(
    copy: bytes, keys: Sequence[Key], from_domain: str, *, spamassassin: str | None = None
) -> Verdict:
    """The message tier's findings on `copy` (a signed personal copy, CRLF, not dot-stuffed)."""
    message = message_from_bytes(copy, policy=policy.default)
    assert isinstance(message, EmailMessage)
    findings = [*check_dkim(copy, message, keys, from_domain), *check_list_unsubscribe(message)]
    html = message.get_body(("html",))
    if html is not None:
        findings += check_contrast(html.get_content())
    spam, score = check_spam(copy, spamassassin)
    findings += spam
    return Verdict(Tier.MESSAGE, findings, {"spamassassin": score} if score is not None else {})


def installed_spamassassin() -> str | None:
    return shutil.which("spamassassin")
