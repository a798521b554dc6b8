"""The typed configuration: `digest.toml`, then `DIGEST_*` environment variables, then flags.

Precedence is built-in defaults < config file < environment < flags; a flag left
unset is `None` and overrides nothing. Relative paths in a config file are
relative to that file, so a newsletter folder can be moved or built from anywhere.
"""

# No `from __future__ import annotations` here: pydantic would compile and evaluate each of the
# models' hundred annotation strings on every command that loads this module (≈ 2 ms).
import datetime as dt
import difflib
import re
import tomllib
from collections.abc import Mapping
from email.utils import getaddresses
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit

from msgspec import Struct
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from digest.errors import ConfigError
from digest.resources import sample_dir
from digest.urls import is_url

CONFIG_NAME = "digest.toml"
DEFAULT_OUT = "issues"
DEFAULT_STATE = ".digest"


class _Section(BaseModel):
    # strict: a TOML string "5" where a number belongs is a mistake worth naming,
    # not something to coerce silently; forbid: a misspelt key must not be ignored;
    # defer_build: the schema is built once, for the whole Config, when the first file is read,
    # not for every section as the module loads (`digest --help` never reads one).
    # Empty defaults are written `[]` and `{}` (pydantic copies them for each instance), not
    # `default_factory=list`: pydantic reads a factory's signature, and a builtin's costs every
    # command that reads a config ≈ 6 ms (inspect parses its text signature with tokenize).
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)


# A section left out of digest.toml (or the weights left out of [selection]) is its defaults,
# validated by the enclosing model's validator, which has every section's schema inside it. A
# `default_factory=SectionConfig` would construct it through the section's own validator, which
# pydantic then builds (defer_build) for each section left out: five for the sample, ≈ 1.5 ms.
def _left_out() -> Any:
    return Field(default={}, validate_default=True)


Color = Annotated[str, Field(pattern=r"^#(?:[0-9a-fA-F]{3}){1,2}$")]
# A CSS font stack: names, quotes, commas and spaces only (it goes into style attributes).
FontStack = Annotated[str, Field(pattern=r"^[\w\s,'\"-]+$")]
HttpsUrl = Annotated[str, Field(pattern=r"^https://\S+$")]
# A BCP 47 language tag, as far as digest needs one: "fr", "pt-BR", "sr-Latn" (also `digest init`).
LANGUAGE_TAG = r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*"


