"""`digest check`: a built issue against the rules inboxes and readers hold it to.

Each rule is a small function over the parsed issue that yields `Violation`s with where
they are (file and line). Errors fail the check (exit 1); warnings are reported only.
"""

from __future__ import annotations

import email
import re
from collections.abc import Callable, Iterator
from email import policy
from email.message import EmailMessage
from enum import StrEnum
from pathlib import Path

import lxml.html
from lxml import etree
from msgspec import Struct

from digest import issue_folder
from digest.errors import InputError
from digest.render.plaintext import TEXT_WIDTH
from digest.urls import scheme_of

HTML_LIMIT = 100 * 1024  # Gmail clips a larger HTML part
HTML_WARNING = 80 * 1024
STYLE_LIMIT = 16 * 1024  # Gmail ignores <style> past this
TEMPLATE_SYNTAX = re.compile(r"\{\{|\{%|\{#|\*\|[A-Za-z0-9_:]+\|\*|%%[A-Za-z0-9_]+%%")
LONE_URL = re.compile(r"(\[\d+\] )?[a-z][a-z0-9+.-]*:\S+")
MESSAGE_HEADERS = ("From", "Subject", "Date", "Message-ID")


class Severity(StrEnum):
    ERROR = "error"  # fails the check (exit 1)
    WARNING = "warning"  # reported only


class Violation(Struct, frozen=True):
    rule: str
    where: str  # "index.html:12"
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        return f"{self.where}: {self.severity}: {self.rule}: {self.message}"


class Parts:
    """What a check reads: the HTML part, and where there is one, the rest of the issue folder."""

    def __init__(
        self,
        html: str,
        html_name: str = issue_folder.HTML,
        text: str | None = None,
        message: bytes | None = None,
        merge_tags: tuple[str, ...] = (),  # the editor's configured merge tags, allowed as links
    ) -> None:
        self.html = html
        self.html_name = html_name
        self.text = text
        self.message = message
        self.merge_tags = merge_tags
        self.tree: etree._Element = lxml.html.document_fromstring(html or "<html></html>")

    def at(self, element: etree._Element | None = None) -> str:
        line = element.sourceline if element is not None and element.sourceline else None
        return f"{self.html_name}:{line}" if line else self.html_name


Rule = Callable[[Parts], Iterator[Violation]]


def size(parts: Parts) -> Iterator[Violation]:
    length = len(parts.html.encode("utf-8"))
    if length >= HTML_LIMIT:
        yield Violation("size", parts.at(), f"HTML is {length:,} bytes; Gmail clips at {HTML_LIMIT:,}")
    elif length >= HTML_WARNING:
        yield Violation(
            "size", parts.at(), f"HTML is {length:,} bytes, near Gmail's {HTML_LIMIT:,}", Severity.WARNING
        )


def _nested_at_rule(css: str) -> bool:
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    css = re.sub(r"\"[^\"]*\"|'[^']*'", "''", css)
    depth = 0
    for index, char in enumerate(css):
        if char == "{":
            depth += 1
        elif char == "}":
            depth = max(0, depth - 1)
        elif char == "@" and depth > 0 and re.match(r"@[a-z-]+", css[index:]):
            return True
    return False


def styles(parts: Parts) -> Iterator[Violation]:
    blocks = parts.tree.xpath("//style")
    total = sum(len((b.text or "").encode("utf-8")) for b in blocks)
    if total >= STYLE_LIMIT:
        yield Violation(
            "style-size",
            parts.at(blocks[0]),
            f"{total:,} bytes of CSS in <style>; Gmail drops it past {STYLE_LIMIT:,}",
        )
    for block in blocks:
        if _nested_at_rule(block.text or ""):
            yield Violation(
                "style-nesting",
                parts.at(block),
                "an @ rule inside another block; Gmail drops the whole <style>",
            )


def doctype(parts: Parts) -> Iterator[Violation]:
    if not parts.html.lstrip("\ufeff").lower().startswith("<!doctype html>"):
        yield Violation("doctype", f"{parts.html_name}:1", "the document does not start with <!doctype html>")


def language(parts: Parts) -> Iterator[Violation]:
    lang = (parts.tree.get("lang") or "").strip()
    if not lang or lang.lower() == "und":
        yield Violation(
            "lang",
            parts.at(parts.tree),
            f"<html lang> is {lang or 'missing'}; screen readers need the language",
        )


def title(parts: Parts) -> Iterator[Violation]:
    found = parts.tree.find(".//title")
    if found is None or not (found.text or "").strip():
        yield Violation("title", parts.at(found), "no <title>, or an empty one")


def images(parts: Parts) -> Iterator[Violation]:
    for image in parts.tree.iter("img"):
        src = image.get("src", "")
        if image.get("alt") is None:
            yield Violation("img-alt", parts.at(image), f"<img src={src!r}> has no alt")
        if not (image.get("width") or "").isdigit():
            yield Violation(
                "img-width",
                parts.at(image),
                f"<img src={src!r}> has no whole-number width (Outlook needs one)",
            )
        if src.startswith("data:") or src.lower().split("?")[0].endswith(".svg"):
            yield Violation(
                "img-format", parts.at(image), "an SVG or base64 image: many clients do not show them"
            )
    for svg in parts.tree.iter("svg"):
        yield Violation("img-format", parts.at(svg), "inline <svg>: many clients do not show it")


def tables(parts: Parts) -> Iterator[Violation]:
    for table in parts.tree.iter("table"):
        if table.get("role") != "presentation":
            yield Violation("table-role", parts.at(table), 'a layout table without role="presentation"')


