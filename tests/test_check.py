"""`digest check`: passes on the sample issue; each rule fires on an issue broken for it."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from digest.check import Parts, check, read_issue
from digest.config import load_config

from .conftest import SAMPLE, Cli, build_into

Breaker = Callable[[Path], None]


@pytest.fixture(scope="module")
def sample_issue(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder, _ = build_into(load_config(SAMPLE / "digest.toml"), tmp_path_factory.mktemp("issue"))
    return folder


def edit(name: str, old: str, new: str, count: int = 1) -> Breaker:
    def breaker(folder: Path) -> None:
        path = folder / name
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} is not in {name}: the breaker no longer breaks anything"
        path.write_text(text.replace(old, new, count), encoding="utf-8")

    return breaker


def edit_bytes(name: str, old: bytes, new: bytes) -> Breaker:
    def breaker(folder: Path) -> None:
        path = folder / name
        data = path.read_bytes()
        assert old in data
        path.write_bytes(data.replace(old, new, 1))

    return breaker


def sub(name: str, pattern: str, new: str) -> Breaker:
    def breaker(folder: Path) -> None:
        path = folder / name
        text, count = re.subn(pattern, new, path.read_text(encoding="utf-8"), count=1)
        assert count == 1
        path.write_text(text, encoding="utf-8")

    return breaker


BROKEN: dict[str, Breaker] = {
    "size": edit("index.html", "</body>", "<p>" + "x" * 110_000 + "</p></body>"),
    "style-size": edit("index.html", "</style>", "/*" + "x" * 17_000 + "*/</style>"),
    "style-nesting": edit("index.html", "</style>", ".a { @media print { .b { color: red } } }</style>"),
    "doctype": edit("index.html", "<!doctype html>\n", ""),
    "lang": edit("index.html", '<html lang="en-GB"', '<html lang="und"'),
    "title": sub("index.html", r"<title>[^<]*</title>", "<title> </title>"),
    "img-alt": sub("index.html", r' alt="[^"]*"', ""),
    "img-width": sub("index.html", r'(<img[^>]*) width="\d+"', r"\1"),
    "img-format": edit(
        "index.html", "</body>", '<img src="data:image/png;base64,AAAA" alt="x" width="1"></body>'
    ),
    "table-role": edit("index.html", 'role="presentation"', "", count=-1),
    "headings": sub("index.html", r"<h2\b", "<h4"),
    "links": sub(
        "index.html", r'href="https://www\.commonground\.example/news[^"]*"', 'href="/news/relative"'
    ),
    "script": edit("index.html", "</body>", "<script>alert(1)</script></body>"),
    "remote-css": edit(
        "index.html", "</head>", '<link rel="stylesheet" href="https://cdn.example/x.css"></head>'
    ),
    "template-syntax": edit("index.html", "Popular</h2>", "{{ section.title }}</h2>"),
    "text-width": edit("digest.txt", "LEAD STORY", "LEAD STORY " + "word " * 20),
    "text-html": edit("digest.txt", "LEAD STORY", "<p>LEAD STORY</p>"),
    "mime-headers": edit_bytes("message.eml", b"Message-ID:", b"X-Gone:"),
    "mime-structure": edit_bytes("message.eml", b"multipart/alternative", b"multipart/mixed"),
}


def test_the_sample_issue_passes(sample_issue: Path) -> None:
    assert check(read_issue(sample_issue)) == []


@pytest.mark.parametrize("rule", sorted(BROKEN))
def test_each_rule_fires_on_an_issue_broken_for_it(sample_issue: Path, tmp_path: Path, rule: str) -> None:
    broken = tmp_path / "issue"
    shutil.copytree(sample_issue, broken)
    BROKEN[rule](broken)
    fired = {v.rule for v in check(read_issue(broken)) if v.severity == "error"}
    assert rule in fired
    # ...and only what was broken (a heading skip may also be a size change, nothing more).
    assert fired <= {rule, "size"}


def test_violations_say_where_they_are(sample_issue: Path, tmp_path: Path) -> None:
    broken = tmp_path / "issue"
    shutil.copytree(sample_issue, broken)
    edit("index.html", "</body>", "\n<script>x()</script></body>")(broken)
    [violation] = check(read_issue(broken))
    html = (broken / "index.html").read_text()
    line = html.count("\n", 0, html.index("<script>")) + 1
    assert violation.where == f"index.html:{line}"
    assert str(violation) == f"index.html:{line}: error: script: <script> in an email"


def page(body: str) -> str:
    return f'<!doctype html><html lang="en"><head><title>t</title></head><body>{body}</body></html>'


def test_an_http_link_is_a_warning_not_an_error() -> None:
    [violation] = check(Parts(page('<a href="http://x.example/">x</a>')))
    assert (violation.rule, violation.severity) == ("links", "warning")


def test_configured_merge_tags_are_allowed_links() -> None:
    html = page('<a href="*|UNSUB|*">u</a>')
    assert {v.rule for v in check(Parts(html))} == {"links", "template-syntax"}
    assert check(Parts(html, merge_tags=("*|UNSUB|*",))) == []


def test_a_link_that_runs_code_is_an_error_even_when_called_a_merge_tag() -> None:
    href = "java\nscript:alert(1)"
    [violation] = check(Parts(page(f'<a href="{href}">u</a>'), merge_tags=(href,)))
    assert (violation.rule, violation.severity) == ("links", "error")
    assert "a javascript: link runs code" in violation.message


def test_the_cli_prints_each_violation_and_exits_1(cli: Cli, sample_issue: Path, tmp_path: Path) -> None:
    ok = cli("check", str(sample_issue))
    assert ok.exit_code == 0 and ok.stdout.strip().endswith(f"0 errors, 0 warnings: {sample_issue}")
    broken = tmp_path / "issue"
    shutil.copytree(sample_issue, broken)
    BROKEN["script"](broken)
    BROKEN["lang"](broken)
    result = cli("check", str(broken))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert any(re.match(rf"{re.escape(str(broken))}/index.html:\d+: error: script:", line) for line in lines)
    assert lines[-1] == f"2 errors, 0 warnings: {broken}"
    html_only = cli("check", str(broken / "index.html"))
    assert html_only.exit_code == 1


def test_check_of_something_that_is_not_an_issue_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    result = cli("check", str(tmp_path))
    assert result.exit_code == 2
    assert "not a built issue: index.html is missing" in result.stderr


def test_build_drops_the_lowest_ranked_stories_to_stay_under_100_kb(cli: Cli, newsletter: Path) -> None:
    templates = newsletter / "templates"
    templates.mkdir()
    # A popular list whose every entry weighs 20 KB: five of them would pass Gmail's limit.
    (templates / "partials").mkdir()
    (templates / "partials" / "popular.mjml.j2").write_text(
        "<mj-section><mj-column>{% for pick in popular %}<mj-text>"
        "<a href=\"{{ track(pick.item.url, 'popular') }}\">{{ pick.item.title }}</a>"
        '{{ "x" * 20000 }}</mj-text>{% endfor %}</mj-column></mj-section>'
    )
    with (newsletter / "digest.toml").open("a") as config:
        config.write('\n[output]\ntemplates = "templates"\n')
    result = cli("build", "--config", str(newsletter / "digest.toml"))
    assert result.exit_code == 0, result.stderr
    assert "lowest-ranked stories to keep the HTML under 100 KB" in result.stderr
    folder = Path(result.stdout.splitlines()[-1])
    assert (folder / "index.html").stat().st_size < 100 * 1024
    assert cli("check", str(folder)).exit_code == 0
    manifest = json.loads((folder / "manifest.json").read_text())
    assert 0 < len(manifest["sections"]["popular"]) < 5
    demoted = [c for c in manifest["candidates"] if c["reason"] == "dropped to keep the HTML under 100 KB"]
    assert len(demoted) == 5 - len(manifest["sections"]["popular"])
