"""Each subscriber's copy, spliced from one message composed and encoded once per issue.

Composing a 42 KB message with the email package and quoted-printable encoding it again for
every recipient cost more than sending it. Here the message is composed once with stand-ins
for what differs per recipient (To, Message-ID, List-Unsubscribe, the parts' greeting and
unsubscribe link), and each copy is assembled from the encoded pieces. The copies are byte for
byte what `personalize.personal_message` composes in full (a test compares the two), because:

- the headers that differ are folded by the email package's own header objects, one each;
- quoted-printable encodes each source line on its own (email.quoprimime.body_encode), so only
  the lines holding a marker are encoded again; and within a long line (premailer writes the
  HTML as one line of 30 KB) the stretches between markers are encoded once for each place the
  76-column grid can meet them, and then looked up.

A copy that needs anything else (SMTPUTF8 headers, a value with a line break in it) is
composed in full.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
from collections.abc import Callable, Mapping
from email import quoprimime
from email.headerregistry import Address

from digest.config import Config
from digest.issue_folder import PersonalIssue, read_variant
from digest.models import Recipient
from digest.render.markers import MARKED, html_values, text_values
from digest.render.message import POLICY, compose, list_unsubscribe
from digest.send import dkim
from digest.send.dkim import Signer
from digest.send.personalize import (
    fill_for,
    mailto_for,
    message_key,
    personal_message,
    personal_url,
    to_header,
)
from digest.send.transports.smtp import to_wire

_MAX: int = POLICY.max_line_length or 78  # what the email package wraps quoted-printable body lines at
_SOFT_BREAK = "=\r\n"  # the parts are written with the SMTP line ending
_LONG = 2 * _MAX  # a line at least this long is encoded from cached stretches
_ENCODE = {
    octet: quoprimime.quote(chr(octet)) if quoprimime.body_check(octet) else chr(octet)
    for octet in range(256)
    if octet not in (10, 13)
}
# Stand-ins that the email package writes as they are, each on a line of its own.
_TO, _ID, _UNSUBSCRIBE = "DIGESTCOPYTO", "<DIGESTCOPYID@digest.invalid>", "DIGESTCOPYUNSUBSCRIBE"
_TEXT, _HTML = "DIGESTCOPYTEXT\n", "DIGESTCOPYHTML\n"
_TO_LINE, _ID_LINE, _UNSUBSCRIBE_LINE = (
    b"To: DIGESTCOPYTO\r\n",
    b"Message-ID: <DIGESTCOPYID@digest.invalid>\r\n",
    b"List-Unsubscribe: DIGESTCOPYUNSUBSCRIBE\r\n",
)
_TEXT_LINE, _HTML_LINE = b"DIGESTCOPYTEXT\r\n", b"DIGESTCOPYHTML\r\n"
_HEADER_LINES = (_TO_LINE, _ID_LINE, _UNSUBSCRIBE_LINE)
_BODY_LINES = (_TEXT_LINE, _HTML_LINE)
_STAND_INS = re.compile(b"(" + b"|".join(map(re.escape, (*_HEADER_LINES, *_BODY_LINES))) + b")")


def _latin1(text: str) -> str:
    """The UTF-8 bytes of `text`, a character each: what the email package QP-encodes."""
    return text.encode("utf-8").decode("latin-1")


def _quote(text: str) -> str:
    return text.translate(_ENCODE)


def _canonical(text: str, dots: bool) -> str:
    """DKIM's relaxed canonical form (dkimpy's) of whole quoted-printable lines joined by CRLF,
    as they were before SMTP's dot-stuffing (`dots`); most lines have nothing to change."""
    if dots:
        text = ("\r\n" + text).replace("\r\n.", "\r\n")[2:]
    if "\t" in text or "  " in text or " \r\n" in text or text.endswith(" "):
        text = dkim.canonical_lines(f"{text}\r\n".encode("ascii"))[:-2].decode("ascii")
    return text


class _Lines(list[str]):
    """Output lines; with `dots`, a line that starts with '.' gets another, as SMTP's DATA wants
    (RFC 5321 4.5.2, what smtplib's data() does with a regular expression over the message)."""

    def __init__(self, dots: bool) -> None:
        super().__init__()
        self.dots = dots

    def add(self, line: str) -> None:
        self.append("." + line if self.dots and line[:1] == "." else line)


def _steps(line: str, start: int, stop_before: int, pieces: _Lines) -> int:
    """quoprimime's wrapping loop, from `start` while a whole step fits before `stop_before`;
    returns where it stopped. One step: 77 characters and a soft break, or fewer so that an
    escape (=XX) is never cut."""
    last = _MAX - 1
    while start + _MAX + 1 <= stop_before:
        stop = start + last
        if line[stop - 2] == "=":
            pieces.add(line[start : stop - 1])
            start = stop - 2
        elif line[stop - 1] == "=":
            pieces.add(line[start:stop])
            start = stop - 1
        else:
            pieces.add(line[start:stop] + "=")
            start = stop
    return start


