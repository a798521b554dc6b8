"""The render and postprocess stages: the email HTML is born right."""

from __future__ import annotations

import re
from pathlib import Path

import lxml.html
import pytest
from msgspec.structs import replace

from digest.config import Config, load_config
from digest.errors import RenderError
from digest.models import NO_SCORE, Pick, Section, Selection
from digest.render.issue import mjml_to_html, render_issue
from digest.render.templates import environment

from .conftest import SAMPLE, compose
from .test_selection import NOW, item


@pytest.fixture(scope="module")
def sample_html() -> str:
    return compose(load_config(SAMPLE / "digest.toml")).issue.rendered.html


def test_doctype_comes_first(sample_html: str) -> None:
    assert sample_html.startswith("<!doctype html>\n<html")
    assert sample_html.lower().count("<!doctype") == 1


def test_language_title_and_preheader(sample_html: str) -> None:
    tree = lxml.html.fromstring(sample_html)
    assert tree.get("lang") == "en-GB"
    assert tree.findtext(".//title") == (
        "CommonGround Weekly #1: EU - Azerbaijan Security Dialogue held in Brussels"
    )
    preheader = tree.xpath("//body/div[@role='article']/div[1]")[0]  # the first text in the email
    assert "display:none" in preheader.get("style").replace(" ", "")
    assert preheader.text_content().startswith("The 6th round of the Security Dialogue")


def test_every_image_has_alt_text_and_an_integer_width(sample_html: str) -> None:
    images = lxml.html.fromstring(sample_html).xpath("//img")
    assert len(images) == 4  # the lead and three editor's choice thumbnails
    for image in images:
        assert image.get("alt"), lxml.html.tostring(image)
        assert image.get("width", "").isdigit(), "premailer must not rewrite width to 100%"


def test_nothing_is_fetched_from_the_network_by_the_reader(sample_html: str) -> None:
    tree = lxml.html.fromstring(sample_html)
    assert tree.xpath("//link") == []  # no web font, no remote stylesheet
    assert tree.xpath("//script") == []
    assert "fonts.googleapis" not in sample_html


def test_media_queries_and_outlook_conditionals_survive_inlining(sample_html: str) -> None:
    assert "@media only screen and (max-width: 479px)" in sample_html
    assert "<!--[if mso" in sample_html
    # CSS is inlined: the section headings carry their colour on the element itself.
    heading = lxml.html.fromstring(sample_html).xpath('//h2[normalize-space()="Editor\'s choice"]')[0]
    assert "color:#b42318" in heading.get("style", "").replace(" ", "")


def test_the_issue_is_well_under_gmails_clipping_size(sample_html: str) -> None:
    assert len(sample_html.encode()) < 100_000


def test_layout_tables_are_marked_presentation(sample_html: str) -> None:
    tables = lxml.html.fromstring(sample_html).xpath("//table")
    assert tables and all(t.get("role") == "presentation" for t in tables)


def test_feed_text_never_becomes_markup_merge_tags_or_template_code(sample_config: Config) -> None:
    hostile = replace(
        item(1),
        title="<script>alert(1)</script> {{ 7 * 7 }} {% raw %} *|UNSUB|* %%view_email_url%%",
        summary="</mj-text><mj-raw><b>bold</b></mj-raw>",
    )
    selection = Selection(Pick(hostile, Section.LEAD, 1, NO_SCORE, "test"), (), ())
    rendered = render_issue(selection, config=sample_config, date=NOW.date())
    for part in (rendered.html, rendered.text, rendered.subject):
        for opening in ("{{", "{%", "*|", "%%"):
            assert opening not in part, (opening, part[:200])
    assert "<script" not in rendered.html  # in the text part it is only words
    assert "49" not in rendered.html
    assert "<b>bold</b>" not in rendered.html
    # The reader still sees the headline as written (a word joiner is invisible).
    visible = lxml.html.fromstring(rendered.html).findtext(".//title").replace("\u2060", "")
    assert "<script>alert(1)</script> {{ 7 * 7 }} {% raw %} *|UNSUB|*" in visible


def test_merge_tags_in_the_config_come_out_exactly_as_written(sample_config: Config) -> None:
    newsletter = replace(
        sample_config.newsletter,
        unsubscribe_url="{{ unsubscribe_url }}",
        view_online_url="*|ARCHIVE|*",
    )
    config = replace(sample_config, newsletter=newsletter)
    selection = Selection(Pick(item(1), Section.LEAD, 1, NO_SCORE, "test"), (), ())
    rendered = render_issue(selection, config=config, date=NOW.date())
    assert 'href="{{ unsubscribe_url }}"' in rendered.html
    assert 'href="*|ARCHIVE|*"' in rendered.html
    assert "{{ unsubscribe_url }}" in rendered.text and "*|ARCHIVE|*" in rendered.text
    assert "merge-tag.invalid" not in rendered.html + rendered.text


