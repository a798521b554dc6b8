"""Analytics exports as each tool writes them (files made in their documented shapes), and paths
and hosts resolved so that every row meets the story it counts."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from pathlib import Path

import pytest
from typer.testing import Result

from digest.analytics import PageViews, Site, load_analytics
from digest.errors import InputError

from .conftest import SAMPLE, Cli

SITE = Site("https://www.commonground.example/", ("https://commonground.example", "https://old-name.example"))
STORY = "https://www.commonground.example/news/2025/11/un-security-council-gaza-peace-plan"
OTHER = "https://www.commonground.example/news/2025/11/iran-iaea-timetable"
PATH, OTHER_PATH = "/news/2025/11/un-security-council-gaza-peace-plan", "/news/2025/11/iran-iaea-timetable"


def read(tmp_path: Path, name: str, data: bytes | str, site: Site = SITE) -> PageViews:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return load_analytics([(path, name)], site)


GA4_CSV = f"""\ufeff# ----------------------------------------
# Pages and screens: Page path and screen class
# Account: CommonGround
# Property: commonground.example
# ----------------------------------------
#
# Start date: 20251117
# End date: 20251123
Page path and screen class,Views,Active users,Views per active user,Average engagement time,Event count
,"31,600",20110,1.57,45.2,80000
{PATH},"18,400",12000,1.53,51.0,40000
{OTHER_PATH},11200,8000,1.4,40.0,20000
/about/,90,80,1.1,10.0,200
"""

GA4_REPORT = {
    "dimensionHeaders": [{"name": "pagePath"}],
    "metricHeaders": [{"name": "screenPageViews", "type": "TYPE_INTEGER"}],
    "rows": [
        {"dimensionValues": [{"value": PATH}], "metricValues": [{"value": "18400"}]},
        {"dimensionValues": [{"value": OTHER_PATH}], "metricValues": [{"value": "11200"}]},
    ],
    "rowCount": 2,
    "kind": "analyticsData#runReport",
}

PLAUSIBLE_API = {
    "results": [
        {"metrics": [12000, 18400], "dimensions": [PATH]},
        {"metrics": [8000, 11200], "dimensions": [OTHER_PATH]},
    ],
    "meta": {},
    "query": {
        "site_id": "commonground.example",
        "metrics": ["visitors", "pageviews"],
        "date_range": ["2025-11-17T00:00:00+00:00", "2025-11-23T23:59:59+00:00"],
        "dimensions": ["event:page"],
    },
}


def plausible_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("visitors.csv", "date,visitors,pageviews\n2025-11-17,100,200\n")
        archive.writestr(
            "pages.csv",
            f"name,visitors,pageviews,bounce_rate,time_on_page\n{PATH},12000,18400,40,50\n{OTHER_PATH},8000,11200,45,40\n",
        )
    return buffer.getvalue()


MATOMO_TSV = (
    "label\tnb_visits\tnb_hits\tsum_time_spent\turl\n"
    f"news/2025/11/un-security-council-gaza-peace-plan\t12000\t18400\t1000\t{STORY}\n"
    f"news/2025/11/iran-iaea-timetable\t8000\t11200\t900\t{OTHER}\n"
)
MATOMO_JSON = [
    {"label": PATH, "nb_visits": 12000, "nb_hits": 18400, "url": STORY},
    {"label": OTHER_PATH, "nb_visits": 8000, "nb_hits": 11200},
]
UMAMI_METRICS = [{"x": PATH, "y": 18400}, {"x": OTHER_PATH, "y": 11200}]
FATHOM = [
    {"pathname": PATH, "pageviews": "18400", "visits": "12000"},
    {"pathname": OTHER_PATH, "pageviews": "11200"},
]


def umami_events() -> str:
    header = (
        "website_id,session_id,visit_id,event_id,created_at,url_path,url_query,referrer_path,"
        "page_title,event_type,event_name\n"
    )
    rows = [f"w,s{n},v{n},e{n},2025-11-18 10:00:00,{PATH},,,Gaza,1,\n" for n in range(3)]
    rows += [f"w,s9,v9,e9,2025-11-18 10:00:00,{OTHER_PATH},utm_source=x,,Iran,1,\n"]
    rows += [f"w,s9,v9,e10,2025-11-18 10:00:01,{OTHER_PATH},,,Iran,2,signup-click\n"]  # not a page view
    return header + "".join(rows)


@pytest.mark.parametrize(
    ("name", "data", "expected", "kind"),
    [
        ("ga4.csv", GA4_CSV, (18400, 11200), "ga4 csv"),
        ("ga4.json", json.dumps(GA4_REPORT), (18400, 11200), "ga4 runReport json"),
        (
            "commonground_example_20251117_20251123.zip",
            plausible_zip(),
            (18400, 11200),
            "plausible zip",
        ),
        ("plausible.json", json.dumps(PLAUSIBLE_API), (18400, 11200), "plausible api json"),
        ("matomo.tsv", MATOMO_TSV.encode("utf-16"), (18400, 11200), "matomo csv"),  # UTF-16LE with a BOM
        ("matomo.csv", MATOMO_TSV.replace("\t", ",").encode("utf-16"), (18400, 11200), "matomo csv"),
        ("matomo.json", json.dumps(MATOMO_JSON), (18400, 11200), "matomo json"),
        ("umami.json", json.dumps(UMAMI_METRICS), (18400, 11200), "umami metrics json"),
        ("umami-events.csv", umami_events(), (3, 1), "umami events"),
        ("fathom.json", json.dumps(FATHOM), (18400, 11200), "fathom json"),
    ],
)
def test_each_tools_export_gives_its_views_to_the_stories(
    tmp_path: Path, name: str, data: bytes | str, expected: tuple[int, int], kind: str
) -> None:
    views = read(tmp_path, name, data)
    assert (views.get(STORY), views.get(OTHER)) == expected
    assert views.formats == [kind]
    assert (
        STORY + "/" in views
        and "https://commonground.example/news/2025/11/iran-iaea-timetable?utm_source=x" in views
    )


def test_several_exports_are_added_up(tmp_path: Path) -> None:
    (tmp_path / "web.csv").write_text(GA4_CSV)
    (tmp_path / "app.json").write_text(json.dumps(UMAMI_METRICS))
    views = load_analytics([(tmp_path / "web.csv", "web.csv"), (tmp_path / "app.json", "app.json")], SITE)
    assert views[STORY] == 2 * 18400


@pytest.mark.parametrize(
    "page",
    [
        STORY,
        STORY + "/",  # a trailing slash
        STORY + "?utm_source=newsletter&utm_medium=email",  # tracking parameters
        STORY + "?page=2#comments",  # any query, a fragment
        "http://commonground.example/news/2025/11/un-security-council-gaza-peace-plan",  # bare host, http
        "https://old-name.example/news/2025/11/un-security-council-gaza-peace-plan",  # the old domain
        "HTTPS://WWW.COMMONGROUND.EXAMPLE/news/2025/11/un-security-council-gaza-peace-plan",
        PATH,
        PATH + "/",
    ],
)
def test_a_page_is_one_page_however_it_is_written(tmp_path: Path, page: str) -> None:
    views = read(tmp_path, "views.csv", f"url,pageviews\n{page},7\n")
    assert views.get(STORY) == 7


def test_percent_encoded_and_idn_urls_match_their_unicode_forms(tmp_path: Path) -> None:
    site = Site("https://www.bücher.example/")
    views = read(
        tmp_path,
        "views.csv",
        "url,pageviews\n/caf%C3%A9-stories,5\nhttps://www.xn--bcher-kva.example/caf%c3%a9-stories/,1\n",
        site,
    )
    assert views.get("https://bücher.example/café-stories") == 6


def test_paths_without_newsletter_url_are_counted_as_unresolved(tmp_path: Path) -> None:
    views = read(tmp_path, "views.csv", f"page path,views\n{PATH},5\n{STORY},2\n", Site())
    assert (views.rows, views.unresolved, views.get(STORY)) == (2, 1, 2)


def test_the_sample_export_still_reads(tmp_path: Path) -> None:
    views = load_analytics([(SAMPLE / "analytics.csv", "analytics.csv")], Site())
    assert views[STORY] == 18400


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        (
            "a.csv",
            "address,count\nhttps://x.example/a,3\n",
            "no page column and page-view column found in address, count"
            " (a GA4, Plausible, Matomo or Umami export, or url,pageviews)",
        ),
        ("a.csv", "url,pageviews\nhttps://x.example/a,lots\n", "line 2: page views 'lots' is not a number"),
        (
            "a.csv",
            "url,pageviews\nhttps://x.example/a,2.5\n",
            "line 2: page views '2.5' is not a whole number",
        ),
        ("v.json", "[1, 2]", "not an analytics export digest knows: row 1 is not an object"),
        (
            "v.json",
            '[{"url": "https://x.example/a"}]',
            "not an analytics export digest knows: row 1 has no page and page-view fields",
        ),
        (
            "v.json",
            '{"https://x.example/a": -3}',
            "key 'https://x.example/a': page views '-3' is not a whole number",
        ),
        ("v.json", '{"https://x.example/a": ', "invalid JSON at line 1: Expecting value"),
        ("v.zip", b"PK\x03\x04broken", "a damaged zip: File is not a zip file"),
        ("gone.csv", None, "analytics file not found"),
    ],
)
def test_a_malformed_export_is_one_line_naming_the_file(
    tmp_path: Path, name: str, text: str | bytes | None, expected: str
) -> None:
    path = tmp_path / name
    if text is not None:
        path.write_bytes(text.encode() if isinstance(text, str) else text)
    with pytest.raises(InputError) as caught:
        load_analytics([(path, name)], SITE)
    assert str(caught.value) == f"{name}: {expected}"


# --- what the build says of them


def build_with(cli: Cli, newsletter: Path, export: str, name: str = "views.csv") -> Result:
    (newsletter / name).write_text(export)
    config = newsletter / "digest.toml"
    config.write_text(config.read_text().replace('analytics = "analytics.csv"', f'analytics = "{name}"'))
    return cli("build", "--config", str(config), "--out", str(newsletter / "issues"))


def test_the_build_says_how_many_stories_got_page_views(cli: Cli, newsletter: Path) -> None:
    result = build_with(cli, newsletter, (newsletter / "analytics.csv").read_text())
    assert result.exit_code == 0, result.output
    assert "digest: analytics: 16 of 16 candidates matched, 32 rows read, 16 for other pages" in result.stderr
    manifest = json.loads(next((newsletter / "issues").glob("*/manifest.json")).read_text())
    assert manifest["analytics"] == {"candidates": 16, "matched": 16, "rows": 32, "other_rows": 16}


def test_an_export_of_another_site_matches_nothing_and_says_why(cli: Cli, newsletter: Path) -> None:
    export = f"url,pageviews\nhttps://elsewhere.example{PATH},500\nhttps://elsewhere.example/other,20\n"
    result = build_with(cli, newsletter, export)
    assert result.exit_code == 0, result.output
    assert "0 of 16 candidates matched" in result.stderr
    assert (
        "warning: analytics: no story got page views: its pages are on elsewhere.example,"
        " the stories on commonground.example (sources.site_urls?)" in result.stderr
    )


def test_an_export_of_last_month_is_a_period_warning(cli: Cli, newsletter: Path) -> None:
    last_month = GA4_CSV.replace("20251117", "20251001").replace("20251123", "20251031")
    result = build_with(cli, newsletter, last_month, "ga4.csv")
    assert result.exit_code == 0, result.output
    said = "ga4.csv covers 2025-10-01 to 2025-10-31; this issue covers 2025-11-17 to 2025-11-23"
    assert f"warning: analytics: {said}" in result.stderr


def test_explain_shows_what_the_views_column_rests_on(cli: Cli, newsletter: Path) -> None:
    result = cli(
        "build", "--config", str(newsletter / "digest.toml"), "--out", str(newsletter / "o"), "--explain"
    )
    assert result.exit_code == 0, result.output
    table, folder = result.stdout.rstrip().rsplit("\n", 1)
    assert table.rstrip().endswith("analytics: 16 of 16 candidates matched, 32 rows read, 16 for other pages")
    assert Path(folder).is_dir()


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("ga4.csv", GA4_CSV),
        ("commonground_example_20251117_20251123.zip", plausible_zip()),
        ("plausible.json", json.dumps(PLAUSIBLE_API)),
    ],
)
def test_the_period_an_export_states_is_read(tmp_path: Path, name: str, data: bytes | str) -> None:
    assert read(tmp_path, name, data).periods == [(name, dt.date(2025, 11, 17), dt.date(2025, 11, 23))]


def test_the_flag_states_the_period_of_an_export_that_does_not(cli: Cli, newsletter: Path) -> None:
    config = str(newsletter / "digest.toml")
    out = str(newsletter / "issues")
    result = cli("build", "--config", config, "--out", out, "--analytics-period", "2025-10-01..2025-10-31")
    assert result.exit_code == 0, result.output
    said = "analytics.csv covers 2025-10-01 to 2025-10-31; this issue covers 2025-11-17 to 2025-11-23"
    assert f"warning: analytics: {said}" in result.stderr
    fine = cli("build", "--config", config, "--out", out, "--analytics-period", "2025-11-17..2025-11-23")
    assert "covers" not in fine.stderr
    bad = cli("build", "--config", config, "--analytics-period", "last week")
    assert bad.exit_code == 2 and "expected START..END" in bad.stderr
