"""DNS queries that probes share (`dns`, `email_auth`): which server to
ask, one query with a TCP retry on truncation, and answers as text."""

from __future__ import annotations

import asyncio
import functools
import socket

import dns.asyncbackend
import dns.asyncquery
import dns.flags
import dns.inet
import dns.message
import dns.rdata
import dns.rdatatype
import dns.resolver
from dns.rdtypes.ANY.TXT import TXT

from agent.probe_kit.base import assertion
from agent.probe_kit.faults import Failure, failure
from agent.probe_kit.faults import classify as classify_shared
from common.addresses import split_host_port
from common.faults import Fault
from vantage.v1 import vantage_pb2 as pb


@functools.cache
def _system_nameserver() -> str:
    # Read resolv.conf once per process; only the first server is asked so
    # a result always names the one server that answered.
    nameservers = dns.resolver.Resolver(configure=True).nameservers
    return str(nameservers[0])


def resolve_server(server: str | None) -> tuple[str, int]:
    """The (ip, port) to ask: the configured server, else the system's first."""
    if server is None:
        return _system_nameserver(), 53
    return split_host_port(server, 53)


async def query(
    name: str, rdtype: str, where: tuple[str, int], lifetime: float, dnssec: bool = False
) -> tuple[dns.message.Message, bool]:
    """Ask `where` for `name`/`rdtype` within `lifetime` seconds; returns the
    response and whether TCP was needed because UDP came back truncated.
    With `dnssec`, the query sets DO and AD, so a validating resolver says
    in its AD bit whether it validated the answer (RFC 6840 §5.7)."""
    message = dns.message.make_query(name, rdtype, want_dnssec=dnssec)
    if dnssec:
        message.flags |= dns.flags.AD
    host, port = where
    # dnspython gives UDP and the TCP retry a timeout each; one bound for both.
    async with asyncio.timeout(lifetime):
        # A connected UDP socket hears the ICMP "port unreachable" of a
        # server that is not running: connect_refused at once, where
        # dnspython's own unconnected socket waits out the timeout.
        backend = dns.asyncbackend.get_default_backend()
        family = dns.inet.af_for_address(host)
        sock = await backend.make_socket(  # type: ignore[no-untyped-call]  # dnspython leaves it untyped
            family, socket.SOCK_DGRAM, 0, None, (host, port)
        )
        async with sock:
            return await dns.asyncquery.udp_with_fallback(
                message, host, timeout=lifetime, port=port, udp_sock=sock
            )


def answer_text(rdata: dns.rdata.Rdata) -> str:
    """An answer as text; TXT strings are joined the way SPF and DKIM read
    them, since long records are split into 255-byte strings."""
    if isinstance(rdata, TXT):
        return b"".join(rdata.strings).decode("utf-8", errors="replace")
    return rdata.to_text()


def answers(response: dns.message.Message, rdtype: str) -> list[str]:
    """The sorted answers of type `rdtype` (CNAMEs followed on the way are
    left out unless they were asked for)."""
    wanted = dns.rdatatype.from_text(rdtype)
    texts = [answer_text(rd) for rrset in response.answer if rrset.rdtype == wanted for rd in rrset]
    return sorted(texts)


def assert_that(result: pb.Result, name: str, ok: bool, message: str) -> bool:
    """Record a named assertion; `message` explains a failure and is
    dropped when it passes."""
    return assertion(result, name, ok, "" if ok else message)


def classify_query(exc: BaseException) -> Failure:
    """Errors of `query`: a server that stays silent is a DNS timeout (the
    query is UDP: nothing tells "not connected" from "no answer"); the rest
    by the shared table."""
    if isinstance(exc, TimeoutError):
        return failure(Fault.NO_ANSWER, "no answer before the timeout")
    return classify_shared(exc, connected=False)