class NewsletterConfig(_Section):
    name: str = "My Newsletter"
    tagline: str = ""
    url: str | None = None
    language: Annotated[str, Field(pattern=rf"^{LANGUAGE_TAG}$")] = "en"
    direction: Literal["ltr", "rtl"] = "ltr"
    logo: HttpsUrl | None = None  # shown in the masthead instead of the name as text
    logo_width: Annotated[int, Field(ge=16, le=600)] = 200
    sender: str = "My Newsletter <newsletter@example.org>"  # the From header
    reply_to: str | None = None
    footer: str = ""  # "You receive this because you subscribed at …"
    postal_address: str = ""  # shown in the footer, as the law asks of bulk mail in many places
    # The footer's links: URLs, or your ESP's merge tags ("*|UNSUB|*", "{{ unsubscribe_url }}"),
    # which come out exactly as written. `{slug}`, `{number}`, `{date}` are filled in.
    view_online_url: str | None = None
    unsubscribe_url: str | None = None
    unsubscribe_mailto: str | None = None  # "mailto:leave@example.org" for List-Unsubscribe

    @field_validator("sender", "reply_to")
    @classmethod
    def _one_address(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parsed = getaddresses([value])
        if len(parsed) != 1 or not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", parsed[0][1]):
            raise ValueError(f"not one email address: {value!r}")
        return value


class ThemeConfig(_Section):
    text_color: Color = "#1f2933"
    muted_color: Color = "#52606d"
    accent_color: Color = "#b42318"
    background_color: Color = "#eef0f3"
    content_color: Color = "#ffffff"
    button_text_color: Color = "#ffffff"
    dark_text_color: Color = "#e4e7eb"
    dark_background_color: Color = "#111418"
    dark_content_color: Color = "#1c2026"
    font_family: FontStack = "Georgia, 'Times New Roman', Times, serif"
    sans_font_family: FontStack = "Arial, Helvetica, sans-serif"


class LinksConfig(_Section):
    """UTM parameters on every story link; a parameter the link already has is never changed."""

    utm: bool = True
    utm_source: str = "newsletter"
    utm_medium: str = "email"
    utm_campaign: str = "digest-{number}"  # `{slug}`, `{number}`, `{date}` are filled in


class IssueConfig(_Section):
    date: dt.date | None = None


class SourcesConfig(_Section):
    feeds: list[str] = []
    # Analytics exports (GA4, Plausible, Matomo, Umami, Fathom, or url,pageviews), added up;
    # each recognised from its content unless `analytics_format` says which tool wrote them.
    # An API may stand for a file: "plausible+https://…/?site_id=…", "matomo+https://…/?idSite=1",
    # "umami+https://…/?website=…", asked for the issue's window; its token in `analytics_token_env`.
    analytics: str | list[str] | None = None
    analytics_token_env: str = "DIGEST_ANALYTICS_TOKEN"
    # The days an export covers, when it does not say so itself ([2025-11-17, 2025-11-23]; the
    # build's --analytics-period): one that misses the issue's window is a warning.
    analytics_period: Annotated[list[dt.date], Field(min_length=2, max_length=2)] | None = None
    analytics_format: Literal["auto", "ga4", "plausible", "matomo", "umami", "fathom", "generic"] = "auto"
    # Other addresses of the site the stories are on (an old domain, the host with or without
    # www): their pages count as the same pages. Paths in an export resolve against newsletter.url.
    site_urls: list[str] = []
    # One failing feed does not sink the issue unless `strict` is set.
    strict: bool = False
    timeout: Annotated[float, Field(gt=0, le=600)] = 30.0
    connect_timeout: Annotated[float, Field(gt=0, le=120)] = 10.0
    max_bytes: Annotated[int, Field(ge=1024)] = 10 * 1024 * 1024
    max_redirects: Annotated[int, Field(ge=0, le=20)] = 5


class StateConfig(_Section):
    # Unset: `.digest` beside digest.toml, like the output folder.
    dir: str | None = None


class WeightsConfig(_Section):
    """The score: (pageviews × page views + comments × comments) × recency decay."""

    pageviews: Annotated[float, Field(ge=0)] = 1.0
    comments: Annotated[float, Field(ge=0)] = 10.0
    # A story's score halves every `half_life_days` of age; 0 turns the decay off.
    half_life_days: Annotated[float, Field(ge=0)] = 7.0


class SelectionConfig(_Section):
    # "since-last-issue": from the previous issue's date (the first issue: `window_days`);
    # "days": always the last `window_days` days.
    window: Literal["since-last-issue", "days"] = "since-last-issue"
    window_days: Annotated[int, Field(ge=1, le=366)] = 7
    # Fewer new stories than this: nothing is built, exit 3 (cron skips the send).
    min_items: Annotated[int, Field(ge=1)] = 1
    picks: str | None = None  # a TOML or YAML file: lead and editors_choice, URLs or guids
    lead: str | None = None  # a pinned lead (URL or guid); wins over the picks file
    editors_choice_picks: list[str] = []  # pinned, after the picks file's
    lead_categories: list[str] = []  # e.g. ["Featured"]
    lead_prefer_image: bool = False
    editors_choice_categories: list[str] = ["Editor's choice"]
    editors_choice_size: Annotated[int, Field(ge=0, le=50)] = 3
    popular_size: Annotated[int, Field(ge=0, le=50)] = 5
    max_per_source: Annotated[int, Field(ge=0)] = 0  # 0: no quota
    include_categories: list[str] = []  # empty: every category
    exclude_categories: list[str] = []
    include_keywords: list[str] = []  # in headline or summary
    exclude_keywords: list[str] = []
    exclude_sources: list[str] = []  # feeds as named in sources.feeds
    weights: WeightsConfig = _left_out()


class SmtpConfig(_Section):
    """Where `digest send` delivers. The password never comes from this file: it is read from
    the environment variable `password_env`, or from `password_file`."""

    host: str = "localhost"
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    security: Literal["starttls", "tls", "none"] = "starttls"  # "tls": implicit TLS, port 465
    username: str | None = None
    password_env: str = "DIGEST_SMTP_PASSWORD"
    password_file: str | None = None
    ca_file: str | None = None  # a CA bundle to verify the server with, besides the system's
    timeout: Annotated[float, Field(gt=0, le=600)] = 30.0
    # Sessions to the relay at once: a relay across a network answers each message after a round
    # trip or more, and takes many connections (Postfix, an ESP's SMTP endpoint).
    connections: Annotated[int, Field(ge=1, le=64)] = 1
    rate: Annotated[float, Field(ge=0)] = 0.0  # messages per second, all sessions together; 0: no limit
    # Connection failures in a row (refused, timed out, lost, 421) before the run gives up and
    # leaves the rest queued; each waits `backoff` seconds, doubling (2+4+8+16: half a minute).
    retries: Annotated[int, Field(ge=0, le=20)] = 4
    backoff: Annotated[float, Field(ge=0, le=600)] = 2.0
    # Messages in any 24 hours, from this state database (0: no limit): a provider's quota. A list
    # warms up a new sending domain, a number a day from the first send, the last one after that.
    daily_limit: (
        Annotated[int, Field(ge=0)] | Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=1)]
    ) = 0


