"""The send stage: a built issue to its subscribers over SMTP, resumably, never twice, under a lock.

commands (send, test copy, dry run) → delivery (the plan and its ledger) → transport (one
`Transport`: transports/smtp.py, an SMTP session; transports/memory.py, messages kept in memory);
personalize fills each subscriber's values; subscribers reads the list; secrets and lock guard it.
"""

from digest.models import Unconfirmed
from digest.send.commands import dry_run, send_all, send_test
from digest.send.delivery import Progress, SendReport
from digest.send.lock import sender_lock

__all__ = ["Progress", "SendReport", "Unconfirmed", "dry_run", "send_all", "send_test", "sender_lock"]
