"""The render stage: the selection as an email (Jinja2 → MJML → HTML, CSS inlined) and its
plain-text part, `message.eml`, and the manifest that says what was picked and why.

issue (the parts) uses templates (the Jinja environment), context (what templates see),
postprocess (the ordered steps after MJML), markers and mergetags (what is filled in later or
kept as written), plaintext (text filters); message and manifest are the issue's other files.
"""

from digest.render.issue import render_issue
from digest.render.manifest import ManifestSummary, build_manifest, manifest_json, read_manifest
from digest.render.message import build_message
from digest.render.templates import environment

__all__ = [
    "ManifestSummary",
    "build_manifest",
    "build_message",
    "environment",
    "manifest_json",
    "read_manifest",
    "render_issue",
]
