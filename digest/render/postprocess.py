"""What happens to the email after MJML, in order: one list of small steps, each with its tests.

HTML: inline the CSS (premailer) → restore the doctype premailer drops → put the editor's
merge tags back → fill the markers. Text: put the merge tags back → fill the markers.
Everything before the markers is the personal part `digest send` fills for each subscriber;
the markers filled for nobody in particular give the generic files.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from digest import defer_import
from digest.render.markers import Fill, fill_html, fill_text
from digest.render.mergetags import Protected

Step = Callable[[str], str]

_DOCTYPE = re.compile(r"^\s*<!doctype[^>]*>\s*", re.IGNORECASE)


def inline_css(html: str) -> str:
    """Copy CSS rules onto the elements' `style` attributes, for clients that ignore `<style>`.

    - allow_network=False: never fetch a `<link>` stylesheet (rendering stays offline);
    - keep_style_tags: `@media` rules (mobile, dark mode) only work from `<style>`;
    - disable_basic_attributes width/height: premailer would otherwise rewrite MRML's
      `width="550"` on images to `width="100%"`, which Outlook renders at full size;
    - strip_important=False: `!important` is what lets `@media` rules win over inline styles;
    - disable_validation, and no cssutils profiles: cssutils checks every value against its CSS
      profiles only to log what it finds (invalid values are kept all the same), compiling some
      hundred regular expressions on the way: two thirds of a cold build's inlining, for log lines
      nobody reads. premailer passes disable_validation to its stylesheet parser but not to its
      style merging, so the profiles themselves are removed; the output is the same bytes.
    """
    import cssutils

    defer_import("requests")  # premailer's, for remote stylesheets, which allow_network=False forbids
    from premailer import Premailer  # lxml and cssutils with it: only when an email is rendered

    if cssutils.profile.knownNames:
        cssutils.profile.removeProfile(all=True)

    return str(
        Premailer(
            html,
            allow_network=False,
            keep_style_tags=True,
            strip_important=False,
            remove_classes=False,
            disable_basic_attributes=["width", "height"],
            cssutils_logging_level=logging.CRITICAL,
            disable_validation=True,
        ).transform(pretty_print=False)
    )


def ensure_doctype(html: str) -> str:
    """Exactly one `<!doctype html>`, first: without it clients render in quirks mode."""
    return "<!doctype html>\n" + _DOCTYPE.sub("", html, count=1)


@dataclass(frozen=True, slots=True)
class Finished:
    """A part after its steps: with markers (`personal`), and filled for nobody (`generic`)."""

    personal: str
    generic: str


def run(document: str, steps: Sequence[Step]) -> str:
    for step in steps:
        document = step(document)
    return document


def html_steps(protected: Protected) -> tuple[Step, ...]:
    """The HTML's steps up to the markers. Order matters: the doctype after premailer, which
    drops it; the merge tags after premailer, which (through lxml) percent-encodes links."""
    return (inline_css, ensure_doctype, protected.restore_html)


def text_steps(protected: Protected) -> tuple[Step, ...]:
    return (protected.restore_text,)


def finish_html(html: str, protected: Protected, nobody: Fill) -> Finished:
    personal = run(html, html_steps(protected))
    return Finished(personal, fill_html(personal, nobody))


def finish_text(text: str, protected: Protected, nobody: Fill) -> Finished:
    personal = run(text, text_steps(protected))
    return Finished(personal, fill_text(personal, nobody))
