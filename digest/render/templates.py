"""The Jinja2 environment every template of digest renders in: the email's, the archive's, the
preview page's.

Templates are looked up in the newsletter's own folder first, then in the packaged one, so
a newsletter overrides a single file by giving its name. Everything is escaped but the
plain-text templates, undefined names are errors, and every plain string a template prints
loses its power to open a merge tag or a template expression.
"""

from __future__ import annotations

import gettext
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from digest.errors import RenderError
from digest.files import cache_dir
from digest.render.mergetags import neutralize
from digest.render.plaintext import FILTERS as TEXT_FILTERS
from digest.resources import templates_dir


def _autoescape(name: str | None) -> bool:
    # Everything is markup except the plain-text templates; escaping is the default so
    # feed text can never become markup in the email.
    return not (name or "").endswith(".txt.j2")


def _finalize(value: Any) -> Any:
    # Feed text above all: a plain string loses its power to open a merge tag or a template
    # expression; values the code marked safe pass as they are.
    if isinstance(value, str) and not isinstance(value, Markup):
        return neutralize(value)
    return value


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates, kept between runs ($XDG_CACHE_HOME/digest/templates): compiling the
    email's templates was a sixth of a cold build. Jinja checks each entry against its template's
    source and this Python's version, so an edited template is compiled again. None where no
    cache folder can be made: the templates are compiled every time, as before."""
    folder = cache_dir("templates")
    return jinja2.FileSystemBytecodeCache(str(folder)) if folder else None


def environment(
    user_templates: Path | None = None, labels: gettext.NullTranslations | None = None
) -> jinja2.Environment:
    """`labels`: the words in the newsletter's language (render.labels); English without."""
    folders = [str(user_templates)] if user_templates else []
    folders.append(str(templates_dir()))
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folders),
        extensions=["jinja2.ext.i18n"],
        bytecode_cache=_bytecode_cache(),
        autoescape=_autoescape,
        undefined=jinja2.StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(TEXT_FILTERS)
    # A value put into a message (`_("By %(author)s.", author=item.author | neutral)`) skips
    # finalize: this filter gives it the same loss of merge-tag power.
    env.filters["neutral"] = neutralize
    env.install_gettext_translations(labels or gettext.NullTranslations(), newstyle=True)  # type: ignore[attr-defined]
    return env


def render(env: jinja2.Environment, name: str, context: Mapping[str, Any]) -> str:
    """One template rendered; a mistake in it is a `RenderError` naming its file and line."""
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