class SendConfig(_Section):
    subscribers: str = "subscribers.csv"  # email, name, any other columns; status: unsubscribed/bounced skip
    # Unsubscribe links may carry {email} and {token}: the token is an HMAC of the address with
    # this secret, read from the environment, so a link cannot be forged for someone else.
    secret_env: str = "DIGEST_UNSUBSCRIBE_SECRET"
    greeting: str = ""  # e.g. "Dear {name},"; empty: no greeting line
    greeting_fallback: str = ""  # for a subscriber without a name, e.g. "Dear reader,"


class FeedbackConfig(_Section):
    """Where bounces and complaints come back (`digest feedback`; send and run read it first)."""

    # A local Maildir folder, or an IMAP folder: "imaps://user@host[:port]/FOLDER" (TLS), or
    # "imap://…" (STARTTLS, never in the clear). The password comes from `password_env` or
    # `password_file`, never from this file.
    mailbox: str | None = None
    password_env: str = "DIGEST_FEEDBACK_PASSWORD"
    password_file: str | None = None
    ca_file: str | None = None  # a CA bundle to verify the IMAP server with, besides the system's
    processed: str = "Processed"  # the folder handled mail is moved to
    # Temporary failures on this many different issues suppress an address.
    soft_bounce_limit: Annotated[int, Field(ge=1, le=100)] = 3
    # VERP: each copy's envelope sender, with the recipient's token ("bounces+{token}@example.org"),
    # so a bounce is traced to its subscriber even when it names a forwarding address or nobody.
    return_path: str | None = None

    @field_validator("mailbox")
    @classmethod
    def _mailbox(cls, value: str | None) -> str | None:
        if value and value.startswith(("imap:", "imaps:")):
            mailbox_url(value)  # raises ValueError, which names the problem
        return value

    @field_validator("return_path")
    @classmethod
    def _return_path(cls, value: str | None) -> str | None:
        if value is not None and (
            value.count("{token}") != 1 or not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+", value)
        ):
            raise ValueError(f"not an address with {{token}} in it once: {value!r}")
        return value


class MailboxUrl(Struct, frozen=True):
    tls: Literal["tls", "starttls"]
    user: str
    host: str
    port: int
    folder: str


