"""Will the issue land in the inbox? The DNS records a sender publishes (`records`), and
`digest check --deliverability`'s three tiers: the message itself (`message`), the domain's
DNS (`domain`) and a copy as a real receiver filed it (`receiver`). Each finding is one line."""
