"""The steps after MJML, one by one, and in their order: inline CSS, doctype, merge tags, markers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from digest.render.markers import GREETING, UNSUBSCRIBE, Fill, fill_html, fill_text, generic_url
from digest.render.mergetags import Protected
from digest.render.postprocess import (
    ensure_doctype,
    finish_html,
    finish_text,
    html_steps,
    inline_css,
    take_inline_styles,
)

PAGE = (
    '<!doctype html><html><head></head><body><p>{greeting}</p><a href="{link}">unsubscribe</a></body></html>'
)


def test_inline_css_keeps_important_in_media_rules_and_image_widths() -> None:
    html = (
        '<html><head></head><body><p>x</p><img src="https://a.example/i.png" width="550" style="width:100%"'
        ' alt="i"></body></html>'
    )
    out = inline_css(html, "p{color:red} @media (max-width:10px){p{color:blue !important}}")
    assert 'style="color:red"' in out
    assert "color: blue !important" in out.split("</head>")[0]  # what cannot be inlined: <head>
    assert 'width="550"' in out


def test_only_the_templates_inline_styles_are_inlined() -> None:
    """As the mjml CLI does: `<mj-style inline="inline">` onto the elements; any other style, the
    template's or MJML's own resets, stays in <head> as written, Outlook's comments included."""
    mjml = (
        '<mjml><mj-head><mj-style inline="inline">p { color: red; }</mj-style>'
        '<!-- <mj-style inline="inline">p { color: blue; }</mj-style> -->'
        "<mj-style>td { color: green; }</mj-style></mj-head><mj-body/></mjml>"
    )
    rest, css = take_inline_styles(mjml)
    assert css == "p { color: red; }"  # not the one commented out
    assert rest == mjml.replace('<mj-style inline="inline">p { color: red; }</mj-style>', "")
    html = (
        '<html><head><style media="screen and (min-width:480px)">td { width: 1px; }</style>'
        "<style>td { color: green; }</style><!--[if mso]><style>p { margin: 0; }</style>"
        "<![endif]--></head><body><table><tr><td><p>x</p></td></tr></table></body></html>"
    )
    out = inline_css(html, css)
    assert '<p style="color:red">' in out and "<td>" in out  # the <head> style is not inlined
    assert "<style>td { color: green; }</style>" in out
    assert '<style media="screen and (min-width:480px)">td { width: 1px; }</style>' in out
    assert "<!--[if mso]><style>p { margin: 0; }</style><![endif]-->" in out
    assert "data-premailer" not in out
    assert inline_css(html, "") == html  # no inline styles: premailer is not run at all


def test_ensure_doctype_replaces_any_existing_one() -> None:
    assert ensure_doctype("<!DOCTYPE html PUBLIC 'x'>\n<html></html>") == "<!doctype html>\n<html></html>"
    assert ensure_doctype("<html></html>") == "<!doctype html>\n<html></html>"


def test_restoring_merge_tags_puts_back_each_value_as_written() -> None:
    protected = Protected()
    tags = [protected.placeholder(f"*|TAG{n}|*") for n in range(12)]  # /1 and /10 both exist
    document = " ".join(f'<a href="{tag}">' for tag in tags)
    restored = protected.restore_html(document)
    assert restored == " ".join(f'<a href="*|TAG{n}|*">' for n in range(12))
    link = Protected()
    placeholder = link.placeholder("https://x.example/u?a=1&b={{ id }}")
    assert link.restore_html(placeholder) == "https://x.example/u?a=1&amp;b={{ id }}"  # escaped for HTML
    assert link.restore_text(placeholder) == "https://x.example/u?a=1&b={{ id }}"  # as is for text


def test_filling_the_markers_escapes_for_html_and_not_for_text() -> None:
    fill = Fill("Dear Zoë <Z> & co,", "https://x.example/u?e=a@b.org&t=1")
    html = fill_html(f'<p>{GREETING}</p><a href="{UNSUBSCRIBE}">', fill)
    assert html == '<p>Dear Zoë &lt;Z&gt; &amp; co,</p><a href="https://x.example/u?e=a@b.org&amp;t=1">'
    text = fill_text(f"{GREETING}\n{UNSUBSCRIBE}", fill)
    assert text == "Dear Zoë <Z> & co,\nhttps://x.example/u?e=a@b.org&t=1"


def test_the_generic_link_leaves_out_the_personal_parameters() -> None:
    assert (
        generic_url("https://x.example/u?list=w&email={email}&token={token}") == "https://x.example/u?list=w"
    )


def test_the_steps_run_in_order_and_a_merge_tag_survives_premailer() -> None:
    protected = Protected()
    tag = protected.placeholder("{{ unsubscribe_url }}")  # premailer would percent-encode its spaces
    assert [step.__name__ for step in html_steps(protected, "a{color:red}")] == [
        "inline",
        "ensure_doctype",
        "restore_html",
    ]
    page = PAGE.format(greeting=GREETING, link=tag)
    finished = finish_html(page, "a{color:red}", protected, Fill("Dear reader,", None))
    assert finished.personal.startswith("<!doctype html>\n")
    assert 'href="{{ unsubscribe_url }}"' in finished.personal and 'style="color:red"' in finished.personal
    assert GREETING in finished.personal  # the personal part keeps its markers for digest send
    assert finished.generic == finished.personal.replace(GREETING, "Dear reader,")


def test_the_text_part_restores_tags_then_fills_the_markers() -> None:
    protected = Protected()
    tag = protected.placeholder("%%unsub%%")
    finished = finish_text(f"{GREETING}\n{tag}\n{UNSUBSCRIBE}", protected, Fill("Hi,", "https://x.example/u"))
    assert finished.personal == f"{GREETING}\n%%unsub%%\n{UNSUBSCRIBE}"
    assert finished.generic == "Hi,\n%%unsub%%\nhttps://x.example/u"


def test_the_start_up_tricks_leave_other_users_of_those_libraries_alone(tmp_path: Path) -> None:
    """digest stands in for requests and empties cssutils' profiles for its own inlining; code
    beside it in the process sees both as they are (a subprocess: a fresh interpreter's state)."""
    script = (
        "import importlib.util, sys\n"
        "from digest.render.postprocess import inline_css\n"
        "inline_css('<html><body><p class=\"a\">x</p></body></html>', '.a { color: red }')\n"
        "assert 'requests' in sys.modules\n"
        "assert importlib.util.find_spec('requests') is not None\n"
        "import requests, cssutils\n"
        "assert callable(requests.get)\n"
        "assert 'color' in cssutils.profile.knownNames\n"
        "assert inline_css('<html><body><p class=\"a\">x</p></body></html>', '.a { color: red }')\n"
        "assert 'color' in cssutils.profile.knownNames\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