def _end(line: str, start: int, pieces: _Lines) -> None:
    """The rest of the line, with quoprimime's care for white space at its end."""
    if line and line[-1] in " \t":
        room = start - (len(line) - 1 - _MAX)
        if room >= 3:
            tail = quoprimime.quote(line[-1])
        elif room == 2:
            tail = line[-1] + _SOFT_BREAK
        else:
            tail = _SOFT_BREAK + quoprimime.quote(line[-1])
        pieces.add(line[start:-1] + tail)
    else:
        pieces.add(line[start:])


def encode_line(line: str, dots: bool = False) -> str:
    """One quoted line (already `_quote`d), wrapped as quoprimime.body_encode wraps it."""
    pieces = _Lines(dots)
    _end(line, _steps(line, 0, len(line), pieces), pieces)
    return "\r\n".join(pieces)


class MarkedLine:
    """A source line with markers in it, encoded again for each recipient's values."""

    def __init__(self, line: str, dots: bool) -> None:
        self.dots = dots
        parts = MARKED.split(line)
        self.fixed = [_quote(p) for p in parts]  # the quoted stretches around the markers
        self.slots = MARKED.findall(line)
        self._stretches: dict[tuple[int, int], tuple[str, int]] = {}
        self._canonical: dict[tuple[int, int], str] = {}

    def _stretch(self, index: int, offset: int) -> tuple[str, int]:
        """Fixed stretch `index` wrapped from `offset`, as far as whole steps go: the same for
        every recipient whose wrapping enters it at `offset`, so computed once."""
        key = (index, offset)
        if key not in self._stretches:
            pieces = _Lines(self.dots)
            end = _steps(self.fixed[index], offset, len(self.fixed[index]), pieces)
            self._stretches[key] = ("\r\n".join(pieces), end)
        return self._stretches[key]

    def _canonical_stretch(self, key: tuple[int, int]) -> str:
        if key not in self._canonical:
            self._canonical[key] = _canonical(self._stretches[key][0], self.dots)
        return self._canonical[key]

    def encode(self, values: Mapping[str, str], canonical: list[str] | None = None) -> str:
        """The line for these values; with `canonical`, its DKIM canonical form is added to it,
        made of the cached stretches' forms and only the lines around the values done anew."""
        filled = [_quote(values[slot]) for slot in self.slots]
        line = self.fixed[0] + "".join(v + f for v, f in zip(filled, self.fixed[1:], strict=True))
        if len(line) < _LONG:
            encoded = encode_line(line, self.dots)
            if canonical is not None:
                canonical.append(_canonical(encoded, self.dots))
            return encoded
        pieces = _Lines(self.dots)
        forms: list[str | None] = []  # each piece's canonical form, None: not cached
        start, position = 0, 0
        for index, stretch in enumerate(self.fixed):
            end = position + len(stretch)
            if start >= position:  # the wrapping enters this stretch: its steps are cached
                key = (index, start - position)
                text, stopped = self._stretch(*key)
                if text:
                    pieces.append(text)  # lines with their dots already doubled
                    forms.append(self._canonical_stretch(key) if canonical is not None else None)
                start = position + stopped
            # Across the next value and into the next stretch, step by step.
            following = end + (len(filled[index]) if index < len(filled) else 0)
            limit = min(len(line), following + _MAX + 1) if index < len(filled) else len(line)
            start = _steps(line, start, limit, pieces)
            forms.extend([None] * (len(pieces) - len(forms)))
            position = following
        _end(line, start, pieces)
        if canonical is not None:
            forms.extend([None] * (len(pieces) - len(forms)))
            canonical.append(
                "\r\n".join(
                    form if form is not None else _canonical(piece, self.dots)
                    for piece, form in zip(pieces, forms, strict=True)
                )
            )
        return "\r\n".join(pieces)