def headings(parts: Parts) -> Iterator[Violation]:
    deepest = 0
    for heading in parts.tree.xpath("//h1|//h2|//h3|//h4|//h5|//h6"):
        level = int(heading.tag[1])
        if level > deepest + 1:
            yield Violation(
                "headings",
                parts.at(heading),
                f"<{heading.tag}> follows h{deepest or '(none)'}: a level skipped",
            )
        deepest = max(deepest, level) if level > deepest else level


_SCRIPTING = {"javascript", "vbscript", "data", "file"}


def links(parts: Parts) -> Iterator[Violation]:
    for anchor in parts.tree.iter("a"):
        href = (anchor.get("href") or "").strip()
        scheme = (scheme_of(href) or "").lower()
        if scheme in _SCRIPTING:  # never allowed, whatever the manifest calls a merge tag
            yield Violation(
                "links", parts.at(anchor), f"a {scheme}: link runs code, it is no link: {href[:80]!r}"
            )
            continue
        if href in parts.merge_tags or href.startswith(("https://", "mailto:")):
            continue
        if href.startswith("http://"):
            yield Violation("links", parts.at(anchor), f"{href} is not https", Severity.WARNING)
        else:
            yield Violation("links", parts.at(anchor), f"link {href!r} is not absolute https: or mailto:")


def unsafe(parts: Parts) -> Iterator[Violation]:
    for script in parts.tree.iter("script"):
        yield Violation("script", parts.at(script), "<script> in an email")
    for link in parts.tree.iter("link"):
        if "stylesheet" in (link.get("rel") or "").lower():
            yield Violation(
                "remote-css",
                parts.at(link),
                f"a remote stylesheet ({link.get('href')}) clients will not load",
            )


def template_syntax(parts: Parts) -> Iterator[Violation]:
    documents = [(parts.html_name, parts.html)] + (
        [(issue_folder.TEXT, parts.text)] if parts.text is not None else []
    )
    for name, document in documents:
        for number, line in enumerate(document.splitlines(), start=1):
            for tag in parts.merge_tags:  # the editor's own merge tags are meant to be there
                line = line.replace(tag, "")
            found = TEMPLATE_SYNTAX.search(line)
            if found:
                yield Violation(
                    "template-syntax", f"{name}:{number}", f"unrendered template syntax {found.group()!r}"
                )


def text_lines(parts: Parts) -> Iterator[Violation]:
    if parts.text is None:
        return
    for number, line in enumerate(parts.text.splitlines(), start=1):
        if len(line) > TEXT_WIDTH and not LONE_URL.fullmatch(line.strip()):
            yield Violation(
                "text-width",
                f"{issue_folder.TEXT}:{number}",
                f"{len(line)} characters (at most {TEXT_WIDTH}, unless a URL stands alone)",
            )
        if re.search(r"</?[a-z][a-z0-9]*(\s[^>]*)?>", line) and re.search(
            r"</?(p|a|div|span|br|img|b|i|em|strong|table|td)\b", line
        ):
            yield Violation(
                "text-html", f"{issue_folder.TEXT}:{number}", "HTML markup in the plain-text part"
            )


def mime(parts: Parts) -> Iterator[Violation]:
    if parts.message is None:
        return
    where = issue_folder.MESSAGE
    message = email.message_from_bytes(parts.message, policy=policy.default)
    assert isinstance(message, EmailMessage)
    for header in MESSAGE_HEADERS:
        if not message.get(header):
            yield Violation("mime-headers", where, f"no {header} header")
    unsubscribe = message.get("List-Unsubscribe", "")
    if not unsubscribe:
        yield Violation(
            "mime-headers",
            where,
            "no List-Unsubscribe header (Gmail and Yahoo ask bulk senders for one): set"
            " newsletter.unsubscribe_url or newsletter.unsubscribe_mailto",
            Severity.WARNING,
        )
    if "<https://" in unsubscribe and message.get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click":
        yield Violation(
            "mime-headers",
            where,
            "List-Unsubscribe has an https link but no List-Unsubscribe-Post (RFC 8058)",
        )
    if message.get_content_type() != "multipart/alternative":
        yield Violation("mime-structure", where, f"{message.get_content_type()}, not multipart/alternative")
        return
    kinds = [part.get_content_type() for part in message.iter_parts()]
    if kinds != ["text/plain", "text/html"]:
        yield Violation("mime-structure", where, f"parts are {kinds}; want text/plain first, text/html last")
    for part in message.iter_parts():
        if (part.get_content_charset() or "").lower() != "utf-8":
            yield Violation("mime-structure", where, f"{part.get_content_type()} is not UTF-8")


RULES: tuple[Rule, ...] = (
    size,
    styles,
    doctype,
    language,
    title,
    images,
    tables,
    headings,
    links,
    unsafe,
    template_syntax,
    text_lines,
    mime,
)


def check(parts: Parts, rules: tuple[Rule, ...] = RULES) -> list[Violation]:
    return [violation for rule in rules for violation in rule(parts)]


def read_issue(path: Path) -> Parts:
    """The parts of a built issue: its folder, or a single .html file."""
    if path.is_dir():
        built = issue_folder.read_issue(path)
        tags = built.manifest.merge_tags if built.manifest else ()
        return Parts(html=built.html, text=built.text, message=built.message, merge_tags=tags)
    try:
        return Parts(html=path.read_text(encoding="utf-8"), html_name=path.name)
    except FileNotFoundError:
        raise InputError(f"not a built issue: {path.name} is missing", path=str(path)) from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read the issue: {error}", path=str(path)) from None
