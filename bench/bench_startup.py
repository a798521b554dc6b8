"""Start-up figures, each beside its reference, run side by side (interleaved) in one run:

- `digest --help` against `python -c "import typer"` (goal: at most 1.5 times): what every
  `--help`, `--version`, typo and completion keystroke costs;
- a cold `digest build` of the sample in a new process against the reference `mjml` CLI (node,
  installed under tests/node by `make test`) rendering the same MJML alone (goal: at most 0.8
  times): the whole build, feeds to inlined HTML, against one of its stages done by the tool
  MJML's authors ship. Beside it, the floor: a new interpreter that only imports the libraries a
  build of the sample needs (typer with the pydantic it loads to parse flags, feedparser, jinja2,
  Babel, premailer, mjml), doing nothing with them; and typer parsing `digest build`'s own flags
  into a command that does nothing, the CLI framework's share of every build. Both run under
  the garbage-collector settings of every digest command (`digest.cli.collect_seldom`).

Then where a cold build's work goes, in instructions counted by valgrind's callgrind (installed
by `make bench`): the same count on every run, where wall-clock times move by ±10 % on a shared
machine, so that a change of a few milliseconds shows. The lines add up: the interpreter alone,
importing the chosen libraries (the floor above), the other libraries digest's modules import,
digest's own modules, and the build's work.

digest's bytecode is compiled first, as installing a wheel does: a checkout run with
PYTHONDONTWRITEBYTECODE would otherwise compile every module of digest on every run (some 70 ms
that no installed copy pays).
"""

from __future__ import annotations

import compileall
import datetime as dt
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from measure import run_measured

from digest.build import compose_issue, read_inputs
from digest.config import load_config
from digest.models import issue_moment
from digest.resources import sample_dir

ROOT = Path(__file__).resolve().parents[1]
MJML = ROOT / "tests" / "node" / "node_modules" / ".bin" / "mjml"
DIGEST = Path(sys.executable).with_name("digest")
HELP_GOAL, BUILD_GOAL = 1.5, 0.8
_AS_DIGEST_RUNS = "from digest.cli import collect_seldom\nwith collect_seldom():\n"
# typer parsing `digest build`'s own flags (and importing the CLI module that declares them) into
# a command that does nothing: the part of a cold build that is the CLI framework's, whatever the
# command then does. typer 0.29 imports pydantic here to coerce the flags.
PARSE_ONLY = _AS_DIGEST_RUNS + (
    "    import inspect, sys, typer\n    from digest.cli.build import build\n"
    "    def nothing(**flags): pass\n"
    "    nothing.__signature__ = inspect.signature(build)\n"
    "    app = typer.Typer(); app.command()(nothing); app(sys.argv[1:])\n"
)
# typer._adapters: what typer 0.29 loads to coerce any flag (pydantic, with its constraint types).
FLOOR = _AS_DIGEST_RUNS + (
    "    from digest._lazy import defer_import; defer_import('requests'); defer_import('chardet')\n"
    "    import typer, typer._adapters, feedparser, jinja2, premailer, babel.dates, mjml\n"
)
# What digest's modules import beyond the floor: msgspec (the records' base), the parsers and
# stores of the stages.
OTHERS = FLOOR + (
    "    import lxml.html, email.message, email.policy, sqlite3\n"
    "    import tomllib, nh3, w3lib.url, msgspec\n"
)
IMPORTS = OTHERS + "    import digest.cli, digest.build, digest.render.issue, digest.render.message\n"


def _side_by_side(ours: list[str], reference: list[str], runs: int, cwd: str) -> tuple[float, float]:
    """Median seconds of each command, run alternately so that both see the same machine."""
    run_measured(ours, cwd=cwd)  # warm the file cache for both
    run_measured(reference, cwd=cwd)
    mine, theirs = [], []
    for _ in range(runs):
        mine.append(run_measured(ours, cwd=cwd)[0])
        theirs.append(run_measured(reference, cwd=cwd)[0])
    return statistics.median(mine), statistics.median(theirs)