def mailbox_url(url: str) -> MailboxUrl:
    """`imaps://user@host[:port]/FOLDER` (or `imap://`, for STARTTLS), taken apart."""
    parts = urlsplit(url)
    if parts.scheme not in ("imap", "imaps") or not parts.hostname or not parts.username:
        raise ValueError(f"not imaps://user@host[:port]/FOLDER: {url!r}")
    if parts.password:
        raise ValueError("the mailbox URL must not carry the password: use feedback.password_env")
    try:
        port = parts.port or (993 if parts.scheme == "imaps" else 143)
    except ValueError:
        raise ValueError(f"not a port number in {url!r}") from None
    return MailboxUrl(
        "tls" if parts.scheme == "imaps" else "starttls",
        unquote(parts.username),
        parts.hostname,
        port,
        unquote(parts.path.lstrip("/")) or "INBOX",
    )


class ArchiveConfig(_Section):
    """The web archive of past issues (`digest archive`)."""

    dir: str | None = None  # unset: archive beside digest.toml
    # Where the archive is published. When set, each email's "view in browser" link points to its
    # issue's page there (unless newsletter.view_online_url says otherwise), and the feeds use it.
    base_url: HttpsUrl | None = None


class OutputConfig(_Section):
    # Unset: `issues` beside digest.toml; under the current folder for the bundled sample,
    # whose own folder may be inside an installed package.
    dir: str | None = None
    templates: str | None = None


class Config(_Section):
    newsletter: NewsletterConfig = _left_out()
    theme: ThemeConfig = _left_out()
    links: LinksConfig = _left_out()
    issue: IssueConfig = _left_out()
    sources: SourcesConfig = _left_out()
    selection: SelectionConfig = _left_out()
    output: OutputConfig = _left_out()
    state: StateConfig = _left_out()
    smtp: SmtpConfig = _left_out()
    send: SendConfig = _left_out()
    archive: ArchiveConfig = _left_out()
    feedback: FeedbackConfig = _left_out()
    # The templates' words for this newsletter, over its language's catalog: the English message
    # as the key ("Editor's choice" = "Our picks").
    labels: dict[str, str] = {}
    # The file this came from: not a key a user can set, so a private attribute.
    _source: Path | None = PrivateAttr(default=None)

    @property
    def path(self) -> Path | None:
        return self._source

    @property
    def base_dir(self) -> Path:
        """Relative paths in a config file are relative to the file's folder."""
        return self._source.parent if self._source else Path.cwd()

    def resolve(self, value: str) -> str:
        """A path from the config, made absolute against the config's folder; URLs pass through."""
        if is_url(value):
            return value
        return str(self.base_dir / Path(value).expanduser())


def _keys_at(loc: list[str]) -> list[str]:
    """The keys the section at `loc` knows (the top level for [])."""
    model: Any = Config
    for part in loc:
        field = getattr(model, "model_fields", {}).get(part)
        if (
            field is None
            or not isinstance(field.annotation, type)
            or not issubclass(field.annotation, BaseModel)
        ):
            return []
        model = field.annotation
    return list(model.model_fields)


def _describe(error: ValidationError, overrides: Mapping[str, Mapping[str, Any]]) -> str:
    """Every mistake at once, in one line; a misspelt key with the nearest valid one."""
    problems = []
    for found in error.errors():
        loc = [str(part) for part in found["loc"]]
        where = ".".join(loc)
        if found["type"] == "extra_forbidden":
            message = f"unknown key '{where}'"
            near = difflib.get_close_matches(loc[-1], _keys_at(loc[:-1]), n=1)
            if near:
                message += f"; did you mean '{near[0]}'?"
        else:
            message = f"{where}: {found['msg']}"
        if len(loc) >= 2 and loc[1] in overrides.get(loc[0], {}):
            message += f" (from DIGEST_{loc[0].upper()}__{loc[1].upper()})"
        problems.append(message)
    if len(problems) == 1:
        return problems[0]
    return f"{len(problems)} mistakes: " + " | ".join(problems)


