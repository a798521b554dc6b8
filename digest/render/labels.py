"""The words the templates write, in the newsletter's language.

Every label in the templates is a gettext message (Jinja's i18n extension: `{{ _("Popular") }}`).
Catalogs live beside the templates (`templates/locale/<language>/LC_MESSAGES/digest.po`,
extracted and updated with Babel: `make catalogs`) and are read with Babel. A newsletter's
`[labels]` table overrides any message ("Editor's choice" = "Our picks"). Dates and numbers are
formatted for the language by Babel (CLDR). A language without a catalog gets English labels.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import gettext
import hashlib
import io
import pickle
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from digest.config import Config
from digest.errors import ConfigError, OutputError
from digest.files import cache_dir
from digest.resources import templates_dir

if TYPE_CHECKING:
    from babel import Locale

DOMAIN = "digest"
# What reading a damaged or foreign pickle raises.
_DAMAGED = (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError)


def catalog_dir() -> Path:
    return templates_dir() / "locale"


def shipped_languages() -> list[str]:
    """The languages whose words ship with digest: English and every catalog."""
    return sorted({"en"} | {d.name for d in catalog_dir().iterdir() if (d / "LC_MESSAGES").is_dir()})


def _primary(language: str) -> str:
    return language.replace("-", "_").split("_")[0].lower()


@cache
def _catalog(language: str) -> gettext.NullTranslations:
    """The compiled catalog for `language` (its primary subtag: fr-CA reads fr), else none."""
    path = catalog_dir() / _primary(language) / "LC_MESSAGES" / f"{DOMAIN}.po"
    if _primary(language) == "en" or not path.is_file():  # English is the messages themselves
        return gettext.NullTranslations()
    return gettext.GNUTranslations(io.BytesIO(_compiled(path, _primary(language))))


def _compiled(po: Path, language: str) -> bytes:
    """The catalog compiled (.mo), kept in the cache by the .po's hash: Babel's reading and
    compiling of a .po took a French build some 40 ms, every build, for the same bytes."""
    source = po.read_bytes()
    folder = cache_dir("catalogs")
    cached = folder / f"{language}-{hashlib.sha256(source).hexdigest()[:32]}.mo" if folder else None
    if cached and cached.is_file():
        return cached.read_bytes()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    compiled = io.BytesIO()
    write_mo(compiled, read_po(io.BytesIO(source), locale=language), use_fuzzy=False)
    if cached:
        _keep(cached, compiled.getvalue())
    return compiled.getvalue()


def _keep(cached: Path, data: bytes) -> None:
    """`data` into the cache file: a cache that cannot be written is no cache."""
    from digest.files import write_file

    with contextlib.suppress(OutputError):
        write_file(cached, data)


class Labels(gettext.NullTranslations):
    """The catalog of `language`, with the newsletter's own `[labels]` over it."""

    def __init__(self, language: str, overrides: Mapping[str, str]) -> None:
        super().__init__()
        self._catalog = _catalog(language)
        self._overrides = dict(overrides)

    def gettext(self, message: str) -> str:
        if message in self._overrides:
            return self._overrides[message]
        return self._catalog.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        key = singular if n == 1 else plural
        if key in self._overrides:
            return self._overrides[key]
        return self._catalog.ngettext(singular, plural, n)


def known_messages() -> list[str]:
    """The messages the packaged templates use: the catalog template's ids."""
    from babel.messages.pofile import read_po

    with (catalog_dir() / f"{DOMAIN}.pot").open("rb") as pot:
        return [str(m.id) for m in read_po(pot) if m.id]


def check_overrides(overrides: Mapping[str, str], where: str) -> None:
    """A `[labels]` key must be a message the templates use; the nearest one is suggested."""
    if not overrides:
        return
    known = known_messages()
    for key in overrides:
        if key not in known:
            near = difflib.get_close_matches(key, known, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise ConfigError(f"labels: no label {key!r} in the templates{hint}", path=where)


def locale_of(language: str) -> str:
    """A Babel locale for the config's language tag ("pt-BR" → "pt_BR"; unknown → "en")."""
    from babel import Locale, UnknownLocaleError

    try:
        return str(Locale.parse(language.replace("-", "_")))
    except (UnknownLocaleError, ValueError):
        return "en"


@cache
def _locale(language: str) -> Locale:
    """Babel's Locale for the language with its CLDR data loaded, kept in the cache.

    Babel reads the data of the locale and of each parent, and merges them, on first use (en-GB:
    en_001, en, root and the global table: ≈ 84 M instructions, a twentieth of a cold build); a
    Locale pickled with its data loaded is read in a third of that. Keyed by Babel's version; the
    cache folder is the user's own, as for the templates' compiled bytecode.
    """
    import babel

    name = locale_of(language)
    folder = cache_dir("locales")
    cached = folder / f"{name}-babel-{babel.__version__}.pickle" if folder else None
    if cached and cached.is_file():
        try:
            kept = pickle.loads(cached.read_bytes())
        except _DAMAGED:
            kept = None  # made again below
        if isinstance(kept, babel.Locale):
            return kept
    locale = babel.Locale.parse(name)
    # Babel loads the data when a property is first read: read one, so the pickle carries it.
    locale.date_formats  # noqa: B018
    if cached:
        _keep(cached, pickle.dumps(locale, protocol=pickle.HIGHEST_PROTOCOL))
    return locale


def date_label(date: dt.date, language: str) -> str:
    """The issue's date as the language writes it in full: "24 novembre 2025"."""
    from babel.dates import format_date

    return str(format_date(date, format="long", locale=_locale(language)))


def number_label(number: int, language: str) -> str:
    from babel.numbers import format_decimal

    return str(format_decimal(number, locale=_locale(language)))


# Languages written right to left: a newsletter (or a variant) in one runs its columns that way.
RTL = ("ar", "fa", "he", "ur", "ps", "yi")


def direction_of(language: str) -> Literal["ltr", "rtl"]:
    return "rtl" if language.split("-")[0].lower() in RTL else "ltr"


def labels_for(config: Config) -> Labels:
    """The newsletter's words: its language's catalog, its `[labels]` over it (checked)."""
    where = str(config.path) if config.path else "digest.toml"
    check_overrides(config.labels, where)
    return Labels(config.newsletter.language, config.labels)
