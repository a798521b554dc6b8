"""Tier 3, the receiver: a signed test copy sent through the relay to an address whose mailbox
digest can read (the feedback account on IMAP), then looked for in its Inbox and Junk folders.
Where it was filed, and the receiver's own verdict in its Authentication-Results header (RFC 8601,
read with authres), are the findings. The test copy is deleted once read."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from email import message_from_bytes, policy

import authres
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from digest.config import Config
from digest.deliverability.findings import Finding, Tier, Verdict, error, warning
from digest.feedback.imap import logged_in, login

MARKER = "X-Digest-Check"  # the header that tells this run's test copy from any other
POLL = 1.0  # seconds between looks
JUNK_NAMES = ("junk", "spam", "junk e-mail", "junk email", "bulk mail")


def junk_folders(client: IMAPClient) -> list[str]:
    """The folders a receiver files spam in: marked \\Junk (RFC 6154), or named so."""
    found = []
    for flags, delimiter, name in client.list_folders():
        leaf = name.rsplit(delimiter.decode() if delimiter else "/", 1)[-1].lower()
        if b"\\Junk" in flags or leaf in JUNK_NAMES:
            found.append(name)
    return found


def _find(client: IMAPClient, folders: list[str], marker: str) -> tuple[str, int] | None:
    for folder in folders:
        client.select_folder(folder, readonly=True)
        uids = client.search(["HEADER", MARKER, marker])
        if uids:
            return folder, uids[0]
    return None


def _headers(client: IMAPClient, folder: str, uid: int) -> bytes:
    client.select_folder(folder, readonly=True)
    fetched = client.fetch([uid], ["BODY.PEEK[HEADER]"])
    data: bytes = fetched[uid][b"BODY[HEADER]"]
    return data


def _delete(client: IMAPClient, folder: str, uid: int) -> None:
    client.select_folder(folder)
    client.delete_messages([uid])
    client.expunge()


def verdicts(headers: bytes) -> Iterator[tuple[str, str, str]]:
    """(method, result, the authentication service) of each Authentication-Results the copy got."""
    message = message_from_bytes(headers, policy=policy.compat32)
    for value in message.get_all("Authentication-Results", []):
        try:
            parsed = authres.AuthenticationResultsHeader.parse(
                f"Authentication-Results: {' '.join(value.split())}"
            )
        except authres.AuthResError:
            continue
        for result in parsed.results:
            yield str(result.method).lower(), str(result.result).lower(), str(parsed.authserv_id)


def judge(folder: str, junk: bool, headers: bytes) -> tuple[list[Finding], dict[str, str]]:
    findings = []
    if junk:
        findings.append(error("receiver", f"filed in {folder}: the receiver took the copy for spam"))
    seen = {method: (result, server) for method, result, server in verdicts(headers)}
    facts = {"folder": folder} | {method: result for method, (result, _) in sorted(seen.items())}
    if not seen:
        findings.append(
            warning("receiver", "no Authentication-Results header: the receiver's verdict is not known")
        )
    for method in ("dkim", "dmarc"):
        result, server = seen.get(method, ("none", ""))
        if seen and result != "pass":
            findings.append(error("receiver", f"{method}={result} at {server or 'the receiver'}"))
    spf, server = seen.get("spf", ("none", ""))
    if spf in ("fail", "softfail", "permerror", "temperror"):
        findings.append(warning("receiver", f"spf={spf} at {server}"))
    return findings, facts


def check_receiver(
    config: Config,
    env: Mapping[str, str],
    marker: str,
    *,
    wait: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Verdict:
    """Look for the test copy marked `marker` for up to `wait` seconds; judge it where it is."""
    with logged_in(config) as (client, label):
        login(client, label, config, env)
        try:
            junk = junk_folders(client)
            deadline = clock() + wait
            found = _find(client, ["INBOX", *junk], marker)
            while found is None and clock() < deadline:
                sleep(POLL)
                found = _find(client, ["INBOX", *junk], marker)
            if found is None:
                looked = ", ".join(["INBOX", *junk])
                return Verdict(
                    Tier.RECEIVER,
                    [
                        error(
                            "receiver",
                            f"the test copy did not arrive in {wait:.0f} s (looked in {looked} at {label})",
                        )
                    ],
                )
            folder, uid = found
            findings, facts = judge(folder, folder in junk, _headers(client, folder, uid))
            _delete(client, folder, uid)  # a test copy left there would be read as feedback
        except IMAPClientError as failure:
            return Verdict(Tier.RECEIVER, [error("receiver", f"{label}: {failure}")])
    return Verdict(Tier.RECEIVER, findings, facts)
