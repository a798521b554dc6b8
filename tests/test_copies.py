"""Each subscriber's copy spliced from one encoded message is byte for byte the copy composed in full."""

from __future__ import annotations

import datetime as dt
import smtplib
from email import quoprimime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.addresses import reader, token
from digest.config import Config, load_config
from digest.issue_folder import PersonalIssue, read_personal
from digest.models import Recipient
from digest.render.markers import GREETING, UNSUBSCRIBE
from digest.send.copies import Copies, EncodedPart, boundary_for
from digest.send.personalize import personal_message

from .conftest import build_into

NOW = dt.datetime(2025, 11, 24, 6, 30, tzinfo=dt.UTC)
RECIPIENTS = [
    Recipient("ana.ionescu@example.org", "Ana Ionescu"),
    Recipient("editor@commonground.example"),  # no name: the fallback greeting
    Recipient("zoe@example.org", "Zoë Ünal-Çelik"),  # non-ASCII: an encoded word in To
    Recipient("mariam@example.com", "Մարիամ Սարգսյան"),
    Recipient("a.b@example.org", "Ionescu, Ana"),  # a comma: quoted in To
    Recipient("dr@example.org", 'Dr. "Who" <the doctor>'),  # quotes and angle brackets
    Recipient("o'brien+news@example.ie", "Seán O'Brien"),
    Recipient("x" * 50 + "@" + "sub." * 8 + "example.org", "A long name that makes the To header fold " * 2),
    Recipient("two.spaces@example.org", "Ana  Ionescu "),  # white space the email package tidies
    Recipient("josé@example.org", "José"),  # a non-ASCII local part: UTF-8 headers (SMTPUTF8)
    Recipient("user@xn--bcher-kva.example", "Bücher"),  # an IDNA domain, as sent
]


@pytest.fixture(scope="module")
def issue(tmp_path_factory: pytest.TempPathFactory) -> tuple[PersonalIssue, Config]:
    from .conftest import SAMPLE

    config = load_config(SAMPLE / "digest.toml")
    folder, built = build_into(config, tmp_path_factory.mktemp("copies"))
    return read_personal(folder, built.issue.number), config


def test_every_spliced_copy_is_the_copy_composed_in_full(issue: tuple[PersonalIssue, Config]) -> None:
    built, config = issue
    copies = Copies(built, config, now=NOW, secret="secret")
    for recipient in RECIPIENTS:
        full = personal_message(
            built, recipient, config, now=NOW, secret="secret", boundary=boundary_for(built)
        )
        assert copies.for_recipient(recipient) == full, recipient


def test_the_personal_unsubscribe_link_is_never_folded_or_encoded(
    issue: tuple[PersonalIssue, Config],
) -> None:
    built, config = issue
    copy = Copies(built, config, now=NOW, secret="secret").for_recipient(RECIPIENTS[0])
    header = copy.split(b"List-Unsubscribe: ", 1)[1].split(b"\r\nList-Unsubscribe-Post")[0]
    ref = reader(RECIPIENTS[0].email)
    assert header.startswith(
        f"<https://www.commonground.example/newsletter/unsubscribe?reader={ref}&".encode()
    )
    assert b"=?" not in header  # RFC 2047 words in List-Unsubscribe are read by no mail client
    ana = token("secret", RECIPIENTS[0].email)
    mailto = f"mailto:unsubscribe@commonground.example?subject=unsubscribe%20{ana}"
    assert header.endswith(f">,\r\n <{mailto}>".encode())  # the token lets a mailed request be verified


def reference(text: str) -> bytes:
    """What the email package writes for a text part set with cte='quoted-printable'."""
    body = (b"\n".join(text.encode("utf-8").splitlines()) + b"\n").decode("latin-1")
    return quoprimime.body_encode(body, 78).replace("\n", "\r\n").encode("ascii")


# Stretches that stress the wrapping: escapes (=, non-ASCII) where lines break, white space at
# the end, long runs, and lines long enough for the cached stretches.
stretch = st.lists(st.sampled_from([*"ab =\té€\u00a0.<>", "x" * 70, "." * 5]), max_size=60).map("".join)
value = st.lists(st.sampled_from([*'ab =\t ö&"<', "y" * 30]), max_size=30).map("".join)


@settings(max_examples=300, deadline=None)
@given(
    parts=st.lists(stretch, min_size=1, max_size=8),
    markers=st.lists(st.sampled_from([GREETING, UNSUBSCRIBE]), min_size=7, max_size=7),
    values=st.tuples(value, value),
    extra_lines=st.lists(stretch, max_size=3),
)
def test_a_part_encoded_by_lines_and_stretches_is_what_the_email_package_writes(
    parts: list[str], markers: list[str], values: tuple[str, str], extra_lines: list[str]
) -> None:
    line = parts[0] + "".join(m + p for m, p in zip(markers, parts[1:], strict=False))
    text = "\n".join([*extra_lines, line, *extra_lines])
    filled = {GREETING: values[0], UNSUBSCRIBE: values[1]}
    expected = reference(text.replace(GREETING, filled[GREETING]).replace(UNSUBSCRIBE, filled[UNSUBSCRIBE]))
    assert EncodedPart(text).encode(filled) == expected
    # With the dots doubled, as DATA carries it: what smtplib does with a regular expression.
    assert EncodedPart(text, dots=True).encode(filled) == smtplib._quote_periods(expected)  # type: ignore[attr-defined]


def test_a_long_line_with_a_marker_uses_the_same_cache_for_every_copy() -> None:
    text = ("<td>" + "z" * 3000 + f"{GREETING}" + "w=" * 4000 + f'<a href="{UNSUBSCRIBE}">' + "q" * 500) * 1
    part = EncodedPart(text)
    for greeting in ("Dear Ana,", "Dear reader,", "Liebe Zoë,", ""):
        values = {GREETING: greeting, UNSUBSCRIBE: "https://x.example/u?e=a@b.org&t=1"}
        assert part.encode(values) == reference(
            text.replace(GREETING, greeting).replace(UNSUBSCRIBE, values[UNSUBSCRIBE])
        )
    [marked] = [line for line in part.template if not isinstance(line, str)]
    assert marked._stretches  # the stretches between markers were encoded once and looked up
