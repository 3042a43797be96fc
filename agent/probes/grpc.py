"""The `grpc` probe: one `grpc.health.v1.Health/Check` call, as
blackbox_exporter's grpc prober makes it. SERVING passes; any other serving
status fails assertion `grpc.serving`. `GrpcDetails` carries the call's
status code and the serving status. gRPC errors become failure reasons in
`classify` only: grpc reports connection and TLS faults as UNAVAILABLE with
a text, so the text names the fault.
"""

from __future__ import annotations

import functools
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from agent.probe_kit.base import ProbeContext, assertion, fail, finish_assertions, new_result
from agent.probe_kit.faults import Failure, failure
from agent.probe_kit.faults import classify as classify_shared
from agent.probe_kit.resolve import lookup
from common.addresses import join_host_port, split_host_port
from common.config.grpc import GrpcCheck
from common.faults import Fault
from vantage.v1 import vantage_pb2 as pb

# Texts grpc puts in an UNAVAILABLE status, checked in order.
_UNAVAILABLE = (
    ("connection refused", Fault.REFUSED),
    ("certificate has expired", Fault.CERT_EXPIRED),
    ("failed parsing http/2", Fault.PROTOCOL_ERROR),
    ("http1.x server", Fault.PROTOCOL_ERROR),
    ("missing selected alpn", Fault.PROTOCOL_ERROR),  # a TLS server that speaks no HTTP/2
    ("no_application_protocol", Fault.PROTOCOL_ERROR),  # one that says so (nginx without h2)
    ("not in peer certificate", Fault.HOSTNAME_MISMATCH),
    ("hostname verification", Fault.HOSTNAME_MISMATCH),
    ("certificate_verify_failed", Fault.CERT_UNTRUSTED),
    ("certificate verify failed", Fault.CERT_UNTRUSTED),
    ("handshake", Fault.TLS_PROTOCOL),
    ("ssl", Fault.TLS_PROTOCOL),
)


def classify(exc: BaseException) -> Failure:
    """The error mapper: grpc's status codes and texts, then the shared table."""
    if not isinstance(exc, grpc.aio.AioRpcError):
        return classify_shared(exc)
    code, details = exc.code(), exc.details() or ""
    text = details.lower()
    if code is grpc.StatusCode.UNAVAILABLE:
        fault = next((f for needle, f in _UNAVAILABLE if needle in text), Fault.UNREACHABLE)
        return failure(fault, f"UNAVAILABLE: {details}"[:300])
    if code is grpc.StatusCode.DEADLINE_EXCEEDED:
        return failure(Fault.TIMEOUT, "no answer before the timeout")
    # UNIMPLEMENTED (no health service) and the like: the server does not
    # speak the health protocol.
    return failure(Fault.PROTOCOL_ERROR, f"{code.name}: {details}"[:300])


@functools.lru_cache(maxsize=64)
def _credentials(ca_file: str | None) -> grpc.ChannelCredentials:
    root = None
    if ca_file:
        with open(ca_file, "rb") as pem:  # read once per file: credentials are cached
            root = pem.read()
    return grpc.ssl_channel_credentials(root_certificates=root)


def _channel(check: GrpcCheck, address: str) -> grpc.aio.Channel:
    """A channel to `address` (the target, or the address a configured
    nameserver gave for it); names in TLS and :authority stay the target's."""
    # One channel per probe: a fresh connection each time, as blackbox does.
    host, port = split_host_port(check.target, 0)
    # A local subchannel pool: the connection closes with the channel, not
    # when grpc's process-wide pool gets round to it.
    options: list[tuple[str, str | int]] = [
        ("grpc.enable_retries", 0),
        ("grpc.use_local_subchannel_pool", 1),
    ]
    if address != host:
        options.append(("grpc.default_authority", check.target))
    target = join_host_port(address, port)
    if not check.tls:
        return grpc.aio.insecure_channel(target, options=options)
    if check.server_name or address != host:
        options.append(("grpc.ssl_target_name_override", check.server_name or host))
    return grpc.aio.secure_channel(target, _credentials(check.ca_file), options=options)


async def probe(check: GrpcCheck, ctx: ProbeContext) -> pb.Result:
    """Ask `check.target` whether `check.service` is serving."""
    result = new_result(check, ctx)
    started = time.monotonic()
    request = health_pb2.HealthCheckRequest(service=check.service)
    try:
        host = split_host_port(check.target, 0)[0]
        address = await lookup(host, ctx.nameserver, result.phases, check.timeout)
        async with _channel(check, address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            left = check.timeout - (time.monotonic() - started)
            response = await stub.Check(request, timeout=left)
    except (grpc.aio.AioRpcError, OSError) as exc:
        if isinstance(exc, grpc.aio.AioRpcError):
            result.grpc.status_code = exc.code().value[0]
        return fail(result, *classify(exc))
    finally:
        result.duration_seconds = time.monotonic() - started
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
    result.grpc.serving_status = status
    assertion(result, "grpc.serving", status == "SERVING", f"{status}, want SERVING")
    return finish_assertions(result)
