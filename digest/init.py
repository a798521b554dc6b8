"""`digest init`: a new newsletter folder that builds at once.

It holds a commented digest.toml, a picks file, an empty templates folder for overrides,
and a stand-in feed (the sample's stories, moved to the last days before `now`) with its
analytics export, so the first `digest build` makes an issue before any real feed is set.
"""

from __future__ import annotations

import datetime as dt
import re
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path

from msgspec import Struct

from digest.config import CONFIG_NAME, LANGUAGE_TAG, load_config
from digest.deliverability.records import records
from digest.errors import ConfigError
from digest.files import read_input_bytes, write_file
from digest.render.labels import direction_of
from digest.resources import sample_dir, starter_dir
from digest.send.dkim import MAX_KEY_BYTES, Key, new_key, parse_key, signing_domain

_DATE = re.compile(r"<(pubDate|lastBuildDate)>([^<]+)</\1>")


def moved_feed(feed: str, now: dt.datetime) -> str:
    """The feed with its dates moved so that the newest story is six hours before `now`."""
    dates = [parsedate_to_datetime(m.group(2)) for m in _DATE.finditer(feed)]
    shift = (now - dt.timedelta(hours=6)) - max(dates)
    return _DATE.sub(
        lambda m: (
            f"<{m.group(1)}>{format_datetime(parsedate_to_datetime(m.group(2)) + shift)}</{m.group(1)}>"
        ),
        feed,
    )


DKIM_KEY = "dkim.pem"  # where `init --dkim` puts a new key, beside digest.toml


def starter_config(language: str, dkim_selector: str | None = None) -> str:
    """The starter digest.toml for a newsletter in `language` (a BCP 47 tag, "fr", "pt-BR");
    with `dkim_selector`, its [dkim] section set to sign with the key `init --dkim` made."""
    text = (starter_dir() / CONFIG_NAME).read_text("utf-8")
    direction = direction_of(language)
    text = re.sub(r'^language = "en"', f'language = "{language}"', text, count=1, flags=re.MULTILINE)
    text = re.sub(r'^direction = "ltr"', f'direction = "{direction}"', text, count=1, flags=re.MULTILINE)
    if dkim_selector:
        text = re.sub(
            r'^# \[dkim\]\n# selector = "[^"]*"', f'[dkim]\nselector = "{dkim_selector}"', text, flags=re.M
        )
        text = re.sub(rf'^# key_file = "{DKIM_KEY}"', f'key_file = "{DKIM_KEY}"', text, flags=re.MULTILINE)
    return text


def init_newsletter(
    folder: Path, now: dt.datetime, language: str = "en", dkim_selector: str | None = None
) -> list[Path]:
    """Write the scaffold into `folder`; refuses to touch a folder that already has a digest.toml."""
    if not re.fullmatch(LANGUAGE_TAG, language):
        raise ConfigError(f"--language: not a language tag (fr, de, pt-BR): {language!r}")
    starter, sample = starter_dir(), sample_dir()
    files = {
        CONFIG_NAME: starter_config(language, dkim_selector).encode("utf-8"),
        "picks.toml": (starter / "picks.toml").read_bytes(),
        "templates/README.txt": (starter / "templates" / "README.txt").read_bytes(),
        "example-feed.xml": moved_feed((sample / "news.rss").read_text("utf-8"), now).encode("utf-8"),
        "analytics.csv": (sample / "analytics.csv").read_bytes(),
    }
    existing = next((name for name in files if (folder / name).exists()), None)
    if existing:
        raise ConfigError(
            "already exists; nothing was changed (init only fills a new folder)", path=str(folder / existing)
        )
    return [write_file(folder / name, data) for name, data in files.items()]


class DkimSetup(Struct, frozen=True):
    created: list[Path]  # the files `init --dkim` made
    key_file: Path
    add_to_config: list[str]  # lines digest.toml still needs to sign with the key (none: it has them)
    records: list[str]  # the DNS records to publish, as zone-file lines


def init_dkim(folder: Path, now: dt.datetime, language: str = "en") -> DkimSetup:
    """A DKIM key for the newsletter in `folder` (made with the folder when it has no digest.toml
    yet), and the DNS records that publish it. An existing key is kept and its records printed:
    a key already published must never be replaced by surprise."""
    selector = f"digest{now:%Y%m}"  # dated: the next key gets a new name, and both can be live
    created = []
    if not (folder / CONFIG_NAME).exists():
        created = init_newsletter(folder, now, language, dkim_selector=selector)
    config = load_config(folder / CONFIG_NAME)
    key_file = Path(config.resolve(config.dkim.key_file)) if config.dkim.key_file else folder / DKIM_KEY
    if key_file.exists():
        data = read_input_bytes(key_file, str(key_file), "DKIM key", MAX_KEY_BYTES)
    else:
        data = new_key()
        created.append(write_file(key_file, data, mode=0o600))
    key = Key(parse_key(data, str(key_file)), config.dkim.selector or selector, signing_domain(config))
    add = (
        []
        if config.dkim.selector
        else ["[dkim]", f'selector = "{selector}"', f'key_file = "{key_file.name}"']
    )
    return DkimSetup(created, key_file, add, records(config, [key]))
