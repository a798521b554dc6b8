"""The typed configuration's schema: every section of digest.toml, its keys, defaults and checks."""

# The sections are msgspec Structs, checked by `msgspec.convert`. They were pydantic models until
# those were a twenty-third of every cold build (creating fifteen model classes and building their
# validators: ≈ 67 M instructions; msgspec's ≈ 22 M, most of it reading this module). No
# `from __future__ import annotations` here: msgspec would evaluate every annotation string.
import datetime as dt
import re
from email.utils import getaddresses
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import unquote, urlsplit

from msgspec import Meta, Struct, field

from digest.urls import is_url, scheme_of


class _Section(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A table of digest.toml. Strict (msgspec's default): a TOML string "5" where a number belongs
    is a mistake worth naming, not something to coerce; a misspelt key is refused, never ignored.
    Each section says `frozen=True` again: mypy reads it from the class itself."""


Color = Annotated[str, Meta(pattern=r"^#(?:[0-9a-fA-F]{3}){1,2}$")]
# A CSS font stack: names, quotes, commas and spaces only (it goes into style attributes).
FontStack = Annotated[str, Meta(pattern=r"^[\w\s,'\"-]+$")]
HttpsUrl = Annotated[str, Meta(pattern=r"^https://\S+$", max_length=2000)]
# Text that meets a header or a layout has a length limit: a 10 MB name would be folded into
# every subject and From line. Lines (a name, a greeting), texts (the footer), links.
Line = Annotated[str, Meta(max_length=200)]
Text = Annotated[str, Meta(max_length=2000)]
Link = Annotated[str, Meta(max_length=2000)]
# A BCP 47 language tag, as far as digest needs one: "fr", "pt-BR", "sr-Latn" (also `digest init`).
LANGUAGE_TAG = r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*"


# A link's scheme: only web pages are links (an ESP's merge tag, "*|UNSUB|*", has none).
_WEB = ("http", "https")


class NewsletterConfig(_Section, frozen=True):
    name: Line = "My Newsletter"
    tagline: Line = ""
    url: Link | None = None
    language: Annotated[str, Meta(pattern=rf"^{LANGUAGE_TAG}$")] = "en"
    direction: Literal["ltr", "rtl"] = "ltr"
    logo: HttpsUrl | None = None  # shown in the masthead instead of the name as text
    logo_width: Annotated[int, Meta(ge=16, le=600)] = 200
    sender: Line = "My Newsletter <newsletter@example.org>"  # the From header
    reply_to: Line | None = None
    footer: Text = ""  # "You receive this because you subscribed at …"
    postal_address: Text = ""  # shown in the footer, as the law asks of bulk mail in many places
    # The footer's links: URLs, or your ESP's merge tags ("*|UNSUB|*", "{{ unsubscribe_url }}"),
    # which come out exactly as written. `{slug}`, `{number}`, `{date}` are filled in.
    view_online_url: Link | None = None
    unsubscribe_url: Link | None = None
    unsubscribe_mailto: Link | None = None  # "mailto:leave@example.org" for List-Unsubscribe

    def __post_init__(self) -> None:
        for key, allowed in (("view_online_url", _WEB), ("unsubscribe_url", _WEB), ("url", _WEB)):
            value = getattr(self, key)
            scheme = scheme_of(value or "")
            if scheme and scheme.lower() not in allowed:
                raise ValueError(f"{key}: a {scheme}: link is no page a reader can open: {value!r}")
        if self.unsubscribe_mailto and not self.unsubscribe_mailto.lower().startswith("mailto:"):
            raise ValueError(f"unsubscribe_mailto: not a mailto: URL: {self.unsubscribe_mailto!r}")
        for key in ("sender", "reply_to"):
            value = getattr(self, key)
            if value is None:
                continue
            parsed = getaddresses([value])
            if len(parsed) != 1 or not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", parsed[0][1]):
                raise ValueError(f"{key}: not one email address: {value!r}")


class ThemeConfig(_Section, frozen=True):
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


class LinksConfig(_Section, frozen=True):
    """UTM parameters on every story link; a parameter the link already has is never changed."""

    utm: bool = True
    utm_source: Line = "newsletter"
    utm_medium: Line = "email"
    utm_campaign: Line = "digest-{number}"  # `{slug}`, `{number}`, `{date}` are filled in


class IssueConfig(_Section, frozen=True):
    date: dt.date | None = None


MAX_BYTES = 10 * 1024 * 1024  # sources.max_bytes's default: a feed, an analytics export or answer
MAX_CONFIG_BYTES = 1024 * 1024  # a digest.toml is a few kilobytes


class SourcesConfig(_Section, frozen=True):
    feeds: list[str] = []
    # Analytics exports (GA4, Plausible, Matomo, Umami, Fathom, or url,pageviews), added up;
    # each recognised from its content unless `analytics_format` says which tool wrote them.
    # An API may stand for a file: "plausible+https://…/?site_id=…", "matomo+https://…/?idSite=1",
    # "umami+https://…/?website=…", asked for the issue's window; its token in `analytics_token_env`.
    analytics: str | list[str] | None = None
    analytics_token_env: str = "DIGEST_ANALYTICS_TOKEN"
    # The days an export covers, when it does not say so itself ([2025-11-17, 2025-11-23]; the
    # build's --analytics-period): one that misses the issue's window is a warning.
    analytics_period: Annotated[list[dt.date], Meta(min_length=2, max_length=2)] | None = None
    analytics_format: Literal["auto", "ga4", "plausible", "matomo", "umami", "fathom", "generic"] = "auto"
    # Other addresses of the site the stories are on (an old domain, the host with or without
    # www): their pages count as the same pages. Paths in an export resolve against newsletter.url.
    site_urls: list[str] = []
    # One failing feed does not sink the issue unless `strict` is set.
    strict: bool = False
    timeout: Annotated[float, Meta(gt=0, le=600)] = 30.0
    connect_timeout: Annotated[float, Meta(gt=0, le=120)] = 10.0
    max_bytes: Annotated[int, Meta(ge=1024)] = MAX_BYTES
    max_redirects: Annotated[int, Meta(ge=0, le=20)] = 5


class StateConfig(_Section, frozen=True):
    # Unset: `.digest` beside digest.toml, like the output folder.
    dir: str | None = None


class WeightsConfig(_Section, frozen=True):
    """The score: (pageviews × page views + comments × comments) × recency decay."""

    pageviews: Annotated[float, Meta(ge=0)] = 1.0
    comments: Annotated[float, Meta(ge=0)] = 10.0
    # A story's score halves every `half_life_days` of age; 0 turns the decay off.
    half_life_days: Annotated[float, Meta(ge=0)] = 7.0


class SelectionConfig(_Section, frozen=True):
    # "since-last-issue": from the previous issue's date (the first issue: `window_days`);
    # "days": always the last `window_days` days.
    window: Literal["since-last-issue", "days"] = "since-last-issue"
    window_days: Annotated[int, Meta(ge=1, le=366)] = 7
    # Fewer new stories than this: nothing is built, exit 3 (cron skips the send).
    min_items: Annotated[int, Meta(ge=1)] = 1
    picks: str | None = None  # a TOML or YAML file: lead and editors_choice, URLs or guids
    lead: str | None = None  # a pinned lead (URL or guid); wins over the picks file
    editors_choice_picks: list[str] = []  # pinned, after the picks file's
    lead_categories: list[str] = []  # e.g. ["Featured"]
    lead_prefer_image: bool = False
    editors_choice_categories: list[str] = field(default_factory=lambda: ["Editor's choice"])
    editors_choice_size: Annotated[int, Meta(ge=0, le=50)] = 3
    popular_size: Annotated[int, Meta(ge=0, le=50)] = 5
    max_per_source: Annotated[int, Meta(ge=0)] = 0  # 0: no quota
    include_categories: list[str] = []  # empty: every category
    exclude_categories: list[str] = []
    include_keywords: list[str] = []  # in headline or summary
    exclude_keywords: list[str] = []
    exclude_sources: list[str] = []  # feeds as named in sources.feeds
    weights: WeightsConfig = field(default_factory=WeightsConfig)


class SmtpConfig(_Section, frozen=True):
    """Where `digest send` delivers. The password never comes from this file: it is read from
    the environment variable `password_env`, or from `password_file`."""

    host: str = "localhost"
    port: Annotated[int, Meta(ge=1, le=65535)] = 587
    security: Literal["starttls", "tls", "none"] = "starttls"  # "tls": implicit TLS, port 465
    username: str | None = None
    password_env: str = "DIGEST_SMTP_PASSWORD"
    password_file: str | None = None
    ca_file: str | None = None  # a CA bundle to verify the server with, besides the system's
    timeout: Annotated[float, Meta(gt=0, le=600)] = 30.0
    # Sessions to the relay at once: a relay across a network answers each message after a round
    # trip or more, and takes many connections (Postfix, an ESP's SMTP endpoint).
    connections: Annotated[int, Meta(ge=1, le=64)] = 1
    rate: Annotated[float, Meta(ge=0)] = 0.0  # messages per second, all sessions together; 0: no limit
    # Connection failures in a row (refused, timed out, lost, 421) before the run gives up and
    # leaves the rest queued; each waits `backoff` seconds, doubling (2+4+8+16: half a minute).
    retries: Annotated[int, Meta(ge=0, le=20)] = 4
    backoff: Annotated[float, Meta(ge=0, le=600)] = 2.0
    # Messages in any 24 hours, from this state database (0: no limit): a provider's quota. A list
    # warms up a new sending domain, a number a day from the first send, the last one after that.
    daily_limit: (
        Annotated[int, Meta(ge=0)] | Annotated[list[Annotated[int, Meta(ge=1)]], Meta(min_length=1)]
    ) = 0


class SendConfig(_Section, frozen=True):
    subscribers: str = "subscribers.csv"  # email, name, any other columns; status: unsubscribed/bounced skip
    # Unsubscribe links may carry {reader} (or {email}) and {token}: the token is an HMAC of the address with
    # this secret, read from the environment, so a link cannot be forged for someone else.
    secret_env: str = "DIGEST_UNSUBSCRIBE_SECRET"
    greeting: Line = ""  # e.g. "Dear {name},"; empty: no greeting line
    greeting_fallback: Line = ""  # for a subscriber without a name, e.g. "Dear reader,"


class FeedbackConfig(_Section, frozen=True):
    """Where bounces and complaints come back (`digest feedback`; send and run read it first)."""

    # A local Maildir folder, or an IMAP folder: "imaps://user@host[:port]/FOLDER" (TLS), or
    # "imap://…" (STARTTLS, never in the clear). The password comes from `password_env` or
    # `password_file`, never from this file.
    mailbox: str | None = None
    password_env: str = "DIGEST_FEEDBACK_PASSWORD"
    password_file: str | None = None
    ca_file: str | None = None  # a CA bundle to verify the IMAP server with, besides the system's
    processed: str = "Processed"  # the folder handled mail is moved to
    # A larger message is left in the mailbox unread (named in the summary): real bounces and
    # complaints are a few kilobytes, and one that quotes the issue whole a few hundred.
    max_message_bytes: Annotated[int, Meta(ge=65536, le=100 * 1024 * 1024)] = 5 * 1024 * 1024
    # Temporary failures on this many different issues suppress an address.
    soft_bounce_limit: Annotated[int, Meta(ge=1, le=100)] = 3
    # VERP: each copy's envelope sender, with the recipient's token ("bounces+{token}@example.org"),
    # so a bounce is traced to its subscriber even when it names a forwarding address or nobody.
    return_path: str | None = None

    def __post_init__(self) -> None:
        if self.mailbox and self.mailbox.startswith(("imap:", "imaps:")):
            try:
                mailbox_url(self.mailbox)
            except ValueError as error:  # it names the problem
                raise ValueError(f"mailbox: {error}") from None
        value = self.return_path
        if value is not None and (
            value.count("{token}") != 1 or not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+", value)
        ):
            raise ValueError(f"return_path: not an address with {{token}} in it once: {value!r}")


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


# A DNS label and a dotted host name, as a DKIM selector and signing domain are written.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
Selector = Annotated[str, Meta(pattern=rf"^{_LABEL}(?:\.{_LABEL})*$", max_length=200)]
Domain = Annotated[str, Meta(pattern=rf"^{_LABEL}(?:\.{_LABEL})+$", max_length=253)]


class DkimConfig(_Section, frozen=True):
    """DKIM signatures on every copy (RFC 6376). On when `selector` is set; the private key is
    read from `key_file` or the variable `key_env`, never from this file."""

    selector: Selector | None = None  # the key's DNS name: {selector}._domainkey.{domain}
    domain: Domain | None = None  # d=; unset: the From address's domain (what DMARC aligns with)
    key_file: str | None = None  # an RSA private key in PEM, 2048 bits or more (`digest init --dkim`)
    key_env: str = "DIGEST_DKIM_KEY"
    # A second signature with an Ed25519 key (RFC 8463), beside the RSA one every receiver reads.
    ed25519_selector: Selector | None = None
    ed25519_key_file: str | None = None
    ed25519_key_env: str = "DIGEST_DKIM_ED25519_KEY"


TopicName = Annotated[str, Meta(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]
LanguageTag = Annotated[str, Meta(pattern=rf"^{LANGUAGE_TAG}$")]


class TopicConfig(_Section, frozen=True):
    """A topic readers can choose: the stories in these categories or from these feeds."""

    categories: list[str] = []  # as the feeds tag them (any case)
    feeds: list[str] = []  # as named in sources.feeds


class SegmentsConfig(_Section, frozen=True):
    """Readers who want only some topics, or another language (the subscriber list's `topics`
    and `language` columns): each distinct choice is a variant of the issue, built with it."""

    # [segments.topics.economy] categories = ["Economy", "Energy"]: a reader's `topics` names them.
    topics: dict[TopicName, TopicConfig] = {}
    # The languages besides newsletter.language that variants are built in (shipped catalogs);
    # a reader whose language is not among them gets the newsletter's.
    languages: list[LanguageTag] = []
    # Readers may choose `cadence = monthly`: they get nothing weekly, and with the month's last
    # issue (the next is due in another month) a monthly one, from the whole month's stories.
    monthly: bool = False


class ArchiveConfig(_Section, frozen=True):
    """The web archive of past issues (`digest archive`)."""

    dir: str | None = None  # unset: archive beside digest.toml
    # Where the archive is published. When set, each email's "view in browser" link points to its
    # issue's page there (unless newsletter.view_online_url says otherwise), and the feeds use it.
    base_url: HttpsUrl | None = None


class OutputConfig(_Section, frozen=True):
    # Unset: `issues` beside digest.toml; under the current folder for the bundled sample,
    # whose own folder may be inside an installed package.
    dir: str | None = None
    templates: str | None = None


class Config(_Section, frozen=True):
    newsletter: NewsletterConfig = field(default_factory=NewsletterConfig)
    theme: ThemeConfig = field(default_factory=ThemeConfig)
    links: LinksConfig = field(default_factory=LinksConfig)
    issue: IssueConfig = field(default_factory=IssueConfig)
    sources: SourcesConfig = field(default_factory=SourcesConfig)
    selection: SelectionConfig = field(default_factory=SelectionConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    state: StateConfig = field(default_factory=StateConfig)
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    send: SendConfig = field(default_factory=SendConfig)
    archive: ArchiveConfig = field(default_factory=ArchiveConfig)
    feedback: FeedbackConfig = field(default_factory=FeedbackConfig)
    dkim: DkimConfig = field(default_factory=DkimConfig)
    segments: SegmentsConfig = field(default_factory=SegmentsConfig)
    # The templates' words for this newsletter, over its language's catalog: the English message
    # as the key ("Editor's choice" = "Our picks").
    labels: dict[str, str] = {}
    # The file this came from: not a key a user can set (`_problems` refuses it).
    source: Path | None = None

    @property
    def path(self) -> Path | None:
        return self.source

    @property
    def base_dir(self) -> Path:
        """Relative paths in a config file are relative to the file's folder."""
        return self.source.parent if self.source else Path.cwd()

    def resolve(self, value: str) -> str:
        """A path from the config, made absolute against the config's folder; URLs pass through."""
        if is_url(value):
            return value
        return str(self.base_dir / Path(value).expanduser())
