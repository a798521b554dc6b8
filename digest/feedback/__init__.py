"""What comes back from readers: the suppression list, filled from other systems' exports and by
hand, and the subscriber list brought up to date for the list owner's own system.

commands (what `digest feedback` and `digest subscribers` do) uses lists (suppression files in,
the subscriber CSV out), mailbox (a Maildir, or imap's IMAP folder), process (what each message
does: classify tells bounces and complaints, tokens traces VERP bounces and mailed unsubscribes to
their subscriber), and endpoint is the one-click unsubscribe's web application.
"""

from digest.feedback.commands import export, import_file, read_feedback, suppress, suppressed, unsuppress

__all__ = ["export", "import_file", "read_feedback", "suppress", "suppressed", "unsuppress"]
