"""The folders a config names: output, archive, state and the user's templates, each relative to
the config file, or beside it when unset."""

from pathlib import Path

from digest.config.load import is_sample
from digest.config.schema import Config

DEFAULT_OUT = "issues"
DEFAULT_STATE = ".digest"


def _folder(config: Config, value: str | None, cwd: Path, default: str) -> Path:
    """A folder from the config (relative to the config file); unset, `default` beside your
    digest.toml, wherever you run digest from (as git keeps .git beside the work tree), or in
    the current folder when there is no config of your own (the bundled sample's folder may be
    inside an installed package)."""
    if value:
        return Path(config.resolve(value))
    own = config.path is not None and not is_sample(config.path)
    return (config.base_dir if own else cwd) / default


def output_dir(config: Config, cwd: Path) -> Path:
    return _folder(config, config.output.dir, cwd, DEFAULT_OUT)


def archive_dir(config: Config, cwd: Path) -> Path:
    return _folder(config, config.archive.dir, cwd, "archive")


def state_dir(config: Config, cwd: Path) -> Path:
    return _folder(config, config.state.dir, cwd, DEFAULT_STATE)


def user_templates(config: Config) -> Path | None:
    """The newsletter's own templates folder, searched before the packaged one."""
    return Path(config.resolve(config.output.templates)) if config.output.templates else None
