"""The subscriber list: a CSV of email, name and any other columns, read and checked.

Addresses are checked with email-validator (syntax only: no DNS, which cron machines and
tests cannot count on); invalid ones are reported and never sent to. A `status` column of
`unsubscribed` or `bounced` (any case) leaves a row out.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from email_validator import EmailNotValidError, validate_email

from digest.errors import InputError, read_input
from digest.models import Recipient

SKIPPED_STATUSES = {"unsubscribed", "bounced"}


@dataclass(frozen=True, slots=True)
class SubscriberList:
    recipients: tuple[Recipient, ...]
    invalid: tuple[tuple[int, str, str], ...] = ()  # (line, address, why)
    skipped: int = 0  # unsubscribed or bounced
    duplicates: int = 0
    extra: dict[str, dict[str, str]] = field(default_factory=dict)  # email -> other columns


def normalized(address: str) -> str:
    """The form an address is recorded under: one subscriber, one row, whatever its case."""
    return address.strip().lower()


def load_subscribers(path: Path, label: str) -> SubscriberList:
    text = read_input(path, label, "subscriber list")
    reader = csv.DictReader(io.StringIO(text))
    columns = {name.strip().lower(): name for name in reader.fieldnames or ()}
    if "email" not in columns:
        raise InputError("needs an 'email' column", path=label)
    recipients: list[Recipient] = []
    invalid: list[tuple[int, str, str]] = []
    extra: dict[str, dict[str, str]] = {}
    seen: set[str] = set()
    skipped = duplicates = 0
    for row in reader:
        address = (row.get(columns["email"]) or "").strip()
        status = (row.get(columns["status"]) or "").strip().lower() if "status" in columns else ""
        if status in SKIPPED_STATUSES:
            skipped += 1
            continue
        try:
            address = validate_email(address, check_deliverability=False).normalized
        except EmailNotValidError as error:
            invalid.append((reader.line_num, address, str(error)))
            continue
        key = normalized(address)
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        name = (row.get(columns["name"]) or "").strip() if "name" in columns else ""
        recipients.append(Recipient(address, name))
        extra[key] = {
            k: v or "" for k, v in row.items() if k and k.strip().lower() not in ("email", "name", "status")
        }
    return SubscriberList(tuple(recipients), tuple(invalid), skipped, duplicates, extra)
