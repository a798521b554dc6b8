"""What happens to the email after MJML, in order: one list of small steps, each with its tests.

HTML: inline the template's inline styles (premailer) → restore the doctype premailer drops →
put the editor's merge tags back → fill the markers. Text: put the merge tags back → fill the
markers. Everything before the markers is the personal part `digest send` fills for each
subscriber; the markers filled for nobody in particular give the generic files.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from msgspec import Struct

from digest._lazy import defer_import
from digest.render.markers import Fill, fill_html, fill_text
from digest.render.mergetags import Protected

Step = Callable[[str], str]

_DOCTYPE = re.compile(r"^\s*<!doctype[^>]*>\s*", re.IGNORECASE)
_MJ_STYLE = re.compile(r"<mj-style\b([^>]*)>(.*?)</mj-style\s*>", re.DOTALL | re.IGNORECASE)
_INLINE_ATTRIBUTE = re.compile(r"""\binline\s*=\s*["']inline["']""", re.IGNORECASE)
_COMMENT = re.compile(r"(<!--.*?-->)", re.DOTALL)
_STYLE_TAG = re.compile(r"<style(?=[\s>])", re.IGNORECASE)
_IGNORED = '<style data-premailer="ignore"'  # premailer's mark for a style it must not touch


def take_inline_styles(mjml: str) -> tuple[str, str]:
    """MJML's `<mj-style inline="inline">` blocks out of the source, and their CSS.

    MRML writes every mj-style into `<head>`, inline or not; the mjml CLI inlines these and
    leaves the rest in `<head>`. So they are taken out before MRML and given to premailer alone.
    One inside a comment is left there, as MJML leaves it.
    """
    css: list[str] = []

    def take(block: re.Match[str]) -> str:
        if not _INLINE_ATTRIBUTE.search(block[1]):
            return block[0]
        css.append(block[2].strip())
        return ""

    return _outside_comments(mjml, lambda part: _MJ_STYLE.sub(take, part)), "\n".join(css)


def _outside_comments(document: str, change: Callable[[str], str]) -> str:
    parts = _COMMENT.split(document)
    parts[::2] = [change(part) for part in parts[::2]]
    return "".join(parts)


def _leave_alone(html: str) -> str:
    """Every `<style>` element marked for premailer to skip: MRML's resets and the template's
    `<head>` styles stay where they are, untouched. Conditional comments (Outlook's) are not
    elements to premailer and stay as written."""
    return _outside_comments(html, lambda part: _STYLE_TAG.sub(_IGNORED, part))


def inline_css(html: str, css: str) -> str:
    """Copy `css` (the template's inline styles) onto the elements' `style` attributes, for
    clients that ignore `<style>`. No inline styles, no premailer.

    - only `css` is inlined, as the mjml CLI does: MRML's resets (`table, td {...}`, `p {...}`)
      onto every cell made the email 18 % larger and the inlining a fifth slower, for clients
      that read them from `<head>` anyway; rules that cannot be inlined (`@media`, `:hover`)
      go into `<head>`;
    - allow_network=False: never fetch a `<link>` stylesheet (rendering stays offline);
    - disable_basic_attributes width/height: premailer would otherwise rewrite MRML's
      `width="550"` on images to `width="100%"`, which Outlook renders at full size;
    - strip_important=False: `!important` is what lets `@media` rules win over inline styles;
    - disable_validation, and no cssutils profiles: cssutils checks every value against its CSS
      profiles only to log what it finds (invalid values are kept all the same), compiling some
      hundred regular expressions on the way: two thirds of a cold build's inlining, for log lines
      nobody reads. premailer passes disable_validation to its stylesheet parser but not to its
      style merging, so the profiles are taken away for the inlining (and only for it: other code
      in the process finds them as cssutils made them); the output is the same bytes.
    """
    if not css.strip():
        return html
    import cssutils

    defer_import("requests")  # premailer's, for remote stylesheets, which allow_network=False forbids
    from premailer import Premailer  # lxml and cssutils with it: only when an email is rendered

    with _without_css_profiles(cssutils):
        inlined = _premailer(Premailer, html, css)
    return inlined.replace(_IGNORED, "<style")  # where premailer did not take the mark off itself


def _premailer(premailer: Any, html: str, css: str) -> str:
    return str(
        premailer(
            _leave_alone(html),
            css_text=css,
            allow_network=False,
            keep_style_tags=False,
            strip_important=False,
            remove_classes=False,
            disable_basic_attributes=["width", "height"],
            cssutils_logging_level=logging.CRITICAL,
            disable_validation=True,
        ).transform(pretty_print=False)
    )


class _ProfilesOnDemand:
    """What `cssutils.profile` is outside digest's inlining, once digest has taken the one cssutils
    made: a full `Profiles`, made when some other code first asks for it (4 ms, paid by them)."""

    def __init__(self, cssutils: Any) -> None:
        self._cssutils = cssutils

    def __getattr__(self, name: str) -> Any:
        from cssutils.profiles import Profiles

        real = Profiles(log=self._cssutils.log)
        self._cssutils.profile = real
        return getattr(real, name)


_EMPTY_PROFILES: list[Any] = []  # the Profiles digest emptied, once a process


@contextmanager
def _without_css_profiles(cssutils: Any) -> Iterator[None]:
    """cssutils without its CSS profiles for the block (see `inline_css`), and as it was after it:
    other code in the process validates against the profiles it always had."""
    if not _EMPTY_PROFILES:
        taken = cssutils.profile
        taken.removeProfile(all=True)
        _EMPTY_PROFILES.append(taken)
        cssutils.profile = _ProfilesOnDemand(cssutils)
    outside, cssutils.profile = cssutils.profile, _EMPTY_PROFILES[0]
    try:
        yield
    finally:
        cssutils.profile = outside


def ensure_doctype(html: str) -> str:
    """Exactly one `<!doctype html>`, first: without it clients render in quirks mode."""
    return "<!doctype html>\n" + _DOCTYPE.sub("", html, count=1)


class Finished(Struct, frozen=True):
    """A part after its steps: with markers (`personal`), and filled for nobody (`generic`)."""

    personal: str
    generic: str


def run(document: str, steps: Sequence[Step]) -> str:
    for step in steps:
        document = step(document)
    return document


def html_steps(protected: Protected, css: str) -> tuple[Step, ...]:
    """The HTML's steps up to the markers. Order matters: the doctype after premailer, which
    drops it; the merge tags after premailer, which (through lxml) percent-encodes links."""

    def inline(html: str) -> str:
        return inline_css(html, css)

    return (inline, ensure_doctype, protected.restore_html)


def text_steps(protected: Protected) -> tuple[Step, ...]:
    return (protected.restore_text,)


def finish_html(html: str, css: str, protected: Protected, nobody: Fill) -> Finished:
    """`css`: the template's inline styles (take_inline_styles)."""
    personal = run(html, html_steps(protected, css))
    return Finished(personal, fill_html(personal, nobody))


def finish_text(text: str, protected: Protected, nobody: Fill) -> Finished:
    personal = run(text, text_steps(protected))
    return Finished(personal, fill_text(personal, nobody))
