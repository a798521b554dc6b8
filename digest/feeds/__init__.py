"""The feeds stage: every source read (files and URLs; RSS, Atom, JSON Feed, OPML), each failure
kept to its own source, and the entries normalized into `Item`s.

load (concurrent, bounded, cached) → fetch (bytes) → parse (format sniffing; jsonfeed, opml)
→ normalize (plain text, safe URLs, images, dates; duplicates across feeds merged).
"""

from digest.feeds.load import Loaded, Source, load_sources, read_feed
from digest.feeds.normalize import merge_duplicates
from digest.net import Limits

__all__ = ["Limits", "Loaded", "Source", "load_sources", "merge_duplicates", "read_feed"]
