"""Where the packaged templates and the bundled sample newsletter live, and digest's cache.

In a wheel they are `digest/_data/...` (the build copies them in); in a source
checkout they are the repository's top-level `templates/` and `fixtures/sample/`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _data(packaged: str, checkout: str) -> Path:
    inside = _PACKAGE / "_data" / packaged
    return inside if inside.is_dir() else _PACKAGE.parent / checkout


def templates_dir() -> Path:
    return _data("templates", "templates")


def sample_dir() -> Path:
    return _data("sample", "fixtures/sample")


def starter_dir() -> Path:
    """What `digest init` copies into a new newsletter folder."""
    return _data("starter", "fixtures/starter")


DISTRIBUTION = "newsletter-digest"  # the name on the package index; the import name is digest


@cache
def version() -> str:
    """The one version number: the installed distribution's metadata (pyproject.toml's).

    Read from the metadata's headers: `importlib.metadata.version` parses the whole file, the
    README included, which cost every build (its manifest names the version) ≈ 2 ms.
    """
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        metadata = distribution(DISTRIBUTION).read_text("METADATA") or ""
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "0+unknown"
    headers = metadata.split("\n\n", 1)[0].splitlines()
    return next(
        (line.removeprefix("Version:").strip() for line in headers if line.startswith("Version:")),
        "0+unknown",
    )
