"""The send stage: a built issue to its subscribers over SMTP, resumably, never twice, under a lock.

commands (send, test copy, dry run) → delivery (the loop and its ledger) → smtp (one session);
personalize fills each subscriber's values; subscribers reads the list; secrets and lock guard it.
"""

from digest.models import Unconfirmed
from digest.send.commands import dry_run, send_all, send_test
from digest.send.delivery import Progress, SendReport
from digest.send.lock import sender_lock

__all__ = ["Progress", "SendReport", "Unconfirmed", "dry_run", "send_all", "send_test", "sender_lock"]
