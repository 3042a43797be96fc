"""The grpc probe against a real grpc.aio server with the standard health
servicer on loopback, plain and with a trustme certificate."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import pytest
import trustme
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from agent.probe_kit.base import ProbeContext
from agent.probes import grpc as grpc_probe
from common.config import ConfigError, parse_config
from common.config.grpc import GrpcCheck
from common.reasons import FailureReason
from tests.support.net import free_port
from vantage.v1 import vantage_pb2 as pb

CTX = ProbeContext("agent-1", "eu-west")


@dataclass(frozen=True)
class Server:
    """A health server: its plain and TLS ports, and its CA file."""

    port: int
    tls_port: int
    ca_file: str


@pytest.fixture
async def server(tmp_path: object) -> AsyncIterator[Server]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "api.test")
    ca_file = f"{tmp_path}/ca.pem"
    ca.cert_pem.write_to_path(ca_file)
    servicer = health.aio.HealthServicer()
    await servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    await servicer.set("shop.Cart", health_pb2.HealthCheckResponse.SERVING)
    await servicer.set("shop.Pay", health_pb2.HealthCheckResponse.NOT_SERVING)
    srv = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, srv)
    port, tls_port = free_port(), free_port()
    srv.add_insecure_port(f"127.0.0.1:{port}")
    key = cert.private_key_pem.bytes()
    chain = b"".join(pem.bytes() for pem in cert.cert_chain_pems)
    srv.add_secure_port(f"127.0.0.1:{tls_port}", grpc.ssl_server_credentials([(key, chain)]))
    await srv.start()
    try:
        yield Server(port, tls_port, ca_file)
    finally:
        await srv.stop(None)


def _check(port: int, **settings: object) -> GrpcCheck:
    return GrpcCheck.model_validate(
        {"name": "g", "target": f"127.0.0.1:{port}", "timeout": 3, **settings}
    )


def _reason(result: pb.Result) -> FailureReason:
    return FailureReason.from_proto(result.reason)


@pytest.mark.parametrize("service", ["", "shop.Cart"], ids=["server", "service"])
async def test_serving(server: Server, service: str) -> None:
    result = await grpc_probe.probe(_check(server.port, service=service), CTX)
    assert result.success, result.message
    assert (result.grpc.status_code, result.grpc.serving_status) == (0, "SERVING")


async def test_not_serving_is_an_assertion(server: Server) -> None:
    result = await grpc_probe.probe(_check(server.port, service="shop.Pay"), CTX)
    assert _reason(result) is FailureReason.ASSERTION
    assert result.message == "grpc.serving: NOT_SERVING, want SERVING"


async def test_unknown_service(server: Server) -> None:
    result = await grpc_probe.probe(_check(server.port, service="shop.Gone"), CTX)
    assert _reason(result) is FailureReason.PROTOCOL_ERROR
    assert result.grpc.status_code == grpc.StatusCode.NOT_FOUND.value[0]


async def test_tls(server: Server) -> None:
    check = _check(server.tls_port, tls=True, ca_file=server.ca_file, server_name="api.test")
    result = await grpc_probe.probe(check, CTX)
    assert result.success, result.message


async def test_tls_untrusted(server: Server) -> None:
    result = await grpc_probe.probe(_check(server.tls_port, tls=True), CTX)
    assert _reason(result) is FailureReason.TLS_VERIFY, result.message


async def test_tls_hostname_mismatch(server: Server) -> None:
    check = _check(server.tls_port, tls=True, ca_file=server.ca_file, server_name="other.test")
    result = await grpc_probe.probe(check, CTX)
    assert _reason(result) is FailureReason.TLS_HOSTNAME, result.message


async def test_refused() -> None:
    result = await grpc_probe.probe(_check(free_port()), CTX)
    assert _reason(result) is FailureReason.CONNECT_REFUSED, result.message


def test_bad_config() -> None:
    body = "checks:\n- name: g\n  type: grpc\n  target: 127.0.0.1:50051\n  ca_file: /x.pem\n"
    with pytest.raises(ConfigError) as info:
        parse_config(body, "checks.yaml")
    assert info.value.problems[0].endswith("check 'g': server_name and ca_file need tls: true")


def test_tls_server_without_http2_is_a_protocol_error() -> None:
    # nginx serving only HTTP/1.1 over TLS answers grpc's ALPN offer with a
    # fatal no_application_protocol alert (held-out case): not a gRPC server.
    details = (
        "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:1: Tls handshake"
        " failed (TSI_PROTOCOL_FAILURE): SSL_ERROR_SSL: error:10000460:SSL routines:"
        "OPENSSL_internal:TLSV1_ALERT_NO_APPLICATION_PROTOCOL"
    )
    error = grpc.aio.AioRpcError(
        grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), details
    )
    assert grpc_probe.classify(error)[0] is FailureReason.PROTOCOL_ERROR