class EncodedPart:
    """A part's text (with markers) quoted-printable encoded once; each recipient's copy
    re-encodes only the lines that hold a marker. `dots`: as it goes over the wire."""

    def __init__(self, text: str, dots: bool = False) -> None:
        # Runs of lines without a marker are joined once: a copy is a few strings to join.
        self.template: list[str | MarkedLine] = []
        plain: list[str] = []
        # As the email package splits a part (an empty one is one empty line).
        for raw in text.encode("utf-8").splitlines() or [b""]:
            line = raw.decode("latin-1")
            if MARKED.search(line):
                self.template.append("".join(plain))
                self.template.append(MarkedLine(line, dots))
                plain = []
            else:
                plain.append(encode_line(_quote(line), dots) + "\r\n")
        self.template.append("".join(plain))
        self.dots = dots
        self._canonical: list[str | None] | None = None  # for DKIM, made when first asked

    def encode(self, values: Mapping[str, str]) -> bytes:
        latin = {marker: _latin1(value) for marker, value in values.items()}
        pieces = (p if isinstance(p, str) else p.encode(latin) + "\r\n" for p in self.template)
        return "".join(pieces).encode("ascii")

    def encode_canonical(self, values: Mapping[str, str]) -> tuple[bytes, bytes]:
        """`encode`, and the same part's DKIM canonical form (the runs without a marker done once)."""
        if self._canonical is None:
            self._canonical = [
                _canonical(p, self.dots) if isinstance(p, str) else None for p in self.template
            ]
        latin = {marker: _latin1(value) for marker, value in values.items()}
        pieces: list[str] = []
        forms: list[str] = []
        for piece, form in zip(self.template, self._canonical, strict=True):
            if isinstance(piece, MarkedLine):
                pieces.append(piece.encode(latin, forms) + "\r\n")
                forms.append("\r\n")
            else:
                pieces.append(piece)
                forms.append(form or "")
        return "".join(pieces).encode("ascii"), "".join(forms).encode("ascii")


def boundary_for(issue: PersonalIssue) -> str:
    """The MIME boundary of an issue's copies: from its content, so it is in none of them."""
    digest = hashlib.sha256(issue.html.encode() + issue.text.encode()).hexdigest()
    return f"=_digest_{digest[:24]}"


class Copies:
    """The issue's message for this run, composed once; `for_recipient` splices each copy, and
    `wire` the same copy as SMTP's DATA carries it (dots doubled, ending in a lone dot)."""

    def __init__(
        self,
        issue: PersonalIssue,
        config: Config,
        *,
        now: dt.datetime,
        secret: str | None,
        signer: Signer | None = None,
    ) -> None:
        self.issue, self.config, self.now, self.secret = issue, config, now, secret
        self.signer = signer if signer and signer.keys else None
        self.boundary = boundary_for(issue)
        # Anyone's link has the scheme everyone's has, which decides List-Unsubscribe(-Post).
        link = issue.unsubscribe_url
        anyone = personal_url(link, Recipient("someone@digest.invalid"), secret or "-") if link else None
        skeleton = compose(
            newsletter=config.newsletter,
            subject=issue.subject,
            text=_TEXT,
            html=_HTML,
            date=now,
            message_id=_ID,
            unsubscribe_url=anyone,
            unsubscribe_mailto=config.newsletter.unsubscribe_mailto,
            to=_TO,
            boundary=self.boundary,
        )
        if "List-Unsubscribe" in skeleton:
            skeleton.replace_header("List-Unsubscribe", _UNSUBSCRIBE)
        # Headers and MIME boundaries only (the bodies are stand-ins): no line starts with a dot.
        self.pieces = _STAND_INS.split(skeleton.as_bytes())
        self._parts: dict[bool, tuple[EncodedPart, EncodedPart]] = {}
        self._signing = _Signing(self.pieces) if self.signer else None

    def _encoded(self, wire: bool) -> tuple[EncodedPart, EncodedPart]:
        """The parts encoded once, as needed (sending needs only the wire's)."""
        if wire not in self._parts:
            self._parts[wire] = (EncodedPart(self.issue.text, wire), EncodedPart(self.issue.html, wire))
        return self._parts[wire]

    def for_recipient(self, recipient: Recipient) -> bytes:
        return self._copy(recipient, wire=False)

    def wire(self, recipient: Recipient) -> bytes:
        return self._copy(recipient, wire=True)

    def _copy(self, recipient: Recipient, *, wire: bool) -> bytes:
        fill = fill_for(self.issue, recipient, self.config, self.secret)
        values = (fill.greeting, fill.unsubscribe or "")
        if not recipient.email.isascii() or any("\n" in v or "\r" in v for v in values):
            message = personal_message(
                self.issue, recipient, self.config, now=self.now, secret=self.secret, boundary=self.boundary
            )
            if self.signer:
                message = self.signer.sign(message)
            return to_wire(message) if wire else message
        text, html = self._encoded(wire)
        filled = {
            _TO_LINE: _to(recipient),
            _ID_LINE: _message_id(message_key(self.issue, recipient, self.config, self.secret)),
            _UNSUBSCRIBE_LINE: _raw(
                "List-Unsubscribe",
                list_unsubscribe(fill.unsubscribe, mailto_for(self.config, recipient, self.secret)),
            ),
        }
        signature = b""
        if self.signer and self._signing:
            filled[_TEXT_LINE], text_form = text.encode_canonical(text_values(fill))
            filled[_HTML_LINE], html_form = html.encode_canonical(html_values(fill))
            headers = self._signing.headers(filled)
            body = self._signing.body_hash({_TEXT_LINE: text_form, _HTML_LINE: html_form})
            signature = self.signer.headers(headers, body)
        else:
            filled[_TEXT_LINE] = text.encode(text_values(fill))
            filled[_HTML_LINE] = html.encode(html_values(fill))
        copy = signature + b"".join(filled.get(piece, piece) for piece in self.pieces)
        return copy + b".\r\n" if wire else copy


