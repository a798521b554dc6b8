"""What digest shows in a browser: the live preview, and the static web archive of past issues."""

from digest.web.archive import build_archive, write_archive
from digest.web.preview import Preview, Running
from digest.web.preview import start as start_preview

__all__ = ["Preview", "Running", "build_archive", "start_preview", "write_archive"]
