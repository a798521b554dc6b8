"""The typed configuration: `digest.toml`, then `DIGEST_*` environment variables, then flags.

Precedence is built-in defaults < config file < environment < flags; a flag left unset is `None`
and overrides nothing. Relative paths in a config file are relative to that file, so a
newsletter folder can be moved or built from anywhere.

`schema` (the sections and their checks) · `load` (discovery, environment and flag overrides) ·
`problems` (every mistake in one line) · `paths` (the folders it names) · `secrets` (passwords
and the unsubscribe secret, from the environment or a file, never from digest.toml).
"""

from digest.config.load import CONFIG_NAME, find_config, is_sample, load_config, with_overrides
from digest.config.paths import DEFAULT_OUT, DEFAULT_STATE, archive_dir, output_dir, state_dir, user_templates
from digest.config.schema import (
    LANGUAGE_TAG,
    MAX_BYTES,
    MAX_CONFIG_BYTES,
    ArchiveConfig,
    Config,
    DkimConfig,
    FeedbackConfig,
    IssueConfig,
    LinksConfig,
    MailboxUrl,
    NewsletterConfig,
    OutputConfig,
    SegmentsConfig,
    SelectionConfig,
    SendConfig,
    SmtpConfig,
    SourcesConfig,
    StateConfig,
    ThemeConfig,
    TopicConfig,
    WeightsConfig,
    mailbox_url,
)

__all__ = [
    "CONFIG_NAME",
    "DEFAULT_OUT",
    "DEFAULT_STATE",
    "LANGUAGE_TAG",
    "MAX_BYTES",
    "MAX_CONFIG_BYTES",
    "ArchiveConfig",
    "Config",
    "DkimConfig",
    "FeedbackConfig",
    "IssueConfig",
    "LinksConfig",
    "MailboxUrl",
    "NewsletterConfig",
    "OutputConfig",
    "SegmentsConfig",
    "SelectionConfig",
    "SendConfig",
    "SmtpConfig",
    "SourcesConfig",
    "StateConfig",
    "ThemeConfig",
    "TopicConfig",
    "WeightsConfig",
    "archive_dir",
    "find_config",
    "is_sample",
    "load_config",
    "mailbox_url",
    "output_dir",
    "state_dir",
    "user_templates",
    "with_overrides",
]
