"""The feedback mailbox (a Maildir): bounces and complaints read, suppressions made, mail filed.

Each message is classified (feedback.classify). A hard bounce or a complaint suppresses its
addresses at once; a soft bounce is counted for its issue (found from the Message-ID digest gave
the copy, which the bounce quotes) and suppresses after `feedback.soft_bounce_limit` issues.
Every message handled moves to the Maildir's `.Processed` folder; anything else stays where it
was, unread. Reading the same mailbox twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
import mailbox
import re
from dataclasses import dataclass, field
from pathlib import Path

from digest.errors import ConfigError
from digest.feedback.classify import Kind, classify
from digest.models import Suppression, SuppressionReason, SuppressionSource
from digest.state import State

PROCESSED = "Processed"
_OUR_MESSAGE_ID = re.compile(rb"<digest\.(\d+)\.\d{4}-\d{2}-\d{2}\.")


@dataclass
class FeedbackReport:
    counts: dict[Kind, int] = field(default_factory=dict)
    suppressed: int = 0
    left: int = 0  # messages that are none of these, left where they were

    def summary(self) -> str:
        parts = [
            f"{self.counts.get(Kind.HARD_BOUNCE, 0)} hard bounces",
            f"{self.counts.get(Kind.SOFT_BOUNCE, 0)} soft bounces",
            f"{self.counts.get(Kind.COMPLAINT, 0)} complaints",
        ]
        return f"feedback: {', '.join(parts)}; {self.suppressed} suppressed; {self.left} other messages left"


def read_maildir(path: Path, state: State, *, now: dt.datetime, soft_limit: int) -> FeedbackReport:
    if not (path / "cur").is_dir() or not (path / "new").is_dir():
        raise ConfigError("not a Maildir (it needs cur/ and new/)", path=str(path))
    box = mailbox.Maildir(path, factory=None, create=False)
    processed = box.get_folder(PROCESSED) if PROCESSED in box.list_folders() else box.add_folder(PROCESSED)
    report = FeedbackReport()
    for key in list(box.iterkeys()):
        raw = box.get_bytes(key)
        verdict = classify(raw)
        if verdict.kind is Kind.NONE or not verdict.addresses:
            report.left += 1
            continue
        report.counts[verdict.kind] = report.counts.get(verdict.kind, 0) + 1
        entries = []
        for address in verdict.addresses:
            if verdict.kind is Kind.SOFT_BOUNCE:
                found = _OUR_MESSAGE_ID.search(raw)
                issue = int(found.group(1)) if found else state.latest_issue()
                if state.soft_bounce(address, issue, now, verdict.detail) < soft_limit:
                    continue
                reason = SuppressionReason.SOFT_BOUNCES
            else:
                reason = (
                    SuppressionReason.HARD_BOUNCE
                    if verdict.kind is Kind.HARD_BOUNCE
                    else SuppressionReason.COMPLAINT
                )
            entries.append(Suppression(address, reason, SuppressionSource.MAILBOX, now, verdict.detail))
        report.suppressed += state.suppress(entries)
        processed.add(raw)
        box.remove(key)
    return report
