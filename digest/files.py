"""Files in and out, bounded and whole: the size-capped readers of every input, the atomic
writers of every output (a file or a folder appears complete or not at all, and only a folder
digest made is ever replaced), and the cache folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING

from digest.errors import InputError, OutputError, OutputRefused

if TYPE_CHECKING:
    import zipfile


# The cap on an input that has no size key of its own (the picks file, a suppression file, the
# subscriber list when it is exported): far beyond any real one, far below what hurts.
MAX_INPUT_BYTES = 64 * 1024 * 1024


def too_large(max_bytes: int, key: str = "sources.max_bytes") -> str:
    """What an input past its size cap is told."""
    return f"larger than the size cap of {max_bytes:,} bytes ({key}), refused"


def read_input_bytes(
    path: Path, label: str, what: str, max_bytes: int = MAX_INPUT_BYTES, key: str = "a built-in limit"
) -> bytes:
    """The bytes of an input file the editor keeps (analytics, picks, subscribers), at most
    `max_bytes` of them: a missing, unreadable or larger one is an `InputError` that names it."""
    try:
        with path.open("rb") as handle:
            if os.fstat(handle.fileno()).st_size > max_bytes:
                raise InputError(too_large(max_bytes, key), path=label)
            data = handle.read(max_bytes + 1)  # a file that grows meanwhile is cut here
    except FileNotFoundError:
        raise InputError(f"{what} not found", path=label) from None
    except OSError as error:
        raise InputError(f"cannot read the {what}: {error}", path=label) from None
    if len(data) > max_bytes:
        raise InputError(too_large(max_bytes, key), path=label)
    return data


def read_member(archive: zipfile.ZipFile, name: str, label: str, max_bytes: int, key: str) -> bytes:
    """One member of a zip, inflated up to `max_bytes` and no further (the size a zip states
    may lie: the inflated bytes are counted as they come)."""
    info = archive.getinfo(name)
    if info.file_size > max_bytes:
        raise InputError(too_large(max_bytes, key), path=f"{label}/{name}")
    with archive.open(info) as member:
        data = member.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise InputError(too_large(max_bytes, key), path=f"{label}/{name}")
    return data


def decode_input(data: bytes, label: str, what: str) -> str:
    """An input file's text (UTF-8, a byte-order mark or not)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(f"cannot read the {what}: {error}", path=label) from None


def read_input(path: Path, label: str, what: str) -> str:
    """The text of an input file the editor keeps, read as `read_input_bytes` reads it."""
    return decode_input(read_input_bytes(path, label, what), label, what)


# Written into every folder digest writes whole: only a folder that has it (or is empty) is ever
# replaced, so `--out .` can never take the editor's own files with it.
MARK = ".made-by-digest"
_MARK_TEXT = b"This folder was written by digest, which replaces it whole when it writes it again.\n"


def _only(folder: Path, names: set[str]) -> bool:
    """A folder holding something, and nothing but `names` (an archive's page of an issue)."""
    inside = {p.name for p in folder.glob("*")}
    return bool(inside) and inside <= names


def _check_replaceable(target: Path, ours: Collection[str]) -> None:
    """Refuse to replace a folder digest did not make: one without its mark that holds anything
    an earlier digest would not have written there (an issue folder's files, an archive's)."""
    try:
        entries = list(os.scandir(target))
    except FileNotFoundError:
        return
    except NotADirectoryError:
        raise OutputRefused("a file is in the way of the folder digest writes", path=str(target)) from None
    except OSError as error:
        raise OutputError(f"cannot read the folder: {error.strerror or error}", path=str(target)) from None
    names = {entry.name for entry in entries}
    if MARK in names:
        return
    # An archive written before the mark: its index, feeds and a folder per issue with a page.
    known = set(ours)
    strangers = {n for n in names - known if not _only(target / n, known)}
    if strangers:
        shown = ", ".join(sorted(strangers)[:3]) + (", …" if len(strangers) > 3 else "")
        raise OutputRefused(
            f"not a folder digest wrote ({shown} in it): refusing to replace it; choose a new or empty one",
            path=str(target),
        )


def write_folder(
    target: Path, files: Mapping[str, bytes] | Iterable[tuple[str, bytes]], ours: Collection[str] = ()
) -> Path:
    """Write `files` (name → bytes, or such pairs as they come: a dry run's 100,000 messages are
    never all in memory) as the folder `target`, replacing a folder digest wrote there before
    (marked as its own, or holding only `ours`: the names an earlier, unmarked digest wrote there);
    any other non-empty folder is refused, untouched."""
    target = Path(os.path.abspath(target))  # noqa: PTH100 (".." made a name; resolve() would follow links)
    _check_replaceable(target, ours)
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent))
    except OSError as error:
        raise OutputError(
            f"cannot create the output folder: {error.strerror or error}", path=str(parent)
        ) from None
    try:
        (staging / MARK).write_bytes(_MARK_TEXT)
        for name, data in files.items() if isinstance(files, Mapping) else files:
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


@contextmanager
def writing(path: Path, mode: int = 0o644) -> Iterator[IO[bytes]]:
    """A file written beside its target as the block goes, renamed into place when the block
    ends well, removed when it does not: never half there, and never all in memory. `mode`:
    0o600 for a secret (a private key), which is then never readable by others, even briefly."""
    temporary: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as handle:
            temporary = Path(handle.name)
            yield handle
        temporary.chmod(mode)  # a temporary file is private; the file it becomes may not be
        temporary.replace(path)
    except OSError as error:
        raise OutputError(f"cannot write: {error.strerror or error}", path=str(path)) from None
    finally:
        if temporary is not None:
            temporary.unlink(missing_ok=True)  # gone when renamed; a failure leaves no leftovers


def write_file(path: Path, data: bytes, mode: int = 0o644) -> Path:
    """One file, written beside its target and renamed into place: never half there."""
    with writing(path, mode) as handle:
        handle.write(data)
    return path


def cache_dir(name: str) -> Path | None:
    """`$XDG_CACHE_HOME/digest/<name>` (else ~/.cache), made if need be: what is derived from the
    templates and kept between runs. None where it cannot be made: the caller then derives it
    every time, as if there were no cache."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    folder = Path(base) / "digest" / name
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return None
    return folder
