"""The render stage: Jinja2 templates → MJML → HTML (mjml-python), plus subject, preheader and text.

Templates are looked up in the user's templates folder first, then in the
packaged ones, so a newsletter overrides a single file by giving its name.
Rendering never touches the network: MRML gets `fonts={}` (no web-font link).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
import mjml
from markupsafe import Markup

from digest.config import Config, user_templates
from digest.errors import RenderError
from digest.models import Rendered, Selection
from digest.render.mergetags import Protected, neutralize
from digest.render.plaintext import FILTERS as TEXT_FILTERS
from digest.render.postprocess import postprocess
from digest.resources import templates_dir
from digest.send.personalize import (
    GREETING,
    UNSUBSCRIBE,
    Fill,
    fill_html,
    fill_text,
    generic_url,
    is_personal,
)
from digest.urls import with_params

EMAIL_TEMPLATE = "email.mjml.j2"
TEXT_TEMPLATE = "digest.txt.j2"
SUBJECT_TEMPLATE = "subject.txt.j2"
PREHEADER_TEMPLATE = "preheader.txt.j2"


def _autoescape(name: str | None) -> bool:
    # Everything is markup except the plain-text templates; escaping is the default so
    # feed text can never become markup in the email.
    return not (name or "").endswith(".txt.j2")


def _finalize(value: Any) -> Any:
    # Every plain string printed by a template (feed text above all) loses its power to open a
    # merge tag or a template expression; values the code marked safe pass as they are.
    if isinstance(value, str) and not isinstance(value, Markup):
        return neutralize(value)
    return value


def environment(user_templates: Path | None = None) -> jinja2.Environment:
    folders = [str(user_templates)] if user_templates else []
    folders.append(str(templates_dir()))
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folders),
        autoescape=_autoescape,
        undefined=jinja2.StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(TEXT_FILTERS)
    return env


def _render(env: jinja2.Environment, name: str, context: Mapping[str, Any]) -> str:
    try:
        return env.get_template(name).render(context)
    except jinja2.TemplateSyntaxError as error:
        where = f"{error.filename or error.name or name}:{error.lineno}"
        raise RenderError(f"template syntax error: {error.message}", path=where) from None
    except jinja2.TemplateNotFound as error:
        raise RenderError(f"template not found: {error.name}", path=name) from None
    except jinja2.UndefinedError as error:
        raise RenderError(f"template error: {error.message}", path=_template_path(env, name)) from None


def _template_path(env: jinja2.Environment, name: str) -> str:
    try:
        return env.get_template(name).filename or name
    except jinja2.TemplateError:
        return name


def _one_line(env: jinja2.Environment, name: str, context: Mapping[str, Any]) -> str:
    return " ".join(_render(env, name, context).split())


def mjml_to_html(source: str, *, template: str = EMAIL_TEMPLATE) -> str:
    try:
        return mjml.mjml2html(source, disable_comments=True, fonts={})
    except Exception as error:  # MRML raises a bare exception type of its own
        raise RenderError(f"MJML error: {' '.join(str(error).split())}", path=template) from None


def _fill(value: str, date: dt.date, number: int | None) -> str:
    # Plain replacement, not str.format: "{{ unsubscribe_url }}" must come out as written.
    for key, text in (
        ("{slug}", date.isoformat()),
        ("{date}", date.isoformat()),
        ("{number}", str(number or "")),
    ):
        value = value.replace(key, text)
    return value


def render_issue(
    selection: Selection,
    *,
    config: Config,
    date: dt.date,
    number: int | None = None,
    env: jinja2.Environment | None = None,
) -> Rendered:
    env = env or environment(user_templates(config))
    newsletter, utm = config.newsletter, config.links
    protected = Protected()

    view_online_template = newsletter.view_online_url or (
        f"{config.archive.base_url.rstrip('/')}/{{slug}}/" if config.archive.base_url else None
    )
    view_online = _fill(view_online_template, date, number) if view_online_template else None
    unsubscribe = _fill(newsletter.unsubscribe_url, date, number) if newsletter.unsubscribe_url else None

    def track(url: str, section: str) -> str:
        """A story link with the issue's UTM parameters (`section`: lead, editors-choice, popular)."""
        if not utm.utm:
            return url
        campaign = _fill(utm.utm_campaign, date, number)
        params = {"utm_source": utm.utm_source, "utm_medium": utm.utm_medium, "utm_campaign": campaign}
        return with_params(url, {**params, "utm_content": section})

    rtl = newsletter.direction == "rtl"
    context: dict[str, Any] = {
        "newsletter": newsletter,
        "theme": config.theme,
        "issue": {"date": date, "date_label": f"{date.day} {date:%B %Y}", "number": number},
        "lead": selection.lead,
        "editors_choice": selection.editors_choice,
        "popular": selection.popular,
        "links": {
            "home": newsletter.url,
            "view_online": protected.placeholder(view_online) if view_online else None,
            "unsubscribe": _unsubscribe_link(unsubscribe, protected),
        },
        "greeting": Markup(GREETING) if config.send.greeting else None,
        "track": track,
        "rtl": rtl,
        "align": "right" if rtl else "left",
    }
    context["subject"] = _one_line(env, SUBJECT_TEMPLATE, context)
    context["preheader"] = _one_line(env, PREHEADER_TEMPLATE, context)
    source = _render(env, EMAIL_TEMPLATE, context)
    personal_html = protected.restore_html(postprocess(mjml_to_html(source)))
    personal_text = protected.restore_text(_render(env, TEXT_TEMPLATE, context))
    # The files for nobody in particular: the fallback greeting, the link without {email}/{token}.
    generic = generic_url(unsubscribe) if unsubscribe and is_personal(unsubscribe) else unsubscribe
    nobody = Fill(config.send.greeting_fallback, generic)
    return Rendered(
        subject=context["subject"],
        preheader=context["preheader"],
        html=fill_html(personal_html, nobody),
        text=fill_text(personal_text, nobody),
        view_online_url=view_online,
        unsubscribe_url=nobody.unsubscribe,
        mjml=protected.restore_html(source),
        personal_html=personal_html,
        personal_text=personal_text,
        personal_unsubscribe_url=unsubscribe if is_personal(unsubscribe) else None,
    )


def _unsubscribe_link(url: str | None, protected: Protected) -> str | None:
    """A personal link ({email}, {token}) becomes the marker `digest send` fills in per subscriber;
    any other (a URL, a merge tag) travels as a protected placeholder."""
    if not url:
        return None
    return UNSUBSCRIBE if is_personal(url) else protected.placeholder(url)