def _env_overrides(env: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """`DIGEST_SECTION__KEY=value` overrides one key; the value is read as TOML (`7`, `true`)."""
    result: dict[str, dict[str, Any]] = {}
    for name, text in env.items():
        if not name.startswith("DIGEST_") or "__" not in name:
            continue
        section, key = name.removeprefix("DIGEST_").lower().split("__", 1)
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            value = text  # a bare word is a string: DIGEST_NEWSLETTER__LANGUAGE=fr
        result.setdefault(section, {})[key] = value
    return result


def _merge(base: dict[str, Any], over: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    merged = dict(base)
    for section, values in over.items():
        current = merged.get(section, {})
        merged[section] = {**current, **values} if isinstance(current, dict) else values
    return merged


def find_config(
    explicit: Path | None, cwd: Path, *, feeds_given: bool = False, own: bool = False
) -> Path | None:
    """The config file to use: the flag's, else the nearest `digest.toml` in `cwd` or a folder
    above it (as git and ruff find theirs), else the bundled sample's.

    None means built-in defaults: feeds were given on the command line and there is no
    config, so the sample's own settings (its pinned date and lead) must not apply.
    `own`: the command acts on the user's behalf (sending mail), so the sample will not do.
    """
    if explicit is not None:
        return explicit
    for folder in (cwd, *cwd.parents):
        if (folder / CONFIG_NAME).is_file():
            return folder / CONFIG_NAME
    if own:
        raise ConfigError(
            f"no {CONFIG_NAME} here or in a folder above: sending needs your newsletter's own config"
            " (digest init makes one, or pass --config)"
        )
    return None if feeds_given else sample_dir() / CONFIG_NAME


def is_sample(path: Path | None) -> bool:
    return path is not None and path.resolve() == (sample_dir() / CONFIG_NAME).resolve()


def load_config(path: Path | None, *, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate a config file; every mistake is a `ConfigError` naming the file and key.

    With no file, the built-in defaults (and the environment) apply.
    """
    overrides = _env_overrides(env or {})
    if path is None:
        try:
            return Config.model_validate(overrides)
        except ValidationError as error:
            raise ConfigError(_describe(error, overrides), path="environment") from None
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("config file not found", path=str(path)) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read config: {error}", path=str(path)) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"invalid TOML: {error}", path=str(path)) from None
    try:
        config = Config.model_validate(_merge(raw, overrides))
    except ValidationError as error:
        raise ConfigError(_describe(error, overrides), path=str(path)) from None
    config._source = path.absolute()
    return config


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


def with_overrides(
    config: Config,
    *,
    feeds: list[str] | None = None,
    date: dt.date | None = None,
    out: Path | None = None,
    lead: str | None = None,
    picks: list[str] | None = None,
    templates: Path | None = None,
    analytics_period: tuple[dt.date, dt.date] | None = None,
) -> Config:
    """Flags given on the command line win over the file; a flag left as None changes nothing.

    Feed paths, `out` and `templates` from flags are relative to the current folder, so they are
    made absolute here, before they meet the config's own base folder.
    """
    sources = config.sources
    if feeds:
        absolute = [f if is_url(f) else str(Path(f).expanduser().absolute()) for f in feeds]
        sources = sources.model_copy(update={"feeds": absolute})
    if analytics_period:
        sources = sources.model_copy(update={"analytics_period": list(analytics_period)})
    issue = config.issue.model_copy(update={"date": date}) if date else config.issue
    output = config.output
    if out is not None:
        output = output.model_copy(update={"dir": str(out.expanduser().absolute())})
    if templates is not None:
        output = output.model_copy(update={"templates": str(templates.expanduser().absolute())})
    selection = config.selection
    if lead or picks:
        update: dict[str, Any] = {"lead": lead} if lead else {}
        if picks:
            update["editors_choice_picks"] = [*selection.editors_choice_picks, *picks]
        selection = selection.model_copy(update=update)
    return config.model_copy(
        update={"sources": sources, "issue": issue, "output": output, "selection": selection}
    )
