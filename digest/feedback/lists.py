"""Suppression lists in, subscriber lists out.

In: a plain list of addresses, or the suppression export of Amazon SES (`aws sesv2
list-suppressed-destinations` JSON, or its CSV with EmailAddress and Reason), Mailgun (the
bounces, unsubscribes and complaints CSVs: `address` with `code,error`, `tags`, or neither)
or Postmark (the suppressions JSON, or a CSV with EmailAddress and SuppressionReason), told
apart by their columns, not their names.
Out: the subscriber CSV with each suppressed row's `status` brought up to date.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

from email_validator import EmailNotValidError

from digest.addresses import address_key, key_or_none
from digest.errors import InputError, parsing
from digest.files import MAX_INPUT_BYTES, read_input
from digest.models import Suppression, SuppressionReason, SuppressionSource
from digest.send.subscribers import open_list

R = SuppressionReason
_SES = {"BOUNCE": R.HARD_BOUNCE, "COMPLAINT": R.COMPLAINT}
_POSTMARK = {"HardBounce": R.HARD_BOUNCE, "SpamComplaint": R.COMPLAINT, "ManualSuppression": R.MANUAL}
# What the list owner's system should read back, by reason.
STATUS = {
    R.UNSUBSCRIBED: "unsubscribed",
    R.MANUAL: "unsubscribed",
    R.IMPORTED: "unsubscribed",
    R.HARD_BOUNCE: "bounced",
    R.SOFT_BOUNCES: "bounced",
    R.COMPLAINT: "complained",
}


def _address(raw: object, where: str, label: str) -> str:
    text = str(raw or "").strip()
    try:
        return address_key(text)
    except EmailNotValidError as error:
        raise InputError(f"{where}: {text!r} is not an email address ({error})", path=label) from None


def _from_rows(rows: Iterable[Mapping[str, Any]], label: str) -> Iterator[tuple[str, SuppressionReason, str]]:
    """(address, reason, detail) from rows of any of the known exports."""
    for number, row in enumerate(rows, start=1):
        keys = {k.strip().lower(): k for k in row}
        where = f"row {number}"

        def get(name: str, keys: dict[str, str] = keys, row: Mapping[str, Any] = row) -> str:
            return str(row.get(keys.get(name, ""), "") or "").strip()

        if "suppressionreason" in keys:  # Postmark
            reason = _POSTMARK.get(get("suppressionreason"), R.IMPORTED)
            yield _address(get("emailaddress"), where, label), reason, f"Postmark: {get('suppressionreason')}"
        elif "emailaddress" in keys and "reason" in keys:  # Amazon SES
            reason = _SES.get(get("reason").upper(), R.IMPORTED)
            yield _address(get("emailaddress"), where, label), reason, f"SES: {get('reason')}"
        elif "address" in keys:  # Mailgun: bounces have code and error, unsubscribes tags
            if "code" in keys or "error" in keys:
                detail = " ".join(x for x in (get("code"), get("error")) if x)
                yield _address(get("address"), where, label), R.HARD_BOUNCE, f"Mailgun: {detail}".strip()
            elif "tags" in keys:
                yield _address(get("address"), where, label), R.UNSUBSCRIBED, "Mailgun: unsubscribe"
            else:
                yield _address(get("address"), where, label), R.COMPLAINT, "Mailgun: complaint"
        elif "email" in keys:
            yield _address(get("email"), where, label), R.IMPORTED, ""
        else:
            raise InputError(f"{where}: no address column this reader knows", path=label)


def _rows(text: str, label: str) -> Iterable[Mapping[str, Any]] | None:
    """The file's rows when it is JSON or a CSV with a header; None for a plain list."""
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise InputError(f"invalid JSON at line {error.lineno}: {error.msg}", path=label) from None
        if isinstance(data, dict):
            data = data.get("SuppressedDestinationSummaries", data.get("Suppressions", data.get("items")))
        if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
            raise InputError("JSON that is not a suppression export this reader knows", path=label)
        return data
    first = stripped.splitlines()[0] if stripped else ""
    if "," in first and "@" not in first:  # a header row
        return list(csv.DictReader(io.StringIO(text)))
    return None


def read_suppression_file(path: Path, label: str, now: dt.datetime) -> list[Suppression]:
    """The suppressions a file holds, with `file` as their source and the file in their detail."""
    text = read_input(path, label, "suppression file")
    with parsing(label, "suppression file"):
        rows = _rows(text, label)
    if rows is None:
        found = [
            (_address(line, f"line {n}", label), R.IMPORTED, "")
            for n, line in enumerate(text.splitlines(), start=1)
            if line.strip() and not line.lstrip().startswith("#")
        ]
    else:
        found = list(_from_rows(rows, label))
    name = Path(label).name
    return [
        Suppression(email, reason, SuppressionSource.FILE, now, f"{name}: {detail}" if detail else name)
        for email, reason, detail in found
    ]


# A cell a spreadsheet would take for a formula (OWASP's "CSV injection"): opened in Excel or
# LibreOffice, "=HYPERLINK(…)" in a reader's name runs. A leading quote makes it text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str | None) -> str | None:
    """A CSV cell that no spreadsheet will run as a formula (OWASP's advice: prefix a quote)."""
    return "'" + value if value and value.startswith(_FORMULA_STARTS) else value


def export_subscribers(
    source: Path, label: str, suppressed: Mapping[str, SuppressionReason], out: TextIO
) -> int:
    """The subscriber CSV as it is, with a `status` column (added if missing) brought up to date:
    `unsubscribed`, `bounced` or `complained` for each suppressed address; every other cell as it
    was, but for a leading formula character (`safe_cell`). Streamed row by row into `out`, so a
    list of any size costs no memory; returns how many rows were written."""
    handle = open_list(source, label)
    written = 0
    # Every row goes back out as it was, however long its cells (the send skips such a row; the
    # list owner's system should see it again): the csv module's 128 KiB cap lifted for the export.
    limit = csv.field_size_limit(MAX_INPUT_BYTES)
    try:
        with handle, parsing(label, "subscriber list"):
            reader = csv.DictReader(handle)
            fields = list(reader.fieldnames or ())
            columns = {name.strip().lower(): name for name in fields}
            if "email" not in columns:
                raise InputError("needs an 'email' column", path=label)
            status = columns.get("status", "status")
            if status not in fields:
                fields.append(status)
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow([safe_cell(name) for name in fields])
            for row in reader:
                reason = suppressed.get(key_or_none(row.get(columns["email"]) or "") or "")
                if reason is not None:
                    row[status] = STATUS[reason]
                writer.writerow([safe_cell(row.get(name)) for name in fields])
                written += 1
    finally:
        csv.field_size_limit(limit)
    return written
