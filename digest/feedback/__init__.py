"""What comes back from readers: the suppression list, filled from other systems' exports and by
hand, and the subscriber list brought up to date for the list owner's own system.

commands (what `digest subscribers` does) uses lists (suppression files in, the subscriber CSV
out) and mailbox (the feedback Maildir, read with classify). IMAP, VERP and the one-click
endpoint come next.
"""

from digest.feedback.commands import export, import_file, read_feedback, suppress, suppressed, unsuppress

__all__ = ["export", "import_file", "read_feedback", "suppress", "suppressed", "unsuppress"]
