"""The subscriber list: a CSV of email, name and any other columns, read row by row and checked.

Addresses are checked with email-validator (syntax only: no DNS, which cron machines and
tests cannot count on); invalid ones are reported and never sent to. A `status` column of
`unsubscribed` or `bounced` (any case) leaves a row out. The list is streamed, never held:
a list of 100,000 costs no more memory than one of 100.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from msgspec import Struct, field

from digest.addresses import MAX_ADDRESS, EmailNotValidError, sendable
from digest.config import SegmentsConfig
from digest.errors import InputError
from digest.models import WHOLE, Recipient, Variant

SKIPPED_STATUSES = {"unsubscribed", "bounced"}
EXAMPLES = 20  # invalid rows remembered for the report; the rest are counted
MAX_NAME = 200  # characters: a longer "name" is no name (it would be folded into every To header)


class ListReport(Struct):
    """What reading the list found besides the recipients."""

    invalid: list[tuple[int, str, str]] = field(default_factory=list)  # (line, address, why), the first few
    invalid_count: int = 0
    skipped: int = 0  # unsubscribed or bounced
    # Readers of a variant that has nothing this time: variant name → (why, how many)
    skipped_variants: dict[str, tuple[str, int]] = field(default_factory=dict)

    def skip_variant(self, name: str, why: str) -> None:
        _, count = self.skipped_variants.get(name, (why, 0))
        self.skipped_variants[name] = (why, count + 1)


class Subscriber(Struct, frozen=True):
    key: str  # the ledger's key: addresses.address_key
    recipient: Recipient  # the address as sent (an IDNA domain in ASCII), the name, the variant's name
    variant: Variant = WHOLE


NO_SEGMENTS = SegmentsConfig()
_TOPICS = re.compile(r"[;,\s]+")  # "economy; security", "economy,security" or "economy security"
CADENCES = ("weekly", "monthly")


def variant_of(topics: str, language: str, cadence: str, segments: SegmentsConfig) -> Variant | str:
    """The variant a reader's `topics`, `language` and `cadence` cells choose, or why the row is
    wrong. A column the config has no segments for is not read; a language no variant is built
    in gets the newsletter's own; no cadence is weekly."""
    named: tuple[str, ...] = ()
    if segments.topics:
        named = tuple(sorted({t.lower() for t in _TOPICS.split(topics) if t}))
        unknown = next((t for t in named if t not in segments.topics), None)
        if unknown is not None:
            return f"unknown topic {unknown!r} (segments.topics has {', '.join(segments.topics)})"
    every = (cadence.strip().lower() if segments.monthly else "") or "weekly"
    if every not in CADENCES:
        return f"unknown cadence {cadence.strip()!r} (weekly or monthly)"
    built = {tag.lower(): tag for tag in segments.languages}
    return Variant(named, built.get(language.strip().lower(), ""), every == "monthly")


def _choice(row: dict[str, str], columns: dict[str, str], segments: SegmentsConfig) -> Variant | str:
    topics, language, cadence = (_cell(row, columns, name) for name in ("topics", "language", "cadence"))
    return variant_of(topics, language, cadence, segments)


def _tidy(name: str) -> str:
    # One line of printable text: a CSV field may hold line breaks, tabs, a NUL or other control
    # characters, which have no place in a greeting or a header.
    return " ".join("".join(c if c.isprintable() else " " for c in name).split())


def open_list(path: Path, label: str) -> TextIO:
    """The subscriber CSV, open for reading row by row (a missing one is an InputError)."""
    try:
        return path.open(encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise InputError("subscriber list not found", path=label) from None
    except OSError as error:
        raise InputError(f"cannot read the subscriber list: {error.strerror}", path=label) from None


def read_subscribers(
    path: Path, label: str, report: ListReport, segments: SegmentsConfig = NO_SEGMENTS
) -> Iterator[Subscriber]:
    """The list's valid subscribers in its order, each with the variant their columns choose
    (`segments`); what was left out goes into `report`."""
    with open_list(path, label) as handle:
        columns, rows = _rows(handle, label, report)
        if "email" not in columns:
            raise InputError("needs an 'email' column", path=label)
        for line, row in rows:
            subscriber = _subscriber(row, columns, line, report, segments)
            if subscriber is not None:
                yield subscriber


def _rows(
    handle: TextIO, label: str, report: ListReport
) -> tuple[dict[str, str], Iterator[tuple[int, dict[str, str]]]]:
    """The list's columns (lower case → as written) and its rows with their line numbers. A row
    the csv module cannot take is left out, named in `report`; a list that is not UTF-8 is an
    InputError."""
    reader = csv.DictReader(handle)
    try:
        columns = {name.strip().lower(): name for name in reader.fieldnames or ()}
    except UnicodeDecodeError as error:
        raise InputError(f"cannot read the subscriber list: {error}", path=label) from None

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError as error:
                raise InputError(
                    f"line {reader.line_num + 1}: not UTF-8 ({error.reason})", path=label
                ) from None
            except csv.Error as error:  # a field over the csv module's limit: that row alone is left out
                # The reader counts the line once it has parsed it, which it never did.
                _invalid(report, reader.line_num + 1, "", f"not a row this list can have ({error})")
                continue
            yield reader.line_num, row

    return columns, rows()


def _invalid(report: ListReport, line: int, address: str, why: str) -> None:
    report.invalid_count += 1
    if len(report.invalid) < EXAMPLES:
        report.invalid.append((line, address[:MAX_ADDRESS], why))


def _cell(row: dict[str, str], columns: dict[str, str], name: str) -> str:
    return (row.get(columns[name]) or "") if name in columns else ""


def _subscriber(
    row: dict[str, str], columns: dict[str, str], line: int, report: ListReport, segments: SegmentsConfig
) -> Subscriber | None:
    if _cell(row, columns, "status").strip().lower() in SKIPPED_STATUSES:
        report.skipped += 1
        return None
    address = (row.get(columns["email"]) or "").strip()
    try:
        # Sent with the domain in ASCII (IDNA), which every relay takes; a non-ASCII local part
        # stays as it is and needs SMTPUTF8. Its key is the same, lower-cased (address_key).
        address_sent = sendable(address)
    except EmailNotValidError as error:
        _invalid(report, line, address, str(error))
        return None
    name = _tidy(row.get(columns["name"]) or "") if "name" in columns else ""
    if len(name) > MAX_NAME:
        _invalid(report, line, address, f"a name longer than {MAX_NAME} characters")
        return None
    variant = _choice(row, columns, segments)
    if isinstance(variant, str):
        _invalid(report, line, address, variant)
        return None
    chosen = "" if variant == WHOLE else variant.name  # "": the whole issue, in the folder itself
    return Subscriber(address_sent.lower(), Recipient(address_sent, name, chosen), variant)


def variants_in(path: Path, label: str, segments: SegmentsConfig) -> set[Variant]:
    """The variants the list's readers choose (none without a list): what a build makes besides
    the whole issue."""
    if not path.is_file():
        return set()
    found = set()
    with open_list(path, label) as handle:  # the choosing columns alone: no address is checked here
        columns, rows = _rows(handle, label, ListReport())
        for _, row in rows:
            if _cell(row, columns, "status").strip().lower() in SKIPPED_STATUSES:
                continue
            variant = _choice(row, columns, segments)
            if isinstance(variant, Variant):
                found.add(variant)
    return found - {WHOLE}
