"""Every mistake in a config at once, each in a few words naming its key: an unknown key with
the nearest valid one, and in each section the first value of the wrong type."""

import difflib
import re
from collections.abc import Mapping
from functools import cache
from typing import Any

import msgspec
from msgspec import Struct

from digest.config.schema import Config
from digest.errors import ConfigError

_NOT_KEYS = {"source"}  # Config's fields that no file or variable sets


@cache
def _fields(section: type[Struct]) -> dict[str, Any]:
    """The keys a section takes, and their types."""
    return {f.name: f.type for f in msgspec.structs.fields(section) if f.name not in _NOT_KEYS}


def _sections(section: type[Struct]) -> dict[str, type[Struct]]:
    """The keys of `section` that are sections themselves ([selection.weights])."""
    return {k: t for k, t in _fields(section).items() if isinstance(t, type) and issubclass(t, Struct)}


def _unknown(
    raw: Mapping[str, Any], section: type[Struct], at: tuple[str, ...] = ()
) -> list[tuple[str, ...]]:
    """Every key of `raw` that `section` (and the sections in it) does not know."""
    found = []
    known, inner = _fields(section), _sections(section)
    for key, value in raw.items():
        if key not in known:
            found.append((*at, key))
        elif key in inner and isinstance(value, Mapping):
            found += _unknown(value, inner[key], (*at, key))
    return found


def _known(raw: Mapping[str, Any], section: type[Struct]) -> dict[str, Any]:
    """`raw` without the keys `_unknown` finds, so that the values can be checked all the same."""
    known, inner = _fields(section), _sections(section)
    return {
        key: _known(value, inner[key]) if key in inner and isinstance(value, Mapping) else value
        for key, value in raw.items()
        if key in known
    }


_AT = re.compile(r" - at `\$\.?([^`]*)`$")


def _problems(
    raw: Mapping[str, Any], unknown: list[tuple[str, ...]], overrides: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """Every mistake in `raw`: each `unknown` key, with the nearest valid one, and in each section
    the first value of the wrong type (msgspec stops at the first mistake of what it converts)."""
    problems = []
    for loc in unknown:
        message = f"unknown key '{'.'.join(loc)}'"
        section: type[Struct] = Config
        for part in loc[:-1]:
            section = _sections(section)[part]
        near = difflib.get_close_matches(loc[-1], list(_fields(section)), n=1)
        problems.append(message + (f"; did you mean '{near[0]}'?" if near else ""))
    known = _known(raw, Config)
    for key, kind in _fields(Config).items():
        if key not in known:
            continue
        try:
            msgspec.convert(known[key], kind)
        except msgspec.ValidationError as error:
            text = str(error)
            found = _AT.search(text)
            where = ".".join(filter(None, (key, found[1] if found else "")))
            what = text[: found.start()] if found else text
            if not found and re.match(r"\w+: ", what):  # a section's own check names its key
                where, what = f"{key}.{what.split(': ', 1)[0]}", what.split(": ", 1)[1]
            message = f"{where}: {what.replace('`', '')}"
            name = where.split(".")[1] if "." in where else ""
            if name in overrides.get(key, {}):
                message += f" (from DIGEST_{key.upper()}__{name.upper()})"
            problems.append(message)
    return problems


def validated(raw: Mapping[str, Any], overrides: Mapping[str, Mapping[str, Any]], where: str) -> "Config":
    unknown = _unknown(raw, Config)
    try:
        if not unknown:
            return msgspec.convert(raw, Config)
    except msgspec.ValidationError:
        pass  # every mistake is found and named below
    problems = _problems(raw, unknown, overrides)
    message = problems[0] if len(problems) == 1 else f"{len(problems)} mistakes: " + " | ".join(problems)
    raise ConfigError(message, path=where)
