"""The render stage: the selection as an email (Jinja2 → MJML → HTML, CSS inlined) and its
plain-text part, `message.eml`, and the manifest that says what was picked and why.

issue (the parts) uses templates (the Jinja environment), context (what templates see), labels
(the words, in the newsletter's language), postprocess (the ordered steps after MJML), markers
and mergetags (what is filled in later or kept as written), plaintext (text filters); message
and manifest are the issue's other files.

The names load their modules when first used: reading a manifest back (`digest send`) needs
no template engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from digest._lazy import lazy_exports

if TYPE_CHECKING:
    from digest.render.issue import render_issue
    from digest.render.labels import direction_of, labels_for
    from digest.render.manifest import ManifestSummary, build_manifest, manifest_json, read_manifest
    from digest.render.message import build_message
    from digest.render.templates import environment

__all__ = [
    "ManifestSummary",
    "build_manifest",
    "build_message",
    "direction_of",
    "environment",
    "labels_for",
    "manifest_json",
    "read_manifest",
    "render_issue",
]

__getattr__ = lazy_exports(
    __name__,
    {
        "render_issue": "digest.render.issue",
        "labels_for": "digest.render.labels",
        "direction_of": "digest.render.labels",
        "ManifestSummary": "digest.render.manifest",
        "build_manifest": "digest.render.manifest",
        "manifest_json": "digest.render.manifest",
        "read_manifest": "digest.render.manifest",
        "build_message": "digest.render.message",
        "environment": "digest.render.templates",
    },
)
