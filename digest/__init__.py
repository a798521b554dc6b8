"""digest: build a weekly newsletter digest from feeds: a lead story, editor's choice and popular.

The library is usable without the CLI::

    import datetime as dt
    from pathlib import Path

    import digest

    config = digest.load_config(Path("digest.toml"))
    now = digest.issue_moment(dt.date(2025, 11, 24))
    folder, built = digest.build(config, now, Path("issues"), Path(".digest"))

`build` reads the inputs, composes the issue, writes its folder and records it; `read_inputs`
and `compose_issue` are the same steps apart (`compose_issue` is pure). Every failure a user can
act on is a `DigestError` whose text is one line naming the file and the problem, and whose
`exit_code` is the CLI's.

The names below load their modules when first used, so `import digest` (and the CLI's
`--help`) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from digest._lazy import lazy_exports

if TYPE_CHECKING:
    from digest.build import Built, Inputs, build, compose_issue, read_inputs
    from digest.config import Config, load_config
    from digest.errors import DigestError, ExitCode
    from digest.models import Issue, Item, Selection, issue_moment

_EXPORTS = {
    "Built": "digest.build",
    "Inputs": "digest.build",
    "build": "digest.build",
    "compose_issue": "digest.build",
    "read_inputs": "digest.build",
    "Config": "digest.config",
    "load_config": "digest.config",
    "DigestError": "digest.errors",
    "ExitCode": "digest.errors",
    "Issue": "digest.models",
    "Item": "digest.models",
    "Selection": "digest.models",
    "issue_moment": "digest.models",
}

__all__ = [
    "Built",
    "Config",
    "DigestError",
    "ExitCode",
    "Inputs",
    "Issue",
    "Item",
    "Selection",
    "__version__",
    "build",
    "compose_issue",
    "issue_moment",
    "load_config",
    "read_inputs",
]


_exported = lazy_exports(__name__, _EXPORTS)


def __getattr__(name: str) -> Any:
    if name == "__version__":  # read once, when first asked (the metadata costs some ms)
        from digest.resources import version

        globals()["__version__"] = version()
        return globals()["__version__"]
    return _exported(name)
