"""The issue folder: what `digest build` writes and every other command reads back.

This module alone knows the folder's file names. It writes the folder whole or not at all
(files go into a hidden temporary folder beside the target, which is renamed into place, so a
crash, a full disk or Ctrl-C never leaves a half-written issue, and a rebuild replaces the old
folder only once the new one is complete), and it reads the folder back as typed values for
`digest send`, `digest check`, the archive and the preview. The same atomic writers serve the
other folders and files digest writes (the archive, a dry run, `digest init`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from msgspec import Struct

from digest import files as files_module  # the mechanics; this module knows the names
from digest.errors import InputError
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
VARIANTS = "variants"  # the folder holding a folder per variant of the issue (topics, language)
# `digest check --deliverability`'s findings and the DNS answers they rest on (`--dns-answers` replays them)
DELIVERABILITY = "deliverability.json"


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


def variant_folder(name: str) -> str:
    """Where a variant's files are, within the issue folder ("variants/economy.fr")."""
    return f"{VARIANTS}/{name}"


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
    # The issue's other variants by name: None when built (read with `read_variant`), else why not.
    variants: dict[str, str | None] = {}


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
            variants=manifest.variants,
        )
    except (OSError, ValueError) as error:
        raise _not_built(folder, error) from None


def read_variant(issue: PersonalIssue, name: str) -> PersonalIssue:
    """Variant `name` of the issue (its own folder within the issue's), as `send` fills it."""
    return read_personal(issue.folder / variant_folder(name), issue.number)


def read_page(folder: Path) -> str:
    """The issue's HTML, as the web archive shows it."""
    page = folder / HTML
    try:
        return page.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"the issue is gone from its folder ({error.strerror})", path=str(page)) from None


# What the folders digest wrote before they were marked hold: such a folder is digest's too.
OURS = frozenset(
    {HTML, TEXT, MESSAGE, MANIFEST, PERSONAL_HTML, PERSONAL_TEXT, SNAPSHOT, DRY_RUN, "feed.atom", "feed.json"}
)


def write_folder(target: Path, files: Mapping[str, bytes] | Iterable[tuple[str, bytes]]) -> Path:
    """An issue folder, an archive or a dry run, written whole (see `files.write_folder`)."""
    return files_module.write_folder(target, files, OURS)
