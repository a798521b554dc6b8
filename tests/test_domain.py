"""`digest check --deliverability`, tier 2: the domain's DNS, asked of a real authoritative server
(dnslib) on a loopback port, one zone per case. Exit 10 on an error; the answers are saved in the
issue folder and replay to the same findings with the server gone."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from typer.testing import Result

from digest.config import load_config
from digest.deliverability.records import txt
from digest.send.dkim import Key, load_keys, parse_key

from .conftest import Cli
from .dns_server import serving
from .test_deliverability import SECRET, SIGNED, sample_newsletter
from .test_dkim import rsa_pem

RELAY = "192.0.2.25"
pytestmark = pytest.mark.slow  # a DNS server, a build and SpamAssassin for each case


class Newsletter:
    def __init__(self, cli: Cli, extra: str = "") -> None:
        self.cli = cli
        self.config = sample_newsletter(cli.cwd / "news", SIGNED + extra)
        text = self.config.read_text().replace('host = "localhost"', 'host = "relay.commonground.example"')
        self.config.write_text(text)
        assert cli("build", "--config", str(self.config)).exit_code == 0
        [self.key] = load_keys(load_config(self.config), {})

    def zone(
        self,
        *,
        spf: str = f"v=spf1 ip4:{RELAY} -all",
        dmarc: str | None = "v=DMARC1; p=reject; rua=mailto:dmarc@commonground.example",
        key: Key | None = None,
        extra: str = "",
    ) -> str:
        lines = [
            f"relay.commonground.example. 300 IN A {RELAY}",
            txt((key or self.key).name, (key or self.key).record()),
        ]
        if spf:
            lines.append(txt("commonground.example", spf))
        if dmarc:
            lines.append(txt("_dmarc.commonground.example", dmarc))
        return "\n".join(lines) + "\n" + extra

    def check(self, *options: str) -> Result:
        return self.cli("check", "--deliverability", "--config", str(self.config), *options, env=SECRET)


@pytest.fixture
def news(cli: Cli) -> Iterator[Newsletter]:
    yield Newsletter(cli)


def domain_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.split(": ")[2:3] != ["spamassassin"]]


def test_a_domain_set_up_right_passes_and_its_answers_replay_without_the_server(news: Newsletter) -> None:
    with serving(news.zone()) as server:
        result = news.check("--nameserver", server)
    assert result.exit_code == 0, result.output
    assert "domain: 0 errors, 0 warnings" in result.stdout
    saved = next((news.cli.cwd / "news" / "issues").glob("*/deliverability.json"))
    answers = json.loads(saved.read_text())["dns"]["answers"]
    assert answers["commonground.example TXT"] == [f'"v=spf1 ip4:{RELAY} -all"']
    assert answers["relay.commonground.example A"] == [RELAY]
    replayed = news.check("--dns-answers", str(saved))
    assert replayed.exit_code == 0, replayed.output
    assert "domain: 0 errors, 0 warnings" in replayed.stdout


def test_no_spf_record_is_exit_10(news: Newsletter) -> None:
    with serving(
        news.zone(spf="", extra=txt("commonground.example", "site-verification=abc") + "\n")
    ) as server:
        result = news.check("--nameserver", server)
    assert result.exit_code == 10
    assert domain_lines(result) == ["digest: error: spf: commonground.example: An SPF record does not exist."]


def test_an_spf_record_needing_11_lookups_is_an_error(news: Newsletter) -> None:
    includes = " ".join(f"include:i{n}.commonground.example" for n in range(11))
    nested = "".join(
        txt(f"i{n}.commonground.example", f"v=spf1 ip4:10.0.0.{n} -all") + "\n" for n in range(11)
    )
    with serving(news.zone(spf=f"v=spf1 ip4:{RELAY} {includes} -all", extra=nested)) as server:
        result = news.check("--nameserver", server)
    assert result.exit_code == 10
    [line] = domain_lines(result)
    assert line.startswith("digest: error: spf: commonground.example: ") and "11/10" in line


def test_spf_that_leaves_the_relay_out_is_an_error(news: Newsletter) -> None:
    with serving(
        news.zone(
            spf="v=spf1 ip4:198.51.100.7 include:other.commonground.example ~all",
            extra=txt("other.commonground.example", "v=spf1 a:mail.commonground.example -all")
            + "\n"
            + "mail.commonground.example. 300 IN A 198.51.100.8\n",
        )
    ) as server:
        result = news.check("--nameserver", server)
    assert result.exit_code == 10
    assert domain_lines(result) == [
        "digest: error: spf: commonground.example: SPF does not let the relay"
        f" relay.commonground.example ({RELAY}) send: softfail"
    ]


def test_a_wrong_dkim_key_in_dns_is_an_error(news: Newsletter) -> None:
    other = Key(parse_key(rsa_pem(), "another key"), "d2025", "commonground.example")
    assert other.record() != news.key.record()
    with serving(news.zone(key=other)) as server:
        result = news.check("--nameserver", server)
    assert result.exit_code == 10
    assert domain_lines(result) == [
        "digest: error: dkim: d2025._domainkey.commonground.example: the key published there is not the one"
        " signing: every copy fails DKIM"
    ]


def test_a_short_key_in_dns_is_an_error_even_beside_the_right_one(news: Newsletter) -> None:
    short = Key(
        rsa.generate_private_key(public_exponent=65537, key_size=1024), "d2025", "commonground.example"
    )
    with serving(news.zone(key=short)) as server:
        result = news.check("--nameserver", server)
    assert result.exit_code == 10
    assert domain_lines(result) == [
        "digest: error: dkim: d2025._domainkey.commonground.example: a 1024-bit key;"
        " receivers ask for 2048 bits",
        "digest: error: dkim: d2025._domainkey.commonground.example: the key published there is not the one"
        " signing: every copy fails DKIM",
    ]


def test_dmarc_p_none_is_a_warning_and_p_reject_is_not(news: Newsletter) -> None:
    with serving(news.zone(dmarc="v=DMARC1; p=none")) as server:
        none = news.check("--nameserver", server)
    assert none.exit_code == 0, none.output
    assert domain_lines(none) == [
        "digest: warning: dmarc: commonground.example: p=none asks receivers to do nothing with mail"
        " that fails; move to p=quarantine once the reports are clean"
    ]
    with serving(news.zone(dmarc="v=DMARC1; p=reject")) as server:
        reject = news.check("--nameserver", server)
    assert reject.exit_code == 0 and domain_lines(reject) == []
    with serving(news.zone(dmarc=None)) as server:
        missing = news.check("--nameserver", server)
    assert missing.exit_code == 10
    assert domain_lines(missing)[0].startswith("digest: error: dmarc: commonground.example: ")


def test_a_return_path_on_another_domain_is_misaligned_and_dmarc_rests_on_dkim(cli: Cli) -> None:
    news = Newsletter(cli, '[feedback]\nreturn_path = "bounces+{token}@bounce.elsewhere.example"\n')
    bounce_spf = txt("bounce.elsewhere.example", f"v=spf1 ip4:{RELAY} -all") + "\n"
    with serving(news.zone(extra=bounce_spf)) as server:
        result = news.check("--nameserver", server)
    assert result.exit_code == 0, result.output
    assert domain_lines(result) == [
        "digest: warning: dmarc: the return path's domain bounce.elsewhere.example is not aligned with From"
        " commonground.example (aspf=r): DMARC rests on the DKIM signature alone"
    ]
    # Strict DKIM alignment with a signature by a subdomain: neither aligns, DMARC fails.
    news.config.write_text(
        news.config.read_text().replace(
            'selector = "d2025"', 'selector = "d2025"\ndomain = "mail.commonground.example"'
        )
    )
    key = load_keys(load_config(news.config), {})[0]
    with serving(news.zone(key=key, dmarc="v=DMARC1; p=reject; adkim=s", extra=bounce_spf)) as server:
        strict = news.check("--nameserver", server)
    assert strict.exit_code == 10
    assert domain_lines(strict) == [
        "digest: error: dmarc: neither a DKIM signature nor the return path's domain"
        " bounce.elsewhere.example is aligned with From commonground.example (adkim=s, aspf=r):"
        " every copy fails DMARC"
    ]


def test_a_nameserver_that_does_not_answer_is_one_line(news: Newsletter) -> None:
    result = news.check("--nameserver", "127.0.0.1:9")  # the discard port: nothing answers
    assert result.exit_code == 10
    [line] = domain_lines(result)  # one line, after one wait: not a timeout per question
    assert line.startswith("digest: error: dns: no answer from the DNS server (")
    assert line.endswith("): the domain was not checked")