def _line(label: str, ours: float, reference: float, goal: float, reference_label: str) -> None:
    ratio = ours / reference
    verdict = "met" if ratio <= goal else "MISSED"
    print(f"{label:<48} {ours * 1000:8.1f} ms")
    print(f"{'  ' + reference_label:<48} {reference * 1000:8.1f} ms")
    print(f"{'  ratio':<48} {ratio:8.2f} ×  (goal ≤ {goal})  {verdict}")


def _share(label: str, code: list[str], mjml: list[str], cwd: str) -> None:
    """`python -c code...` beside the mjml CLI: a part of the cold build, as a ratio to the reference."""
    ours, reference = _side_by_side([sys.executable, "-c", *code], mjml, 9, cwd)
    print(f"{'  ' + label:<48} {ours * 1000:8.1f} ms")
    print(f"{'  ratio to the mjml CLI (measured beside it)':<48} {ours / reference:8.2f} ×")


def instructions(valgrind: str, command: list[str], cwd: str) -> int:
    """The instructions `command` runs, by callgrind's count."""
    run = [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", *command]
    done = subprocess.run(run, cwd=cwd, capture_output=True, text=True, check=True)
    counted = re.search(r"Collected : (\d+)", done.stderr)
    if counted is None:
        raise RuntimeError(f"no instruction count in callgrind's output: {done.stderr[-300:]}")
    return int(counted[1])


def _where_it_goes(build: list[str], cwd: str) -> None:
    print("where a cold build goes, in instructions (callgrind: the same count on every run)")
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        print("  valgrind is not installed (make bench installs it); skipped")
        return
    steps = [
        ("the interpreter, started and stopped", [sys.executable, "-c", "pass"]),
        ("+ importing the chosen libraries (the floor)", [sys.executable, "-c", FLOOR]),
        ("+ the other libraries digest's modules import", [sys.executable, "-c", OTHERS]),
        ("+ digest's own modules", [sys.executable, "-c", IMPORTS]),
        ("+ building the issue (the whole cold build)", build),
    ]
    counts = [instructions(valgrind, command, cwd) for _, command in steps]
    before = 0
    for (label, _), count in zip(steps, counts, strict=True):
        print(f"  {label:<48} {(count - before) / 1e6:6.0f} M  {(count - before) / counts[-1]:4.0%}")
        before = count


def figures() -> None:
    print("start-up: median of interleaved runs, each in a new process")
    compileall.compile_dir(str(ROOT / "digest"), quiet=1)
    with tempfile.TemporaryDirectory() as tmp:
        help_ms, typer_ms = _side_by_side(
            [str(DIGEST), "--help"], [sys.executable, "-c", "import typer"], 21, tmp
        )
        _line("digest --help", help_ms, typer_ms, HELP_GOAL, 'python -c "import typer" (reference)')
        if not MJML.exists():
            print(f"cold build: the mjml CLI is not installed ({MJML}; make test installs it); skipped")
            return
        config = load_config(sample_dir() / "digest.toml")
        assert config.issue.date is not None
        built = compose_issue(read_inputs(config), config, issue_moment(config.issue.date))
        source = Path(tmp) / "issue.mjml"
        source.write_text(built.issue.rendered.mjml, encoding="utf-8")
        out = Path(tmp) / "out"
        mjml = [str(MJML), str(source), "-o", str(Path(tmp) / "issue.html")]
        build_ms, mjml_ms = _side_by_side([str(DIGEST), "build", "--out", str(out)], mjml, 9, tmp)
        shutil.rmtree(out, ignore_errors=True)
        reference = "mjml CLI, the same MJML alone"
        _line("cold digest build of the sample", build_ms, mjml_ms, BUILD_GOAL, reference)
        _share("floor: importing its libraries, nothing else", [FLOOR], mjml, tmp)
        _share("typer parsing its flags, an empty command", [PARSE_ONLY, "--out", str(out)], mjml, tmp)
        _where_it_goes([str(DIGEST), "build", "--out", str(out)], tmp)
        shutil.rmtree(out, ignore_errors=True)
    print(f"measured {dt.date.today().isoformat()}")
