"""The newsletter's language: every word the templates write from a catalog, each catalog complete,
dates in the language, a newsletter's own labels over them, an Arabic issue that reads right to
left on a phone, and `digest init --language`."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from msgspec.structs import replace
from playwright.sync_api import sync_playwright

from digest.config import Config, load_config
from digest.errors import ConfigError

from .conftest import REPO, Cli, compose
from .test_golden import in_language
from .tools.browser import CHROMIUM, FLAGS

LOCALE = REPO / "templates" / "locale"
LANGUAGES = ("en", "fr", "de", "es", "ru", "ar")
PLACEHOLDER = re.compile(r"%\(\w+\)s")


def in_templates() -> set[str]:
    """Every message the templates use, extracted afresh (as `make catalogs` does)."""
    found = extract_from_dir(
        str(REPO / "templates"),
        method_map=[("**.j2", "jinja2")],
        options_map={"**.j2": {"extensions": "jinja2.ext.i18n"}},
    )
    return {str(message) for _, _, message, _, _ in found}


def test_the_catalog_template_is_what_the_templates_use() -> None:
    with (LOCALE / "digest.pot").open("rb") as pot:
        listed = {str(m.id) for m in read_po(pot) if m.id}
    assert listed == in_templates(), "run `make catalogs` and translate what is new"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_catalog_is_complete(language: str) -> None:
    with (LOCALE / language / "LC_MESSAGES" / "digest.po").open("rb") as po:
        catalog = read_po(po, locale=language)
    translated = {str(m.id): m for m in catalog if m.id}
    for message in sorted(in_templates()):
        entry = translated.get(message)
        assert entry is not None, f"{language}: {message!r} is missing"
        assert entry.string, f"{language}: {message!r} is not translated"
        assert not entry.fuzzy, f"{language}: {message!r} is fuzzy"
        assert set(PLACEHOLDER.findall(str(entry.string))) == set(PLACEHOLDER.findall(message)), entry.string


def with_labels(config: Config, labels: dict[str, str]) -> Config:
    return replace(config, labels=labels)


def test_a_label_override_shows_in_both_parts(sample_config: Config) -> None:
    built = compose(with_labels(in_language(sample_config, "fr"), {"Editor's choice": "Nos coups de cœur"}))
    html, text = built.files["index.html"].decode(), built.files["digest.txt"].decode()
    assert "Nos coups de cœur" in html and "NOS COUPS DE CŒUR" in text
    assert "Le choix de la rédaction" not in html  # the override wins over the catalog
    assert "Les plus lus" in html  # the rest is still the catalog's


def test_an_unknown_label_is_a_config_error_with_the_nearest(sample_config: Config) -> None:
    with pytest.raises(ConfigError) as caught:
        compose(with_labels(sample_config, {"Editors choice": "Our picks"}))
    assert "labels: no label 'Editors choice' in the templates; did you mean \"Editor's choice\"?" in str(
        caught.value
    )


def test_a_compiled_catalog_is_kept_and_an_edited_one_compiled_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache is keyed by the catalog's bytes: an edit shows at once, an unchanged catalog is
    not compiled again (Babel is not even loaded)."""
    import gettext
    import io
    import sys

    from digest.render.labels import _compiled

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    po = tmp_path / "digest.po"
    entry = 'msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\nmsgid "Popular"\nmsgstr "{}"\n'
    po.write_text(entry.format("Les plus lus"), encoding="utf-8")

    def popular() -> str:
        return gettext.GNUTranslations(io.BytesIO(_compiled(po, "fr"))).gettext("Popular")

    assert popular() == "Les plus lus"
    assert len(list((tmp_path / "cache" / "digest" / "catalogs").glob("fr-*.mo"))) == 1
    monkeypatch.setitem(sys.modules, "babel.messages.pofile", None)  # importing it now fails
    assert popular() == "Les plus lus"  # from the cache
    monkeypatch.delitem(sys.modules, "babel.messages.pofile")
    po.write_text(entry.format("Populaires"), encoding="utf-8")
    assert popular() == "Populaires"


@pytest.mark.parametrize("language", ["fr", "ar", "en-GB"])
def test_a_languages_cldr_data_is_kept_and_a_damaged_copy_made_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, language: str
) -> None:
    """Dates and numbers read from the kept locale are Babel's own; Babel's data files are not
    read again; a damaged copy is replaced."""
    import datetime as dt

    import babel.localedata
    from babel.dates import format_date
    from babel.numbers import format_decimal

    from digest.render import labels

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    date, name = dt.date(2025, 11, 24), labels.locale_of(language)
    expected = (format_date(date, format="long", locale=name), format_decimal(1234, locale=name))

    def formatted() -> tuple[str, str]:
        labels._locale.cache_clear()  # as a new process
        return labels.date_label(date, language), labels.number_label(1234, language)

    assert formatted() == expected
    [kept] = (tmp_path / "cache" / "digest" / "locales").glob(f"{name}-babel-*.pickle")
    monkeypatch.setattr(babel.localedata, "_cache", {})
    monkeypatch.setattr(babel.localedata, "load", None)  # reading Babel's own data now fails
    assert formatted() == expected
    monkeypatch.undo()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    kept.write_bytes(kept.read_bytes()[:1000])
    assert formatted() == expected
    assert kept.stat().st_size > 1000  # made again
    labels._locale.cache_clear()


def test_labels_come_from_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "digest.toml"
    config.write_text('[labels]\n"Editor\'s choice" = "Our picks"\n')
    assert load_config(config).labels == {"Editor's choice": "Our picks"}


@pytest.mark.parametrize(("language", "direction"), [("fr", "ltr"), ("ar", "rtl")])
def test_init_starts_a_newsletter_in_a_language(cli: Cli, language: str, direction: str) -> None:
    assert cli("init", "news", "--language", language).exit_code == 0
    config = load_config(cli.cwd / "news" / "digest.toml")
    assert (config.newsletter.language, config.newsletter.direction) == (language, direction)
    assert cli("init", "other", "--language", "not a tag").exit_code == 2


@pytest.mark.slow  # a real Chromium
def test_the_arabic_issue_reads_right_to_left_on_a_phone(sample_config: Config, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: `make test` installs it")
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    page_file = tmp_path / "index.html"
    page_file.write_bytes(compose(in_language(sample_config, "ar")).files["index.html"])
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            context = browser.new_context(viewport={"width": 375, "height": 800})
            context.route("https://**/*", lambda route: route.abort())  # no image leaves the machine
            page = context.new_page()
            page.goto(page_file.as_uri())
            sideways = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert sideways <= 0, f"{sideways} px of sideways scroll at 375 px"
            heading = page.get_by_text("اختيارات المحرر")
            assert heading.evaluate("e => getComputedStyle(e).direction") == "rtl"
            summary = page.locator("p").first
            assert summary.evaluate("e => getComputedStyle(e).textAlign") in ("right", "start")
            assert summary.evaluate("e => getComputedStyle(e).direction") == "rtl"
            page.screenshot(path=str(tmp_path / "ar-375.png"), full_page=True)
            assert (tmp_path / "ar-375.png").stat().st_size > 10_000
        finally:
            browser.close()
