"""The render stage: the selection → subject, preheader, MJML → HTML, and the plain-text part.

Jinja2 renders the templates (render.templates) with a declared context (render.context);
mjml-python turns the MJML into HTML, offline (`fonts={}`: no web-font link); the ordered
steps of render.postprocess finish both parts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import jinja2
import mjml

from digest.config import Config, user_templates
from digest.errors import RenderError
from digest.models import Rendered, Selection
from digest.render.context import links, template_context, unsubscribe_url, view_online_url
from digest.render.labels import labels_for
from digest.render.markers import Fill, generic_url, is_personal
from digest.render.mergetags import Protected
from digest.render.postprocess import finish_html, finish_text, take_inline_styles
from digest.render.templates import environment, render

EMAIL_TEMPLATE = "email.mjml.j2"
TEXT_TEMPLATE = "digest.txt.j2"
SUBJECT_TEMPLATE = "subject.txt.j2"
PREHEADER_TEMPLATE = "preheader.txt.j2"


def _one_line(env: jinja2.Environment, name: str, context: Mapping[str, Any]) -> str:
    return " ".join(render(env, name, context).split())


def mjml_to_html(source: str, *, template: str = EMAIL_TEMPLATE) -> str:
    try:
        return mjml.mjml2html(source, disable_comments=True, fonts={})
    except Exception as error:  # MRML raises a bare exception type of its own
        raise RenderError(f"MJML error: {' '.join(str(error).split())}", path=template) from None


def render_issue(
    selection: Selection,
    *,
    config: Config,
    date: dt.date,
    number: int | None = None,
    env: jinja2.Environment | None = None,
) -> Rendered:
    """Every part of the issue: subject and preheader, the HTML and the text, each both with
    markers for `digest send` and filled for nobody in particular (the files a reader of the
    archive, or an ESP, gets). `env`: a compiled environment to reuse across tries."""
    env = env or environment(user_templates(config), labels_for(config))
    protected = Protected()
    view_online = view_online_url(config, date, number)
    unsubscribe = unsubscribe_url(config, date, number)
    context = template_context(
        selection, config, date, number, links(config, view_online, unsubscribe, protected)
    )
    context["subject"] = _one_line(env, SUBJECT_TEMPLATE, context)
    context["preheader"] = _one_line(env, PREHEADER_TEMPLATE, context)
    source = render(env, EMAIL_TEMPLATE, context)
    # The files for nobody in particular: the fallback greeting, the link without {email}/{token}.
    personal = is_personal(unsubscribe)
    nobody = Fill(
        config.send.greeting_fallback, generic_url(unsubscribe) if unsubscribe and personal else unsubscribe
    )
    without_inline, css = take_inline_styles(source)
    html = finish_html(mjml_to_html(without_inline), css, protected, nobody)
    text = finish_text(render(env, TEXT_TEMPLATE, context), protected, nobody)
    return Rendered(
        subject=context["subject"],
        preheader=context["preheader"],
        html=html.generic,
        text=text.generic,
        view_online_url=view_online,
        unsubscribe_url=nobody.unsubscribe,
        mjml=protected.restore_html(source),
        personal_html=html.personal,
        personal_text=text.personal,
        personal_unsubscribe_url=unsubscribe if personal else None,
    )