class IssueCopies:
    """Each reader's copy of the variant they get (`Recipient.variant`; "": the whole issue): one
    `Copies` per variant (`make`), its files read when the run starts, composed when first needed."""

    def __init__(self, issue: PersonalIssue, make: Callable[[PersonalIssue], Copies]) -> None:
        self.issues = {"": issue} | {
            name: read_variant(issue, name) for name, skipped in issue.variants.items() if skipped is None
        }
        self.make, self.made = make, dict[str, Copies]()

    def _copies(self, name: str) -> Copies:
        if name not in self.made:
            self.made[name] = self.make(self.issues[name])
        return self.made[name]

    def for_recipient(self, recipient: Recipient) -> bytes:
        return self._copies(recipient.variant).for_recipient(recipient)

    def wire(self, recipient: Recipient) -> bytes:
        return self._copies(recipient.variant).wire(recipient)


class _Signing:
    """What a DKIM signature needs of the message composed once, canonicalized once: its headers,
    and its body's fixed pieces (boundaries and part headers), the hash of the first kept."""

    def __init__(self, pieces: list[bytes]) -> None:
        whole = b"".join(pieces)
        parsed = dkim.header_fields(whole[: whole.index(b"\r\n\r\n") + 4])
        # Each header canonicalized, or the stand-in line a copy's own header replaces.
        by_value = {line.partition(b":")[2]: line for line in _HEADER_LINES}
        self.head: list[tuple[bytes, bytes] | bytes] = [
            by_value[value] if value in by_value else dkim.RELAXED.canonicalize_headers([(name, value)])[0]
            for name, value in parsed
        ]
        start = next(n for n, piece in enumerate(pieces) if b"\r\n\r\n" in piece)
        body = [pieces[start].partition(b"\r\n\r\n")[2], *pieces[start + 1 :]]
        self.body = [
            piece if piece in _BODY_LINES else dkim.canonical_lines(piece, last=n == len(body) - 1)
            for n, piece in enumerate(body)
        ]
        self.first = hashlib.sha256(self.body[0])  # before the text part: the same in every copy
        del self.body[0]

    def headers(self, filled: Mapping[bytes, bytes]) -> list[tuple[bytes, bytes]]:
        """The copy's headers, canonicalized: the fixed ones as they are, its own filled in."""
        out = []
        for header in self.head:
            if isinstance(header, tuple):
                out.append(header)
            elif filled[header]:  # a header the copy has (List-Unsubscribe may be absent)
                name, _, value = filled[header].partition(b":")
                out.extend(dkim.RELAXED.canonicalize_headers([(name, value)]))
        return out

    def body_hash(self, parts: Mapping[bytes, bytes]) -> bytes:
        hasher = self.first.copy()
        for piece in self.body:
            hasher.update(parts.get(piece, piece))
        return base64.b64encode(hasher.digest())


# A name the email package writes as it is: words of letters, digits, "'" and "-", one space apart.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9'-]+(?: [A-Za-z0-9'-]+)*")
_PLAIN_VALUE = re.compile(r"[!-~]+")  # printable ASCII, no white space


def _to(recipient: Recipient) -> bytes:
    """The To header. The common case (a plain name, an ASCII address, one short line) is written
    directly, as the email package would write it; anything else goes through its header object."""
    address = recipient.email
    if _PLAIN_VALUE.fullmatch(address) and (not recipient.name or _PLAIN_NAME.fullmatch(recipient.name)):
        line = f"To: {recipient.name} <{address}>" if recipient.name else f"To: {address}"
        if len(line) <= _MAX:
            return f"{line}\r\n".encode("ascii")
    return _fold("To", to_header(recipient))


def _message_id(value: str) -> bytes:
    line = f"Message-ID: {value}"
    if len(line) <= _MAX and _PLAIN_VALUE.fullmatch(value):
        return f"{line}\r\n".encode("ascii")
    return _fold("Message-ID", value)


def _fold(name: str, value: str | Address) -> bytes:
    """A header as the email package writes it when the message is composed in full."""
    folded: str = POLICY.header_factory(name, value).fold(policy=POLICY)
    return folded.encode("ascii")


def _raw(name: str, value: str | None) -> bytes:
    return bytes(POLICY.fold_binary(name, value)) if value else b""
