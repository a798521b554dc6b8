"""A real authoritative DNS server on a loopback port (dnslib), serving one zone per test case,
over UDP and TCP (a DKIM key's TXT answer may not fit in a datagram)."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from contextlib import contextmanager

from dnslib.server import DNSLogger, DNSServer
from dnslib.zoneresolver import ZoneResolver


@contextmanager
def serving(zone: str) -> Iterator[str]:
    """The zone (zone-file text) answered on 127.0.0.1; yields "127.0.0.1:PORT"."""
    resolver = ZoneResolver(textwrap.dedent(zone), glob=False)
    quiet = DNSLogger(prefix=False, logf=lambda _: None)
    udp = DNSServer(resolver, port=0, address="127.0.0.1", logger=quiet)
    udp.start_thread()
    port = udp.server.server_address[1]
    tcp = DNSServer(resolver, port=port, address="127.0.0.1", tcp=True, logger=quiet)
    tcp.start_thread()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        udp.stop()
        tcp.stop()
