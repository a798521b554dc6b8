"""What a message in the feedback mailbox is: a hard or soft bounce, a complaint, or neither.

Bounces are read by flufl.bounce (GNU Mailman's detectors for RFC 3464 and the many formats mail
servers write of their own). It calls some temporary failures permanent, so where a report carries
RFC 3463 status codes, their class decides: all 4.x.x is a temporary failure. Complaints are RFC
5965 ARF feedback reports; auto-replies (RFC 3834) are nobody's failure.
"""

from __future__ import annotations

import email
import logging
from email import policy
from email.message import Message

from flufl.bounce import all_failures
from msgspec import Struct

from digest.addresses import key_or_none
from digest.models import FeedbackKind

# flufl.bounce logs a detector's exception with its traceback before raising it; digest reports
# what it makes of each message itself, in one line.
logging.getLogger("flufl.bounce").addHandler(logging.NullHandler())
logging.getLogger("flufl.bounce").propagate = False


class Verdict(Struct, frozen=True):
    kind: FeedbackKind | None  # None: not a failure or a complaint (an auto-reply, a delay warning…)
    addresses: tuple[str, ...] = ()  # address keys, sorted; none when the report names nobody
    detail: str = ""  # status codes, the feedback type, or why it is none


def _addresses(found: frozenset[bytes] | set[str]) -> tuple[str, ...]:
    out = set()
    for address in found:
        text = address.decode("utf-8", errors="replace") if isinstance(address, bytes) else address
        text = text.strip().strip("<>")
        if (key := key_or_none(text)) is not None:
            out.add(key)
    return tuple(sorted(out))


def _statuses(message: Message) -> list[tuple[str, bool]]:
    """The RFC 3463 codes of a delivery status report's recipients, each with whether its
    action is `failed` (not `delayed`, `delivered`…)."""
    codes = []
    for part in message.walk():
        if part.get_content_type() == "message/delivery-status":
            for fields in part.get_payload() or []:
                if isinstance(fields, Message) and fields.get("Status"):
                    failed = str(fields.get("Action", "failed")).strip().lower() == "failed"
                    codes.append((str(fields["Status"]).strip().split()[0], failed))
    return codes


def _complainant(message: Message) -> tuple[str, ...]:
    """Who complained: the report's Original-Rcpt-To, else the To of the message it returns."""
    found: set[str] = set()
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/feedback-report":
            for fields in part.get_payload() or []:
                if isinstance(fields, Message) and fields.get("Original-Rcpt-To"):
                    found.add(str(fields["Original-Rcpt-To"]))
        elif kind in ("message/rfc822", "text/rfc822-headers") and not found:
            original = part.get_payload()
            inner = original[0] if isinstance(original, list) and original else None
            if inner is None and isinstance(original, str):
                inner = email.message_from_string(original, policy=policy.compat32)
            if isinstance(inner, Message) and inner.get("To"):
                found.update(a for _, a in email.utils.getaddresses([str(inner["To"])]))
    return _addresses(found)


def _feedback_type(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "message/feedback-report":
            for fields in part.get_payload() or []:
                if isinstance(fields, Message) and fields.get("Feedback-Type"):
                    return str(fields["Feedback-Type"]).strip()
    return "abuse"


def parse(raw: bytes) -> Message:
    """A message as the detectors read it (compat32: they predate the email package's new API)."""
    return email.message_from_bytes(raw, policy=policy.compat32)


def classify(message: Message) -> Verdict:
    report = message.get_content_type() == "multipart/report"
    if report and message.get_param("report-type") == "feedback-report":
        return Verdict(FeedbackKind.COMPLAINT, _complainant(message), _feedback_type(message))
    try:
        temporary, permanent = all_failures(message)
    except Exception:  # a detector that trips on odd mail: the report's own fields may still tell
        temporary = permanent = frozenset()
    addresses = _addresses(temporary | permanent)
    statuses = _statuses(message)
    codes = [code for code, _ in statuses]
    detail = " ".join(dict.fromkeys(codes))
    failed = any(failed for _, failed in statuses)
    if not (temporary or permanent) and not failed:
        # Bounces are auto-submitted too (RFC 3834): only without a failure is it an auto-reply.
        auto = str(message.get("Auto-Submitted", "")).lower().startswith("auto-replied")
        return Verdict(None, detail="an auto-reply" if auto else "no failed address found")
    # A report naming nobody is still a bounce: VERP can tell whose copy it was.
    if codes and all(code.startswith("4") for code in codes):
        return Verdict(FeedbackKind.SOFT_BOUNCE, addresses, detail)
    if permanent or not addresses:
        return Verdict(FeedbackKind.HARD_BOUNCE, addresses, detail or "permanent")
    return Verdict(FeedbackKind.SOFT_BOUNCE, addresses, detail or "temporary")
