"""The outputs stage: the issue folder, written whole or not at all.

Files are written into a hidden temporary folder beside the target and renamed
into place, so a crash, a full disk or Ctrl-C never leaves a half-written issue,
and a rebuild replaces the old folder only once the new one is complete.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from digest.errors import OutputError


def write_folder(target: Path, files: Mapping[str, bytes]) -> Path:
    """Write `files` (name → bytes) as the folder `target`, replacing any folder already there."""
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent))
    except OSError as error:
        raise OutputError(
            f"cannot create the output folder: {error.strerror or error}", path=str(parent)
        ) from None
    try:
        for name, data in files.items():
            path = staging / name
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        staging.chmod(0o755)
        _swap_into_place(staging, target)
    except OSError as error:
        raise OutputError(f"cannot write the issue: {error.strerror or error}", path=str(target)) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _swap_into_place(staging: Path, target: Path) -> None:
    if not target.exists():
        staging.rename(target)
        return
    # A directory cannot be atomically replaced by rename(2) when the target is not
    # empty, so the old folder steps aside first and is removed only after the swap.
    retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
    retired.rmdir()
    target.rename(retired)
    try:
        staging.rename(target)
    except OSError:
        retired.rename(target)
        raise
    shutil.rmtree(retired, ignore_errors=True)


def write_file(path: Path, data: bytes) -> Path:
    """One file, written beside its target and renamed into place: never half there."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as handle:
            handle.write(data)
        temporary = Path(handle.name)
        temporary.chmod(0o644)  # a temporary file is private; the file it becomes is not
        temporary.replace(path)
    except OSError as error:
        raise OutputError(f"cannot write: {error.strerror or error}", path=str(path)) from None
    return path
