"""The issue's manifest: what was picked, in which section, and why; every candidate explained.

A pure function of the issue, so the same inputs give byte-identical JSON
(no clock, no absolute paths: sources are named as the user named them).
This module alone knows manifest.json's keys: it writes them, and `read_manifest`
gives the other commands what they need of them as a typed value.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from msgspec import Struct
from msgspec.structs import asdict

from digest.config import WeightsConfig
from digest.models import Decision, Issue, Item, Pick, Score, SourceReport
from digest.resources import version

SCHEMA_VERSION = 1


def _item(item: Item) -> dict[str, Any]:
    return {
        "id": item.id,
        "url": item.url,
        "title": item.title,
        "published": item.published.isoformat() if item.published else None,
        "categories": list(item.categories),
        "comments": item.comments,
        "dated_by": item.dated_by.value,
        "sources": list(item.sources),
    }


def _score(value: Score) -> dict[str, Any]:
    return {
        "value": value.value,
        "pageviews": value.pageviews,
        "comments": value.comments,
        "decay": value.decay,
    }


def _pick(pick: Pick) -> dict[str, Any]:
    return {
        "rank": pick.rank,
        **_item(pick.item),
        "score": _score(pick.score),
        "reason": pick.reason,
    }


def _decision(decision: Decision) -> dict[str, Any]:
    return {
        "url": decision.item.url,
        "title": decision.item.title,
        "outcome": decision.outcome.value,
        "section": decision.section.value if decision.section else None,
        "score": _score(decision.score),
        "reason": decision.reason,
    }


def _source(report: SourceReport) -> dict[str, Any]:
    fields = {"source": report.source, "status": report.status.value, "items": report.items}
    optional = {
        "title": report.title,
        "error": report.error,
        "via": report.via,
        "skipped": report.skipped,
    }
    return {**fields, **{k: v for k, v in optional.items() if v}}


def build_manifest(
    issue: Issue,
    reports: Sequence[SourceReport],
    files: Mapping[str, bytes],
    warnings: tuple[str, ...] = (),
    weights: WeightsConfig | None = None,
    merge_tags: tuple[str, ...] = (),
    analytics: Mapping[str, int] | None = None,
    variants: Sequence[Mapping[str, object]] = (),
) -> dict[str, Any]:
    selection = issue.selection
    manifest = {
        "schema": SCHEMA_VERSION,
        "generator": f"digest {version()}",
        "issue": {
            "number": issue.number,
            "date": issue.date.isoformat(),
            "slug": issue.slug,
            "subject": issue.rendered.subject,
            "preheader": issue.rendered.preheader,
            "unsubscribe_url": issue.rendered.unsubscribe_url,
            "personal_unsubscribe_url": issue.rendered.personal_unsubscribe_url,
        },
        "window": {"start": issue.window.start.isoformat(), "end": issue.window.end.isoformat()},
        "weights": asdict(weights or WeightsConfig()),
        "sources": [_source(report) for report in reports],
        "analytics": dict(analytics) if analytics is not None else None,
        "sections": {
            "lead": [_pick(selection.lead)] if selection.lead else [],
            "editors_choice": [_pick(p) for p in selection.editors_choice],
            "popular": [_pick(p) for p in selection.popular],
        },
        "candidates": [_decision(d) for d in selection.decisions],
        "warnings": list(warnings),
        "merge_tags": list(merge_tags),
        "files": {
            name: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for name, data in sorted(files.items())
        },
    }
    if variants:  # each in its folder (variants/NAME/), with a manifest of its own
        manifest["variants"] = list(variants)
    return manifest


def manifest_json(manifest: Mapping[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


VARIANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9+.-]*")  # "analysis+opinion.fr.monthly"


class ManifestSummary(Struct, frozen=True):
    """What the commands that read an issue back (`send`, `check`) need of its manifest."""

    slug: str
    subject: str
    unsubscribe_url: str | None
    personal_unsubscribe_url: str | None  # with {email} and {token} still to fill
    merge_tags: tuple[str, ...]
    # The issue's variants by name: None for one built (in variants/NAME/), else why it was skipped.
    variants: dict[str, str | None] = {}


def read_manifest(data: bytes) -> ManifestSummary:
    """The summary of a manifest.json; a broken or foreign one is a `ValueError`."""
    try:
        manifest = json.loads(data.decode("utf-8"))
        issue = manifest["issue"]
        return ManifestSummary(
            slug=issue["slug"],
            subject=issue["subject"],
            unsubscribe_url=issue.get("unsubscribe_url"),
            personal_unsubscribe_url=issue.get("personal_unsubscribe_url"),
            merge_tags=tuple(manifest.get("merge_tags", ())),
            variants={
                str(v["name"]): v.get("skipped")
                for v in manifest.get("variants", ())
                if VARIANT_NAME.fullmatch(str(v["name"])) and ".." not in str(v["name"])  # a folder name
            },
        )
    except (KeyError, TypeError, AttributeError) as error:
        raise ValueError(
            f"manifest.json is not a digest manifest ({type(error).__name__}: {error})"
        ) from None
