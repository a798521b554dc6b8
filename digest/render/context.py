"""The template context: every name the email's templates may use, declared.

Override templates (`output.templates`) depend on these names, so this is an API: the
README's "Template API" lists them, and a test checks that the two agree. Add names; never
rename or remove one without a note in the changelog.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import NotRequired, TypedDict

from markupsafe import Markup

from digest.config import Config, LinksConfig, NewsletterConfig, ThemeConfig
from digest.models import Pick, Selection
from digest.render.labels import date_label, number_label
from digest.render.markers import GREETING, UNSUBSCRIBE, is_personal
from digest.render.mergetags import Protected
from digest.urls import with_params


class IssueInfo(TypedDict):
    date: dt.date
    date_label: str  # in the newsletter's language: "November 24, 2025", "24 novembre 2025"
    number: int | None
    number_label: str | None  # the number as the language writes it


class Links(TypedDict):
    home: str | None  # newsletter.url
    view_online: str | None  # "view in browser"; a merge tag travels as a placeholder
    unsubscribe: str | None  # each subscriber's own when personal, filled in by `digest send`


class TemplateContext(TypedDict):
    """What `email.mjml.j2`, `digest.txt.j2`, `subject.txt.j2` and `preheader.txt.j2` see."""

    newsletter: NewsletterConfig
    theme: ThemeConfig
    issue: IssueInfo
    lead: Pick | None
    editors_choice: tuple[Pick, ...]
    popular: tuple[Pick, ...]
    links: Links
    greeting: Markup | None  # the subscriber's greeting ("Dear Ana,"), when send.greeting is set
    track: Callable[[str, str], str]  # track(url, section): the link with the issue's UTM parameters
    rtl: bool
    align: str  # "left", or "right" for a right-to-left newsletter
    subject: NotRequired[str]  # in every template but subject.txt.j2
    preheader: NotRequired[str]  # in the email and text templates


def fill_issue_fields(value: str, date: dt.date, number: int | None) -> str:
    """`{slug}`, `{date}` and `{number}` in a configured link or campaign name, filled in."""
    # Plain replacement, not str.format: "{{ unsubscribe_url }}" must come out as written.
    for key, text in (
        ("{slug}", date.isoformat()),
        ("{date}", date.isoformat()),
        ("{number}", str(number or "")),
    ):
        value = value.replace(key, text)
    return value


def tracker(links: LinksConfig, date: dt.date, number: int | None) -> Callable[[str, str], str]:
    """`track(url, section)` for the templates: the issue's UTM parameters on a story link
    (`section`: lead, editors-choice, popular); a parameter the link has is never changed."""
    campaign = fill_issue_fields(links.utm_campaign, date, number)
    params = {"utm_source": links.utm_source, "utm_medium": links.utm_medium, "utm_campaign": campaign}

    def track(url: str, section: str) -> str:
        return with_params(url, {**params, "utm_content": section}) if links.utm else url

    return track


def view_online_url(config: Config, date: dt.date, number: int | None) -> str | None:
    """The "view in browser" link: the configured one, else the issue's page in the archive."""
    newsletter, base = config.newsletter, config.archive.base_url
    template = newsletter.view_online_url or (f"{base.rstrip('/')}/{{slug}}/" if base else None)
    return fill_issue_fields(template, date, number) if template else None


def unsubscribe_url(config: Config, date: dt.date, number: int | None) -> str | None:
    url = config.newsletter.unsubscribe_url
    return fill_issue_fields(url, date, number) if url else None


def links(config: Config, view_online: str | None, unsubscribe: str | None, protected: Protected) -> Links:
    """The footer's links as the templates get them. The editor's values travel as placeholders
    (restored byte for byte after the last HTML step); a personal unsubscribe link ({email},
    {token}) becomes the marker `digest send` fills for each subscriber."""
    if unsubscribe and is_personal(unsubscribe):
        unsubscribe_link: str | None = UNSUBSCRIBE
    else:
        unsubscribe_link = protected.placeholder(unsubscribe) if unsubscribe else None
    return {
        "home": config.newsletter.url,
        "view_online": protected.placeholder(view_online) if view_online else None,
        "unsubscribe": unsubscribe_link,
    }


def template_context(
    selection: Selection, config: Config, date: dt.date, number: int | None, links: Links
) -> TemplateContext:
    rtl = config.newsletter.direction == "rtl"
    return {
        "newsletter": config.newsletter,
        "theme": config.theme,
        "issue": {
            "date": date,
            "date_label": date_label(date, config.newsletter.language),
            "number": number,
            "number_label": number_label(number, config.newsletter.language) if number else None,
        },
        "lead": selection.lead,
        "editors_choice": selection.editors_choice,
        "popular": selection.popular,
        "links": links,
        "greeting": Markup(GREETING) if config.send.greeting else None,
        "track": tracker(config.links, date, number),
        "rtl": rtl,
        "align": "right" if rtl else "left",
    }
