"""The feedback mailbox on an IMAP server, through IMAPClient.

TLS always (implicit for imaps://, STARTTLS for imap://), the certificate and host name verified.
Messages are fetched with BODY.PEEK, so none is marked read; handled ones are moved with MOVE
(RFC 6851), or COPY and expunge where the server lacks it, in one command per batch.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from digest.config import Config, mailbox_url
from digest.config.secrets import password
from digest.errors import ConfigError, FeedbackError
from digest.feedback.mailbox import over_limit

TIMEOUT = 30.0  # seconds for any one answer: a server that stops answering ends the run
BATCH = 200  # messages fetched, and moved, per command
FETCH_BYTES = 16 * 1024 * 1024  # message bytes asked for in one command, at most (but one message)


def _by_size(uids: list[int], sizes: dict[int, int]) -> Iterator[list[int]]:
    group: list[int] = []
    total = 0
    for uid in uids:
        if group and total + sizes.get(uid, 0) > FETCH_BYTES:
            yield group
            group, total = [], 0
        group.append(uid)
        total += sizes.get(uid, 0)
    if group:
        yield group


def batched(items: list[int]) -> Iterator[list[int]]:
    return (items[start : start + BATCH] for start in range(0, len(items), BATCH))


class ImapFolder:
    def __init__(self, client: IMAPClient, processed: str) -> None:
        self._client, self._processed = client, processed
        self._filed: list[int] = []

    def messages(self, max_bytes: int) -> Iterator[tuple[str, bytes | str]]:
        uids = self._client.search(["NOT", "DELETED"])
        for batch in batched(uids):
            # The sizes first: a message over the limit is never downloaded, and the others come
            # in groups of at most FETCH_BYTES, so a batch of large ones never sits in memory at once.
            answer = self._client.fetch(batch, ["RFC822.SIZE"])
            sizes = {uid: int(found.get(b"RFC822.SIZE", 0)) for uid, found in answer.items()}
            for group in _by_size([uid for uid in batch if sizes.get(uid, 0) <= max_bytes], sizes):
                fetched = self._client.fetch(group, ["BODY.PEEK[]"])
                for uid in group:
                    data = fetched.get(uid, {}).get(b"BODY[]")
                    if isinstance(data, bytes):
                        yield str(uid), data if len(data) <= max_bytes else over_limit(len(data), max_bytes)
            for uid in batch:
                if sizes.get(uid, 0) > max_bytes:
                    yield str(uid), over_limit(sizes[uid], max_bytes)

    def file(self, key: str) -> None:
        self._filed.append(int(key))

    def move_filed(self) -> None:
        client = self._client
        if self._filed and not client.folder_exists(self._processed):
            client.create_folder(self._processed)
        for batch in batched(self._filed):
            if client.has_capability("MOVE"):
                client.move(batch, self._processed)
            else:
                client.copy(batch, self._processed)
                client.delete_messages(batch)
                if client.has_capability("UIDPLUS"):
                    client.uid_expunge(batch)
                else:
                    client.expunge()
        self._filed.clear()


@contextmanager
def logged_in(config: Config) -> Iterator[tuple[IMAPClient, str]]:
    """A client logged in to the IMAP account of `feedback.mailbox`, and how to name it ("host:port");
    every failure is a `FeedbackError` that says where. (`open_imap` for reading feedback; the
    deliverability check's receiver tier looks in the same account for its test copy.)"""
    settings = config.feedback
    where = mailbox_url(settings.mailbox or "")
    label = f"{where.host}:{where.port}"
    context = ssl.create_default_context(
        cafile=config.resolve(settings.ca_file) if settings.ca_file else None
    )
    try:
        client = IMAPClient(
            where.host, where.port, ssl=where.tls == "tls", ssl_context=context, timeout=TIMEOUT
        )
        if where.tls == "starttls":
            client.starttls(context)
    except ssl.SSLError as error:
        raise FeedbackError(f"{label}: TLS failed: {error.reason or error}") from None
    except (TimeoutError, OSError, IMAPClientError) as error:
        raise FeedbackError(f"cannot connect to the feedback mailbox at {label}: {error}") from None
    try:
        yield client, label
    except (OSError, IMAPClientError) as error:
        raise FeedbackError(f"{label}: the feedback mailbox failed: {error}") from None
    finally:
        try:
            client.logout()
        except (OSError, IMAPClientError):
            client.shutdown()


def login(client: IMAPClient, label: str, config: Config, env: Mapping[str, str]) -> None:
    settings = config.feedback
    user = mailbox_url(settings.mailbox or "").user
    try:
        client.login(user, account_password(config, env))
    except LoginError:
        raise FeedbackError(f"{label}: the feedback mailbox refused the login of {user}") from None


def account_password(config: Config, env: Mapping[str, str]) -> str:
    settings = config.feedback
    secret = password(config, settings.password_file, settings.password_env, env, "feedback.password_file")
    if not secret:
        raise ConfigError(
            f"feedback.mailbox is on IMAP: set its password in ${settings.password_env}"
            " or feedback.password_file"
        )
    return secret


@contextmanager
def open_imap(config: Config, env: Mapping[str, str]) -> Iterator[ImapFolder]:
    account_password(config, env)  # a missing password is the config's fault: said before connecting
    where = mailbox_url(config.feedback.mailbox or "")
    with logged_in(config) as (client, label):
        login(client, label, config, env)
        try:
            client.select_folder(where.folder)
        except IMAPClientError as error:
            raise FeedbackError(f"{label}: cannot open folder {where.folder!r}: {error}") from None
        folder = ImapFolder(client, config.feedback.processed)
        try:
            yield folder
        finally:
            folder.move_filed()  # what was recorded is filed, even when the run stops
