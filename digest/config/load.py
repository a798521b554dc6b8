"""Where the config comes from and how it is put together: the nearest `digest.toml`, then
`DIGEST_*` environment variables, then flags (a flag left unset is None and overrides nothing)."""

import datetime as dt
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from msgspec.structs import replace

from digest.config.problems import validated
from digest.config.schema import MAX_CONFIG_BYTES, Config
from digest.errors import ConfigError, parsing
from digest.resources import sample_dir
from digest.urls import is_url

CONFIG_NAME = "digest.toml"


def _env_overrides(env: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """`DIGEST_SECTION__KEY=value` overrides one key; the value is read as TOML (`7`, `true`)."""
    result: dict[str, dict[str, Any]] = {}
    for name, text in env.items():
        if not name.startswith("DIGEST_") or "__" not in name:
            continue
        section, key = name.removeprefix("DIGEST_").lower().split("__", 1)
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except (tomllib.TOMLDecodeError, RecursionError):
            value = text  # a bare word is a string: DIGEST_NEWSLETTER__LANGUAGE=fr
        result.setdefault(section, {})[key] = value
    return result


def _merge(base: dict[str, Any], over: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    merged = dict(base)
    for section, values in over.items():
        current = merged.get(section, {})
        merged[section] = {**current, **values} if isinstance(current, dict) else values
    return merged


def find_config(
    explicit: Path | None, cwd: Path, *, feeds_given: bool = False, own: bool = False
) -> Path | None:
    """The config file to use: the flag's, else the nearest `digest.toml` in `cwd` or a folder
    above it (as git and ruff find theirs), else the bundled sample's.

    None means built-in defaults: feeds were given on the command line and there is no
    config, so the sample's own settings (its pinned date and lead) must not apply.
    `own`: the command acts on the user's behalf (sending mail), so the sample will not do.
    """
    if explicit is not None:
        return explicit
    for folder in (cwd, *cwd.parents):
        if (folder / CONFIG_NAME).is_file():
            return folder / CONFIG_NAME
    if own:
        raise ConfigError(
            f"no {CONFIG_NAME} here or in a folder above: sending needs your newsletter's own config"
            " (digest init makes one, or pass --config)"
        )
    return None if feeds_given else sample_dir() / CONFIG_NAME


def is_sample(path: Path | None) -> bool:
    return path is not None and path.resolve() == (sample_dir() / CONFIG_NAME).resolve()


def load_config(path: Path | None, *, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate a config file; every mistake is a `ConfigError` naming the file and key.

    With no file, the built-in defaults (and the environment) apply.
    """
    overrides = _env_overrides(env or {})
    if path is None:
        return validated(overrides, overrides, "environment")
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"larger than {MAX_CONFIG_BYTES:,} bytes: not a config", path=str(path))
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("config file not found", path=str(path)) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read config: {error}", path=str(path)) from None
    with parsing(str(path), "config", ConfigError):  # what tomllib's own error does not cover
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"invalid TOML: {error}", path=str(path)) from None
    return replace(validated(_merge(raw, overrides), overrides, str(path)), source=path.absolute())


def with_overrides(
    config: Config,
    *,
    feeds: list[str] | None = None,
    date: dt.date | None = None,
    out: Path | None = None,
    lead: str | None = None,
    picks: list[str] | None = None,
    templates: Path | None = None,
    analytics_period: tuple[dt.date, dt.date] | None = None,
) -> Config:
    """Flags given on the command line win over the file; a flag left as None changes nothing.

    Feed paths, `out` and `templates` from flags are relative to the current folder, so they are
    made absolute here, before they meet the config's own base folder.
    """
    sources = config.sources
    if feeds:
        absolute = [f if is_url(f) else str(Path(f).expanduser().absolute()) for f in feeds]
        sources = replace(sources, feeds=absolute)
    if analytics_period:
        sources = replace(sources, analytics_period=list(analytics_period))
    issue = replace(config.issue, date=date) if date else config.issue
    output = config.output
    if out is not None:
        output = replace(output, dir=str(out.expanduser().absolute()))
    if templates is not None:
        output = replace(output, templates=str(templates.expanduser().absolute()))
    selection = config.selection
    if lead or picks:
        update: dict[str, Any] = {"lead": lead} if lead else {}
        if picks:
            update["editors_choice_picks"] = [*selection.editors_choice_picks, *picks]
        selection = replace(selection, **update)
    return replace(config, sources=sources, issue=issue, output=output, selection=selection)
