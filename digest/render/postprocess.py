"""The postprocess stage: an ordered list of small transforms on the email HTML.

Each transform is a pure `str -> str` function with its own tests; the order
matters (the doctype is restored after premailer, which drops it).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence

from premailer import Premailer

Transform = Callable[[str], str]

_DOCTYPE = re.compile(r"^\s*<!doctype[^>]*>\s*", re.IGNORECASE)


def inline_css(html: str) -> str:
    """Copy CSS rules onto the elements' `style` attributes, for clients that ignore `<style>`.

    - allow_network=False: never fetch a `<link>` stylesheet (rendering stays offline);
    - keep_style_tags: `@media` rules (mobile, dark mode) only work from `<style>`;
    - disable_basic_attributes width/height: premailer would otherwise rewrite MRML's
      `width="550"` on images to `width="100%"`, which Outlook renders at full size;
    - strip_important=False: `!important` is what lets `@media` rules win over inline styles.
    """
    return str(
        Premailer(
            html,
            allow_network=False,
            keep_style_tags=True,
            strip_important=False,
            remove_classes=False,
            disable_basic_attributes=["width", "height"],
            cssutils_logging_level=logging.CRITICAL,
        ).transform(pretty_print=False)
    )


def ensure_doctype(html: str) -> str:
    """Exactly one `<!doctype html>`, first: without it clients render in quirks mode."""
    return "<!doctype html>\n" + _DOCTYPE.sub("", html, count=1)


TRANSFORMS: Sequence[Transform] = (inline_css, ensure_doctype)


def postprocess(html: str, transforms: Sequence[Transform] = TRANSFORMS) -> str:
    for transform in transforms:
        html = transform(html)
    return html
