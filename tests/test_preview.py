"""`digest preview` in a real headless Chromium (Debian's, driven by Playwright).

`make test` installs the browser; in CI these tests never skip.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from digest.config import load_config
from digest.web.preview import Preview, Running, start

from .conftest import REPO, SAMPLE
from .tools.browser import CHROMIUM, FLAGS

pytestmark = pytest.mark.slow  # a real Chromium


@pytest.fixture
def newsletter_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "news"
    shutil.copytree(SAMPLE, folder)
    (folder / "templates" / "partials").mkdir(parents=True)
    shutil.copy(REPO / "templates" / "partials" / "footer.mjml.j2", folder / "templates" / "partials")
    with (folder / "digest.toml").open("a") as config:
        config.write('\n[output]\ntemplates = "templates"\n[state]\ndir = "state"\n')
    return folder


@pytest.fixture
def running(newsletter_folder: Path) -> Iterator[Running]:
    server = start(Preview(load_config(newsletter_folder / "digest.toml"), newsletter_folder / "state"))
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def browser(running: Running) -> Iterator[Browser]:  # the server first: its first build uses asyncio
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: `make test` installs it")
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    playwright: Playwright
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, running: Running) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    # Story images point at the sample site, which does not exist: no request leaves the machine.
    context.route("https://**/*", lambda route: route.abort())
    page = context.new_page()
    page.goto(running.url)
    yield page
    context.close()


def test_the_page_shows_the_issue_the_text_and_the_selection(page: Page) -> None:
    expect(page).to_have_title(
        "Preview: CommonGround Weekly #1: EU - Azerbaijan Security Dialogue held in Brussels"
    )
    expect(
        page.frame_locator("#desktop").get_by_text("UN Security Council approves Gaza Peace Plan").first
    ).to_be_visible()
    expect(page.frame_locator("#phone").locator("h2").first).to_be_visible()
    expect(page.locator("#text")).to_contain_text("LEAD STORY")
    expect(page.locator("#explain")).to_contain_text("out_of_window")
    expect(page.locator("dl")).to_contain_text("List-Unsubscribe")


def test_every_image_has_alt_and_375_px_needs_no_sideways_scrolling(
    browser: Browser, running: Running
) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 800})
    context.route("https://**/*", lambda route: route.abort())
    issue = context.new_page()
    issue.goto(running.url + "issue.html")
    assert issue.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert issue.evaluate("[...document.images].every(i => i.getAttribute('alt'))")
    assert issue.evaluate("document.images.length") == 4
    context.close()


def test_the_dark_switch_changes_the_rendering(page: Page) -> None:
    body = page.frame_locator("#desktop").locator(".card").first

    def background() -> str:
        return str(body.evaluate("e => getComputedStyle(e).backgroundColor"))

    light = background()
    page.locator("#dark").check()
    expect(body).not_to_have_css("background-color", light)
    assert background() in ("rgb(17, 20, 24)", "rgb(28, 32, 38)")  # theme.dark_background/content_color


def test_a_saved_template_shows_without_a_reload_by_the_test(page: Page, newsletter_folder: Path) -> None:
    footer = newsletter_folder / "templates" / "partials" / "footer.mjml.j2"
    saved = time.monotonic()
    footer.write_text(footer.read_text().replace("View this issue in your browser", "Read this issue online"))
    expect(page.frame_locator("#desktop").get_by_text("Read this issue online")).to_be_visible(timeout=10_000)
    print(f"template saved → page shows it: {time.monotonic() - saved:.2f} s")


def test_a_broken_template_shows_the_error_and_a_fix_brings_the_issue_back(
    page: Page, newsletter_folder: Path
) -> None:
    footer = newsletter_folder / "templates" / "partials" / "footer.mjml.j2"
    good = footer.read_text()
    footer.write_text(good + "\n{% if %}\n")
    error = page.locator("#error")
    expect(error).to_contain_text("footer.mjml.j2:", timeout=10_000)
    expect(error).to_contain_text("template syntax error")
    footer.write_text(good)
    expect(error).to_have_count(0, timeout=10_000)
    expect(page.frame_locator("#desktop").get_by_text("View this issue in your browser")).to_be_visible()


@pytest.mark.parametrize(
    "path",
    [
        "/../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "//etc/passwd",
        "/issue.html/../../digest.toml",
        "/digest.toml",
    ],
)
def test_nothing_but_what_it_generated_is_served(running: Running, path: str) -> None:
    response = httpx.get(running.url.rstrip("/") + path)
    assert response.status_code == 404
    assert b"[newsletter]" not in response.content


@pytest.mark.parametrize(
    ("host", "status"),
    [("127.0.0.1", 200), ("localhost", 200), ("rebound.attacker.example", 421), ("127.0.0.1:1", 421)],
)
def test_it_answers_only_to_its_own_address_against_dns_rebinding(
    running: Running, host: str, status: int
) -> None:
    port = running.server.server_address[1]
    header = host if ":" in host else f"{host}:{port}"
    response = httpx.get(running.url, headers={"Host": header})
    assert response.status_code == status
    assert (b"<iframe" in response.content) == (status == 200)


def test_it_listens_on_loopback_only_by_default(running: Running) -> None:
    assert running.server.server_address[0] == "127.0.0.1"


def test_the_switch_shows_each_variant_of_the_issue(browser: Browser, tmp_path: Path) -> None:
    folder = tmp_path / "segmented"
    shutil.copytree(SAMPLE, folder)
    with (folder / "digest.toml").open("a") as config:
        config.write(
            '\n[state]\ndir = "state"\n[segments]\nlanguages = ["fr"]\n'
            '[segments.topics.analysis]\ncategories = ["Analysis"]\n'
        )
    (folder / "subscribers.csv").write_text(
        "email,topics,language\na@example.org,analysis,fr\nb@example.org,,\n"
    )
    server = start(Preview(load_config(folder / "digest.toml"), folder / "state"))
    try:
        page = browser.new_page()
        page.goto(server.url)
        expect(page.locator("#variants a")).to_have_text(["all", "analysis.fr"])
        whole = page.locator("#explain").inner_text()
        page.get_by_role("link", name="analysis.fr").click()
        expect(page.locator('#variants a[aria-current="page"]')).to_have_text("analysis.fr")
        frame = page.frame_locator("#desktop")
        expect(frame.get_by_text("Le choix de la rédaction").first).to_be_visible()
        assert "in none of the variant's topics (analysis)" in page.locator("#explain").inner_text()
        assert "in none of the variant's topics" not in whole
    finally:
        server.close()
