"""Where the packaged templates and the bundled sample newsletter live, and digest's cache.

In a wheel they are `digest/_data/...` (the build copies them in); in a source
checkout they are the repository's top-level `templates/` and `fixtures/sample/`.
"""

from __future__ import annotations

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
