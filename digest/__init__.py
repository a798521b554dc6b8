"""digest: build a weekly newsletter digest from feeds.

The library is usable without the CLI: `digest.build.build_issue` runs the
whole pipeline, and each stage is a module of its own.
"""

__version__ = "0.1.0"
