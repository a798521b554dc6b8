"""`make screenshots`: the sample issue in headless Chromium, 600 px and 375 px wide, light and dark.

Pictures for a person to look at, written to build/screenshots/; no test asserts on them.
Debian's Chromium, driven by Playwright with its executable path (no browser download).
"""

from __future__ import annotations

import struct
import sys
import tempfile
import zlib
from pathlib import Path

from playwright.sync_api import Playwright, sync_playwright

from digest.build import build
from digest.config import load_config
from digest.models import issue_moment
from digest.resources import sample_dir
from tests.tools.browser import CHROMIUM, FLAGS


def _png(width: int, height: int, grey: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes([grey]) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


PLACEHOLDER = _png(160, 90, 0xB0)


def main(out: Path) -> None:
    config = load_config(sample_dir() / "digest.toml")
    assert config.issue.date is not None
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        # Built before Playwright starts: its sync API runs an event loop of its own.
        folder, _ = build(
            config, issue_moment(config.issue.date), Path(work) / "issues", Path(work) / "state"
        )
        with sync_playwright() as playwright:
            shoot(playwright, folder, out)


def shoot(playwright: Playwright, folder: Path, out: Path) -> None:
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
    for width in (600, 375):
        for scheme in ("light", "dark"):
            page = browser.new_page(viewport={"width": width, "height": 900}, color_scheme=scheme)
            # Images point at the sample site, which does not exist: a grey 16:9 picture stands in.
            page.route(
                "http*://**/*", lambda route: route.fulfill(body=PLACEHOLDER, content_type="image/png")
            )
            page.goto((folder / "index.html").as_uri())
            target = out / f"sample-{width}-{scheme}.png"
            page.screenshot(path=str(target), full_page=True)
            overflow = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
            print(f"{target}{'  (scrolls sideways!)' if overflow else ''}")
            page.close()
    browser.close()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "build/screenshots"))
