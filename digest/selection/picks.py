"""The editor's picks file: a pinned lead and an ordered editor's choice, in TOML or YAML.

    lead = "https://example.org/news/the-story"        # URL or guid
    editors_choice = ["https://example.org/a", "guid-42"]

Pins from the command line (`--lead`, `--pick`) and from `digest.toml` join these.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from msgspec import Struct

from digest.errors import InputError, parsing
from digest.files import decode_input, read_input_bytes

_KEYS = {"lead", "editors_choice"}


class Picks(Struct, frozen=True):
    lead: str | None = None
    editors_choice: tuple[str, ...] = ()

    @property
    def pinned(self) -> tuple[str, ...]:
        return ((self.lead,) if self.lead else ()) + self.editors_choice


NO_PICKS = Picks()


def _parse(text: str, path: Path, label: str) -> Any:
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml  # only for a YAML picks file

        try:
            return yaml.safe_load(text) or {}
        except yaml.YAMLError as error:
            raise InputError(f"invalid YAML: {' '.join(str(error).split())}", path=label) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InputError(f"invalid TOML: {error}", path=label) from None


def load_picks(path: Path, label: str) -> Picks:
    return picks_from(read_input_bytes(path, label, "picks file"), path, label)


def picks_from(raw: bytes, path: Path, label: str) -> Picks:
    """The picks in a picks file's bytes (`path` says TOML or YAML)."""
    with parsing(label, "picks file"):
        data = _parse(decode_input(raw, label, "picks file"), path, label)
    if not isinstance(data, dict):
        raise InputError("expected 'lead' and 'editors_choice' keys", path=label)
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise InputError(f"unknown key '{unknown[0]}' (known: lead, editors_choice)", path=label)
    lead = data.get("lead")
    if lead is not None and not (isinstance(lead, str) and lead.strip()):
        raise InputError("lead: expected a URL or guid", path=label)
    choice = data.get("editors_choice", [])
    if not isinstance(choice, list) or not all(isinstance(c, str) and c.strip() for c in choice):
        raise InputError("editors_choice: expected a list of URLs or guids", path=label)
    return Picks(lead.strip() if lead else None, tuple(dict.fromkeys(c.strip() for c in choice)))


def combine(file: Picks, *, lead: str | None, editors_choice: list[str]) -> Picks:
    """The config's and the command line's pins over the file's: a lead replaces, picks add."""
    picks = tuple(dict.fromkeys((*file.editors_choice, *editors_choice)))
    return Picks(lead or file.lead, picks)
