"""Merge tags: the editor's pass through untouched, a feed's can never come into being.

An ESP replaces merge tags (`*|UNSUB|*`, `{{ unsubscribe_url }}`, `%%view_email_url%%`) in the
message it sends. Those the editor configured must survive MJML and premailer byte for byte;
premailer (through lxml) percent-encodes spaces in links, so they travel as placeholder URLs
and are put back after the last HTML transform. Text from feeds is the opposite case: a
headline such as "{{ 7 * 7 }}" or "*|UNSUB|*" must reach the reader as text, so the opening
of every merge-tag or template syntax gets a zero-width joiner that no engine reads through.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from msgspec import Struct, field

_OPENINGS = re.compile(r"(\{\{|\{%|\{#|\*\||%%|\[\[)")
_JOINER = "\u2060"  # WORD JOINER: invisible, and it keeps the two characters apart
PLACEHOLDER = "https://merge-tag.invalid/{}"


def neutralize(text: str) -> str:
    """Text that reads the same but opens no merge tag or template expression."""
    return _OPENINGS.sub(lambda m: m.group(1)[0] + _JOINER + m.group(1)[1:], text)


class Protected(Struct):
    """The editor's link values, each replaced by a placeholder URL until the HTML is final."""

    originals: list[str] = field(default_factory=list)

    def placeholder(self, value: str) -> str:
        self.originals.append(value)
        return PLACEHOLDER.format(len(self.originals) - 1)

    def restore_html(self, document: str) -> str:
        return self._restore(document, lambda v: html.escape(v, quote=True))

    def restore_text(self, document: str) -> str:
        return self._restore(document, lambda v: v)

    def _restore(self, document: str, encode: Callable[[str], str]) -> str:
        for number in reversed(range(len(self.originals))):  # /10 before /1
            document = document.replace(PLACEHOLDER.format(number), encode(self.originals[number]))
        return document
