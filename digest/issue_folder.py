"""The issue folder: what `digest build` writes and every other command reads back.

This module alone knows the folder's file names. It writes the folder whole or not at all
(files go into a hidden temporary folder beside the target, which is renamed into place, so a
crash, a full disk or Ctrl-C never leaves a half-written issue, and a rebuild replaces the old
folder only once the new one is complete), and it reads the folder back as typed values for
`digest send`, `digest check`, the archive and the preview. The same atomic writers serve the
other folders and files digest writes (the archive, a dry run, `digest init`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from msgspec import Struct

from digest.errors import InputError, OutputError, OutputRefused
from digest.render import ManifestSummary, read_manifest

HTML = "index.html"  # the email's HTML part, for nobody in particular; also the archive's page
TEXT = "digest.txt"  # the plain-text part
MESSAGE = "message.eml"  # the whole message, as a mail client would show it
MANIFEST = "manifest.json"  # what was picked and why; the files' sizes and hashes
# The parts with markers for each subscriber's greeting and unsubscribe link: what `digest send` fills.
PERSONAL_HTML = "personal.html"
PERSONAL_TEXT = "personal.txt"
SNAPSHOT = "inputs.zip"  # everything that went into the issue, for `digest rebuild`
DRY_RUN = "dry-run"  # the folder `digest send --dry-run` writes each subscriber's message into


class Contents(Struct, frozen=True):
    """An issue's files as the build made them, before the manifest that describes them."""

    html: str
    text: str
    message: bytes
    personal_html: str
    personal_text: str
    snapshot: bytes | None = None

    def files(self) -> dict[str, bytes]:
        files = {
            HTML: self.html.encode("utf-8"),
            TEXT: self.text.encode("utf-8"),
            MESSAGE: self.message,
            PERSONAL_HTML: self.personal_html.encode("utf-8"),
            PERSONAL_TEXT: self.personal_text.encode("utf-8"),
        }
        if self.snapshot is not None:
            files[SNAPSHOT] = self.snapshot
        return files


def read_snapshot(folder: Path) -> bytes:
    """The issue's snapshot; an issue built before snapshots (or without one) is an InputError."""
    try:
        return (folder / SNAPSHOT).read_bytes()
    except FileNotFoundError:
        raise InputError(
            f"no {SNAPSHOT}: this issue was built without a snapshot of its inputs", path=str(folder)
        ) from None
    except OSError as error:
        raise InputError(f"cannot read {SNAPSHOT}: {error.strerror}", path=str(folder)) from None


def with_manifest(files: Mapping[str, bytes], manifest: bytes) -> dict[str, bytes]:
    return {**files, MANIFEST: manifest}


class BuiltIssue(Struct, frozen=True):
    """An issue folder read back: what `digest check` and `digest send` need of it.

    `text`, `message` and `manifest` are None for a folder a tool other than `digest build` made
    (an `index.html` alone can still be checked).
    """

    folder: Path
    html: str
    text: str | None
    message: bytes | None
    manifest: ManifestSummary | None


class PersonalIssue(Struct, frozen=True):
    """What `digest send` fills in for each subscriber: the parts with markers, and the link."""

    number: int
    folder: Path
    slug: str
    subject: str
    html: str
    text: str
    unsubscribe_url: str | None  # with {email} and {token} when personal


def _optional(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


def _not_built(folder: Path, error: OSError | ValueError) -> InputError:
    if isinstance(error, FileNotFoundError):
        return InputError(f"not a built issue: {Path(error.filename).name} is missing", path=str(folder))
    return InputError(f"cannot read the issue: {error}", path=str(folder))


def read_issue(folder: Path) -> BuiltIssue:
    """The folder's parts; only `index.html` must be there."""
    try:
        text, message, manifest = (_optional(folder / name) for name in (TEXT, MESSAGE, MANIFEST))
        return BuiltIssue(
            folder=folder,
            html=(folder / HTML).read_text(encoding="utf-8"),
            text=text.decode("utf-8") if text is not None else None,
            message=message,
            manifest=read_manifest(manifest) if manifest is not None else None,
        )
    except (OSError, ValueError) as error:  # UnicodeDecodeError and a broken manifest are ValueErrors
        raise _not_built(folder, error) from None


def read_personal(folder: Path, number: int) -> PersonalIssue:
    """The parts `digest send` fills for each subscriber; every one of them must be there."""
    try:
        manifest = read_manifest((folder / MANIFEST).read_bytes())
        return PersonalIssue(
            number=number,
            folder=folder,
            slug=manifest.slug,
            subject=manifest.subject,
            html=(folder / PERSONAL_HTML).read_text(encoding="utf-8"),
            text=(folder / PERSONAL_TEXT).read_text(encoding="utf-8"),
            unsubscribe_url=manifest.personal_unsubscribe_url or manifest.unsubscribe_url,
        )
    except (OSError, ValueError) as error:
        raise _not_built(folder, error) from None


def read_page(folder: Path) -> str:
    """The issue's HTML, as the web archive shows it."""
    page = folder / HTML
    try:
        return page.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"the issue is gone from its folder ({error.strerror})", path=str(page)) from None


# Written into every folder digest writes whole: only a folder that has it (or is empty) is ever
# replaced, so `--out .` can never take the editor's own files with it.
MARK = ".made-by-digest"
_MARK_TEXT = b"This folder was written by digest, which replaces it whole when it writes it again.\n"
# What the folders digest wrote before they were marked hold: such a folder is digest's too.
_OURS = {HTML, TEXT, MESSAGE, MANIFEST, PERSONAL_HTML, PERSONAL_TEXT}
_OURS |= {"inputs.zip", "dry-run", "feed.atom", "feed.json"}


def _check_replaceable(target: Path) -> None:
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
    strangers = {n for n in names - _OURS if [p.name for p in (target / n).glob("*")] != [HTML]}
    if strangers:
        shown = ", ".join(sorted(strangers)[:3]) + (", …" if len(strangers) > 3 else "")
        raise OutputRefused(
            f"not a folder digest wrote ({shown} in it): refusing to replace it; choose a new or empty one",
            path=str(target),
        )


def write_folder(target: Path, files: Mapping[str, bytes] | Iterable[tuple[str, bytes]]) -> Path:
    """Write `files` (name → bytes, or such pairs as they come: a dry run's 100,000 messages are
    never all in memory) as the folder `target`, replacing a folder digest wrote there before
    (marked as its own); any other non-empty folder is refused, untouched."""
    target = Path(os.path.abspath(target))  # noqa: PTH100 (".." made a name; resolve() would follow links)
    _check_replaceable(target)
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
def writing(path: Path) -> Iterator[IO[bytes]]:
    """A file written beside its target as the block goes, renamed into place when the block
    ends well, removed when it does not: never half there, and never all in memory."""
    temporary: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as handle:
            temporary = Path(handle.name)
            yield handle
        temporary.chmod(0o644)  # a temporary file is private; the file it becomes is not
        temporary.replace(path)
    except OSError as error:
        raise OutputError(f"cannot write: {error.strerror or error}", path=str(path)) from None
    finally:
        if temporary is not None:
            temporary.unlink(missing_ok=True)  # gone when renamed; a failure leaves no leftovers


def write_file(path: Path, data: bytes) -> Path:
    """One file, written beside its target and renamed into place: never half there."""
    with writing(path) as handle:
        handle.write(data)
    return path