def test_footer_links_fill_in_the_issue(sample_config: Config) -> None:
    newsletter = replace(
        sample_config.newsletter, view_online_url="https://news.example/issues/{slug}/?n={number}&x=1"
    )
    config = replace(sample_config, newsletter=newsletter)
    selection = Selection(Pick(item(1), Section.LEAD, 1, NO_SCORE, "test"), (), ())
    rendered = render_issue(selection, config=config, date=NOW.date(), number=7)
    tree = lxml.html.fromstring(rendered.html)
    assert "https://news.example/issues/2025-11-24/?n=7&x=1" in tree.xpath("//a/@href")


def test_story_links_carry_utm_per_section_without_overwriting(sample_html: str) -> None:
    hrefs = lxml.html.fromstring(sample_html).xpath("//a/@href")
    story = [h for h in hrefs if "/news/2025/" in h]
    assert story and all("utm_source=newsletter&utm_medium=email&utm_campaign=digest-1" in h for h in story)
    contents = {h.rsplit("utm_content=", 1)[1] for h in story}
    assert contents == {"lead", "editors-choice", "popular"}


def test_utm_can_be_switched_off_and_keeps_a_links_own_parameters(sample_config: Config) -> None:
    linked = replace(item(1), url="https://x.example/1?utm_source=site&id=4")
    selection = Selection(Pick(linked, Section.LEAD, 1, NO_SCORE, "test"), (), ())
    on = render_issue(selection, config=sample_config, date=NOW.date(), number=2)
    assert "https://x.example/1?utm_source=site&amp;id=4&amp;utm_medium=email" in on.html
    off_config = replace(sample_config, links=replace(sample_config.links, utm=False))
    off = render_issue(selection, config=off_config, date=NOW.date())
    assert "utm_medium" not in off.html and "utm_medium" not in off.text


def test_right_to_left_newsletters_render_right_to_left(sample_config: Config) -> None:
    newsletter = replace(sample_config.newsletter, language="ar", direction="rtl")
    config = replace(sample_config, newsletter=newsletter)
    selection = Selection(
        Pick(item(1), Section.LEAD, 1, NO_SCORE, "test"),
        (),
        (Pick(item(2), Section.POPULAR, 1, NO_SCORE, "t"),),
    )
    html = render_issue(selection, config=config, date=NOW.date()).html
    tree = lxml.html.fromstring(html)
    assert (tree.get("lang"), tree.get("dir")) == ("ar", "rtl")
    assert "text-align:right" in html.replace(" ", "")


def test_dark_mode_rules_survive_inlining(sample_html: str) -> None:
    assert '<meta name="color-scheme" content="light dark">' in sample_html
    assert "@media (prefers-color-scheme: dark)" in sample_html
    assert "background-color: #1c2026 !important" in sample_html


def test_a_section_with_no_stories_is_left_out(sample_config: Config) -> None:
    selection = Selection(Pick(item(1), Section.LEAD, 1, NO_SCORE, "test"), (), ())
    rendered = render_issue(selection, config=sample_config, date=NOW.date())
    assert "Editor's choice" not in rendered.html and "Popular" not in rendered.html
    assert "EDITOR'S CHOICE" not in rendered.text and "POPULAR" not in rendered.text


def test_a_template_syntax_error_names_the_file_and_line(tmp_path: Path, sample_config: Config) -> None:
    (tmp_path / "email.mjml.j2").write_text("<mjml>\n<mj-body>\n{% if lead %}\n</mj-body>\n</mjml>\n")
    selection = Selection(Pick(item(1), Section.LEAD, 1, NO_SCORE, "test"), (), ())
    with pytest.raises(RenderError) as caught:
        render_issue(selection, config=sample_config, date=NOW.date(), env=environment(tmp_path))
    message = str(caught.value)
    assert re.match(rf"^{re.escape(str(tmp_path / 'email.mjml.j2'))}:\d+: template syntax error", message)
    assert "\n" not in message


def test_an_undefined_name_in_a_template_is_an_error_not_a_blank(
    tmp_path: Path, sample_config: Config
) -> None:
    (tmp_path / "subject.txt.j2").write_text("{{ newsletter.nmae }}")
    selection = Selection(Pick(item(1), Section.LEAD, 1, NO_SCORE, "test"), (), ())
    with pytest.raises(RenderError, match=r"subject\.txt\.j2: template error: .*nmae"):
        render_issue(selection, config=sample_config, date=NOW.date(), env=environment(tmp_path))


def test_a_user_template_overrides_the_packaged_one_of_the_same_name(
    tmp_path: Path, sample_config: Config
) -> None:
    (tmp_path / "subject.txt.j2").write_text("Weekly: {{ lead.item.title }}")
    selection = Selection(Pick(item(1), Section.LEAD, 1, NO_SCORE, "test"), (), ())
    rendered = render_issue(selection, config=sample_config, date=NOW.date(), env=environment(tmp_path))
    assert rendered.subject == "Weekly: Story 1"
    assert "<mjml" not in rendered.html and "<mj-" not in rendered.html  # the rest is still packaged


def test_invalid_mjml_is_a_render_error() -> None:
    with pytest.raises(RenderError, match=r"email\.mjml\.j2: MJML error"):
        mjml_to_html("<mjml><mj-body><mj-section></mjml>")
