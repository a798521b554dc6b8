"""`digest rebuild`: a past issue built again from the snapshot in its folder, after every input
changed and with no network; byte for byte with the same templates, the same stories with new ones."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

from .conftest import REPO, Cli, HttpServer, Route

LEAD = "https://www.commonground.example/news/2025/11/eu-azerbaijan-security-dialogue"
OTHER_LEAD = "https://www.commonground.example/news/2025/11/iran-iaea-timetable"


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def served(newsletter: Path, http_server: HttpServer) -> str:
    """The sample's feed served on loopback, and the config reading it from there."""
    http_server.routes["/news.rss"] = Route(body=(newsletter / "news.rss").read_bytes(), etag='"v1"')
    config = newsletter / "digest.toml"
    config.write_text(
        config.read_text().replace('feeds = ["news.rss"]', f'feeds = ["{http_server.url("/news.rss")}"]')
    )
    return str(config)


def built(cli: Cli, config: str, *extra: str) -> Path:
    result = cli("build", "--config", config, *extra)
    assert result.exit_code == 0, result.output
    return Path(result.stdout.strip().splitlines()[-1])


def change_every_input(newsletter: Path, http_server: HttpServer) -> None:
    feed = http_server.routes["/news.rss"]
    http_server.routes["/news.rss"] = Route(
        body=feed.body.replace(b"Security Dialogue", b"Talks"), etag='"v2"'
    )
    (newsletter / "analytics.csv").write_text(f"url,pageviews\n{OTHER_LEAD},99999\n")
    (newsletter / "picks.toml").write_text(f'lead = "{OTHER_LEAD}"\n')


def test_a_rebuild_after_every_input_changed_gives_the_issue_byte_for_byte(
    cli: Cli, newsletter: Path, http_server: HttpServer
) -> None:
    config = served(newsletter, http_server)
    folder = built(cli, config)
    first = files(folder)
    assert "inputs.zip" in first
    manifest = json.loads(first["manifest.json"])
    assert manifest["files"]["inputs.zip"]["bytes"] == len(first["inputs.zip"]) < 300_000
    change_every_input(newsletter, http_server)
    # Built today from the changed inputs, the issue would not be the same: the check can fail.
    elsewhere = built(cli, config, "--out", str(newsletter / "elsewhere"))
    assert files(elsewhere)["index.html"] != first["index.html"]
    requests = len(http_server.requests)
    result = cli("rebuild", "1", "--config", config)
    assert result.exit_code == 0, result.output
    assert files(folder) == first
    assert len(http_server.requests) == requests  # no network


def test_new_templates_render_the_same_stories_anew(
    cli: Cli, newsletter: Path, http_server: HttpServer
) -> None:
    config = served(newsletter, http_server)
    folder = built(cli, config)
    change_every_input(newsletter, http_server)
    templates = newsletter / "new-templates" / "partials"
    templates.mkdir(parents=True)
    footer = (REPO / "templates" / "partials" / "footer.mjml.j2").read_text()
    (templates / "footer.mjml.j2").write_text(
        footer.replace("View this issue in your browser", "Read it on the web")
    )
    out = newsletter / "archive-issues"
    result = cli(
        "rebuild", str(folder), "--config", config, "--templates", str(templates.parent), "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    again = files(out / folder.name)
    assert "Read it on the web" in again["index.html"].decode()
    assert "Read it on the web" not in (folder / "index.html").read_text()
    picked = [json.loads(f["manifest.json"])["sections"] for f in (files(folder), again)]
    assert picked[0] == picked[1]  # the same stories, in the same places


def test_a_missing_or_damaged_snapshot_is_one_line(cli: Cli, newsletter: Path) -> None:
    config = str(newsletter / "digest.toml")
    folder = built(cli, config)
    snapshot = folder / "inputs.zip"
    snapshot.write_bytes(snapshot.read_bytes()[:-200])
    result = cli("rebuild", "1", "--config", config)
    assert result.exit_code == 2 and "inputs.zip: damaged snapshot" in result.stderr, result.output
    assert len(result.stderr.strip().splitlines()) == 1
    snapshot.unlink()
    result = cli("rebuild", "1", "--config", config)
    assert result.exit_code == 2 and "no inputs.zip: this issue was built without a snapshot" in result.stderr
    shutil.rmtree(folder)
    result = cli("rebuild", "7", "--config", config)
    assert result.exit_code == 2 and "issue 7 was never built here" in result.stderr


def test_an_issue_built_from_the_feed_cache_after_a_304_rebuilds_too(
    cli: Cli, newsletter: Path, http_server: HttpServer
) -> None:
    config = served(newsletter, http_server)
    built(cli, config)
    folder = built(cli, config)  # the feed answers 304: the cached feed stands for it
    assert http_server.requests[-1][1].get("If-None-Match") == '"v1"'
    second = files(folder)
    change_every_input(newsletter, http_server)
    assert cli("rebuild", "1", "--config", config).exit_code == 0
    assert files(folder) == second


def test_the_snapshot_holds_no_secret(cli: Cli, newsletter: Path) -> None:
    secrets = {
        "DIGEST_SMTP_PASSWORD": "smtp-secret-4711",
        "DIGEST_UNSUBSCRIBE_SECRET": "hmac-secret-4712",
        "DIGEST_ANALYTICS_TOKEN": "token-secret-4713",
        "DIGEST_FEEDBACK_PASSWORD": "imap-secret-4714",
    }
    result = cli("build", "--config", str(newsletter / "digest.toml"), env=secrets)
    assert result.exit_code == 0, result.output
    folder = Path(result.stdout.strip().splitlines()[-1])
    with zipfile.ZipFile(folder / "inputs.zip") as snapshot:
        kept = b"".join(snapshot.read(name) for name in snapshot.namelist())
    assert b"DIGEST_SMTP_PASSWORD" in kept  # the name of the variable, which the config holds
    assert not [name for name, value in secrets.items() if value.encode() in kept]


def test_a_hand_edited_snapshot_goes_through_the_same_url_rules_as_a_feed(cli: Cli, newsletter: Path) -> None:
    config = str(newsletter / "digest.toml")
    folder = built(cli, config)
    snapshot = folder / "inputs.zip"
    with zipfile.ZipFile(snapshot) as original:
        members = {name: original.read(name) for name in original.namelist()}
    index = json.loads(members["snapshot.json"])
    name = index["feeds"][0]["feed"]
    feed = json.loads(members[name])
    lead = next(item for item in feed["items"] if item["url"] == LEAD)
    lead["url"] = "javascript:alert(document.cookie)"
    for item in feed["items"]:
        if item.get("image"):
            item["image"]["url"] = "data:image/svg+xml,<svg onload=alert(1)>"
    members[name] = json.dumps(feed).encode()
    with zipfile.ZipFile(snapshot, "w") as edited:
        for member, data in members.items():
            edited.writestr(member, data)
    result = cli("rebuild", str(folder), "--config", config, "--out", str(newsletter / "again"))
    assert result.exit_code == 0, result.output
    again = Path(result.stdout.strip().splitlines()[-1])
    for path in again.iterdir():
        if path.name == "inputs.zip":  # the snapshot itself, kept as it was
            continue
        text = path.read_bytes()
        assert b"javascript:" not in text and b"data:image" not in text, path.name
