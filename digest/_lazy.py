"""The import tricks that keep start-up short, in one place, each contained: other code in the
same process sees the modules it imports as they are.

- `lazy_exports`: a package's names imported when first used (PEP 562), so `import digest` and
  `digest --help` load no stage;
- `defer_import`: a dependency's dependency stood in for until something uses it (premailer's
  requests, feedparser's chardet): `import` succeeds at once, the module runs when first read.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` (PEP 562) that imports each exported name's module on first use."""

    def __getattr__(name: str) -> Any:
        if name in exports:
            return getattr(importlib.import_module(exports[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__


class _Deferred(types.ModuleType):
    """Stands in `sys.modules` for a module until something reads one of its attributes; then the
    real module is imported, and this one takes its contents so that later reads go straight."""

    def __getattr__(self, attr: str) -> Any:
        del sys.modules[self.__name__]
        real = importlib.import_module(self.__name__)
        self.__dict__.update(real.__dict__)
        return getattr(real, attr)


def defer_import(name: str) -> None:
    """Let `import name` succeed without running the module until it is used.

    For a dependency's dependency that a build seldom or never uses: premailer imports requests
    to fetch remote stylesheets (digest forbids it), feedparser imports chardet for the rare feed
    whose encoding must be guessed. importlib's LazyLoader does not do here: `import` itself
    reads the module's `__spec__`, which loads it.
    """
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)  # found, not run: cheap, and what other code may ask for
    if spec is None:
        return  # not installed: `import name` fails as it would have
    stand_in = _Deferred(name)
    # A module in sys.modules without a __spec__ makes importlib.util.find_spec(name) raise for
    # everyone else in the process; the real one's spec keeps that question answered.
    stand_in.__spec__ = spec
    sys.modules[name] = stand_in
