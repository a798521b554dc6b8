"""What carries a message: each module one `Transport` (see `digest.send.transport`)."""
