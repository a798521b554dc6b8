"""The secrets a send needs, from the environment (or a file): never from digest.toml.

The environment is passed in, so the library reads no global and tests give their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from msgspec import Struct

from digest.config.schema import Config, SmtpConfig
from digest.errors import ConfigError

LOOPBACK = ("localhost", "127.0.0.1", "::1")


class Secrets(Struct, frozen=True):
    password: str | None  # the SMTP password
    unsubscribe: str | None  # signs the unsubscribe links' {token}


def check_transport(config: SmtpConfig) -> None:
    """No password over an unencrypted connection, except to this machine."""
    if config.security == "none" and config.username and config.host not in LOOPBACK:
        raise ConfigError(
            f"smtp.security is 'none': AUTH to {config.host} would send the password in the clear"
        )


def password(config: Config, file: str | None, variable: str, env: Mapping[str, str], key: str) -> str | None:
    """A password: the content of `file` (the config's `key`), else the variable `variable`."""
    if file:
        try:
            return Path(config.resolve(file)).read_text(encoding="utf-8").strip()
        except OSError as error:
            raise ConfigError(f"{key}: cannot read it ({error.strerror})") from None
    return env.get(variable) or None


def read_secrets(
    config: Config, env: Mapping[str, str], *, unsubscribe_url: str | None, smtp: bool = True
) -> Secrets:
    """What sending an issue whose unsubscribe link is `unsubscribe_url` needs: the unsubscribe
    secret when the link has {token}, and (to talk to the server at all, `smtp`) the password."""
    unsubscribe = env.get(config.send.secret_env) or None
    signed = {
        "the unsubscribe link": unsubscribe_url,
        "newsletter.unsubscribe_mailto": config.newsletter.unsubscribe_mailto,
        "feedback.return_path": config.feedback.return_path,
    }
    for name, value in signed.items():
        if value and "{token}" in value and not unsubscribe:
            raise ConfigError(f"{name} has {{token}}: set the secret in ${config.send.secret_env}")
    if not smtp:
        return Secrets(None, unsubscribe)
    check_transport(config.smtp)
    smtp_password = password(
        config, config.smtp.password_file, config.smtp.password_env, env, "smtp.password_file"
    )
    return Secrets(smtp_password, unsubscribe)
