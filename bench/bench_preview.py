"""Preview figures: from a template saved to the new version served, median of several edits."""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from digest.config import load_config
from digest.resources import sample_dir, templates_dir
from digest.web.preview import Preview, start

EDITS = 8


def rebuild_latency() -> None:
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work) / "news"
        shutil.copytree(sample_dir(), folder)
        (folder / "templates" / "partials").mkdir(parents=True)
        footer = folder / "templates" / "partials" / "footer.mjml.j2"
        shutil.copy(templates_dir() / "partials" / "footer.mjml.j2", footer)
        with (folder / "digest.toml").open("a") as config:
            config.write('\n[output]\ntemplates = "templates"\n[state]\ndir = "state"\n')
        running = start(Preview(load_config(folder / "digest.toml"), folder / "state"))
        latencies, builds = [], []
        try:
            with httpx.Client() as http:
                for edit in range(EDITS):
                    version = http.get(running.url + "version").json()["version"]
                    saved = time.perf_counter()
                    footer.write_text(footer.read_text() + f"\n{{# edit {edit} #}}\n")
                    while (state := http.get(running.url + "version").json())["version"] == version:
                        time.sleep(0.005)
                    latencies.append(time.perf_counter() - saved)
                    builds.append(state["seconds"])
                    time.sleep(0.3)  # let the watcher settle before the next edit
        finally:
            running.close()
    print(f"preview: template saved → new version served, median of {EDITS} edits:")
    print(f"  {'saved → served':<44} {statistics.median(latencies) * 1000:7.0f} ms")
    print(f"  {'of which the rebuild itself':<44} {statistics.median(builds) * 1000:7.0f} ms")


if __name__ == "__main__":
    rebuild_latency()
