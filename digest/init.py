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

from digest.config import CONFIG_NAME, LANGUAGE_TAG
from digest.errors import ConfigError
from digest.files import write_file
from digest.resources import sample_dir, starter_dir

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


# Languages written right to left: their newsletters start with direction = "rtl".
RTL = ("ar", "fa", "he", "ur", "ps", "yi")


def starter_config(language: str) -> str:
    """The starter digest.toml for a newsletter in `language` (a BCP 47 tag, "fr", "pt-BR")."""
    text = (starter_dir() / CONFIG_NAME).read_text("utf-8")
    direction = "rtl" if language.split("-")[0].lower() in RTL else "ltr"
    text = re.sub(r'^language = "en"', f'language = "{language}"', text, count=1, flags=re.MULTILINE)
    return re.sub(r'^direction = "ltr"', f'direction = "{direction}"', text, count=1, flags=re.MULTILINE)


def init_newsletter(folder: Path, now: dt.datetime, language: str = "en") -> list[Path]:
    """Write the scaffold into `folder`; refuses to touch a folder that already has a digest.toml."""
    if not re.fullmatch(LANGUAGE_TAG, language):
        raise ConfigError(f"--language: not a language tag (fr, de, pt-BR): {language!r}")
    starter, sample = starter_dir(), sample_dir()
    files = {
        CONFIG_NAME: starter_config(language).encode("utf-8"),
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
