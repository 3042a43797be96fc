"""STARTTLS: the plain-text dialogue that comes before the TLS handshake on
a mail port (SMTP RFC 3207, IMAP RFC 9051 §6.2.1, POP3 RFC 2595 §4), so the
`tcp` and `tls` probes watch a mail server's certificate like a web one.

`negotiate` speaks the protocol up to the point where the server expects the
ClientHello; the caller then calls `writer.start_tls`. A server that answers
outside the protocol, or does not offer STARTTLS, raises ProtocolViolation.
"""

from __future__ import annotations

import asyncio

from agent.probe_kit.faults import ProtocolViolation

PROTOCOLS = ("smtp", "imap", "pop3")
"""The protocols `negotiate` speaks."""
_MAX_LINE = 4096
_MAX_LINES = 100  # an EHLO answer is a dozen lines; this bounds a babbling server


async def _line(reader: asyncio.StreamReader) -> str:
    raw = await reader.readline()
    if not raw:
        raise ProtocolViolation("the server closed the connection during STARTTLS")
    if len(raw) > _MAX_LINE:
        raise ProtocolViolation("the server sent an over-long line during STARTTLS")
    return raw.decode("latin-1").rstrip("\r\n")


async def _smtp_reply(reader: asyncio.StreamReader, want: str) -> list[str]:
    """A (multi-line) SMTP reply; its lines, or ProtocolViolation unless
    its code is `want`."""
    lines = []
    for _ in range(_MAX_LINES):
        line = await _line(reader)
        lines.append(line)
        if line[3:4] != "-":
            break
    if not lines[-1].startswith(want):
        raise ProtocolViolation(f"SMTP: want {want}, got {lines[-1][:80]!r}")
    return lines


async def _smtp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _smtp_reply(reader, "220")
    writer.write(b"EHLO vantage.invalid\r\n")
    extensions = await _smtp_reply(reader, "250")
    if not any(line[4:].upper().startswith("STARTTLS") for line in extensions):
        raise ProtocolViolation("SMTP: the server does not offer STARTTLS")
    writer.write(b"STARTTLS\r\n")
    await _smtp_reply(reader, "220")


async def _imap(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    greeting = await _line(reader)
    if not greeting.upper().startswith("* OK"):
        raise ProtocolViolation(f"IMAP: want * OK, got {greeting[:80]!r}")
    writer.write(b"v1 STARTTLS\r\n")
    for _ in range(_MAX_LINES):
        line = await _line(reader)
        if line.startswith("v1 "):
            if not line.upper().startswith("V1 OK"):
                raise ProtocolViolation(f"IMAP: STARTTLS refused: {line[:80]!r}")
            return
    raise ProtocolViolation("IMAP: no answer to STARTTLS")


async def _pop3(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    greeting = await _line(reader)
    if not greeting.startswith("+OK"):
        raise ProtocolViolation(f"POP3: want +OK, got {greeting[:80]!r}")
    writer.write(b"STLS\r\n")
    answer = await _line(reader)
    if not answer.startswith("+OK"):
        raise ProtocolViolation(f"POP3: STLS refused: {answer[:80]!r}")


_DIALOGUES = {"smtp": _smtp, "imap": _imap, "pop3": _pop3}


async def negotiate(
    protocol: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Speak `protocol` until the server waits for the TLS handshake."""
    await _DIALOGUES[protocol](reader, writer)
    await writer.drain()
