"""The wire contract: proto drift, enum parity, check round trips."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from common.config import ConfigError
from common.config.http import HttpCheck
from common.reasons import FailureReason
from common.wire import check_from_proto, check_to_proto
from vantage.v1 import vantage_pb2 as pb

ROOT = Path(__file__).resolve().parents[2]
GENERATED = ("vantage_pb2.py", "vantage_pb2.pyi", "vantage_pb2_grpc.py", "vantage_pb2_grpc.pyi")


def test_generated_code_matches_the_proto(tmp_path: Path) -> None:
    plugin_dir = Path(sys.executable).parent
    if not (plugin_dir / "protoc-gen-mypy").exists():
        pytest.fail("protoc-gen-mypy missing: pip install -e '.[dev]'")
    env_path = f"{plugin_dir}:{shutil.os.environ.get('PATH', '')}"  # type: ignore[attr-defined]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            "-Iproto",
            f"--python_out={tmp_path}",
            f"--grpc_python_out={tmp_path}",
            f"--mypy_out={tmp_path}",
            f"--mypy_grpc_out={tmp_path}",
            "proto/vantage/v1/vantage.proto",
        ],
        cwd=ROOT,
        check=True,
        env={"PATH": env_path},
        capture_output=True,
    )
    for name in GENERATED:
        fresh = (tmp_path / "vantage" / "v1" / name).read_text()
        committed = (ROOT / "proto" / "vantage" / "v1" / name).read_text()
        assert fresh == committed, f"{name} is stale: run `make proto` and commit"


def test_failure_reasons_match_the_proto_enum() -> None:
    names = pb.FailureReason.keys()  # an EnumTypeWrapper, not a dict
    proto_names = {n.removeprefix("FAILURE_REASON_") for n in names}
    ours = {r.name for r in FailureReason} - {"NONE"} | {"UNSPECIFIED"}
    assert proto_names == ours
    for reason in FailureReason:
        assert FailureReason.from_proto(reason.to_proto()) is reason


def test_check_round_trips_through_the_wire() -> None:
    check = HttpCheck(
        name="home",
        url="https://x/",
        interval=30,
        timeout=5,
        expect={"status": [200, "3xx"]},
        headers={"A": "b"},
        labels={"team": "web"},
        release_header="X-Release",
        regions=("eu-west",),
    )
    again = check_from_proto(check_to_proto(check))
    assert isinstance(again, HttpCheck)
    assert again.model_dump(
        exclude={"failure_threshold", "success_threshold", "quorum"}
    ) == check.model_dump(exclude={"failure_threshold", "success_threshold", "quorum"})


def test_unknown_type_from_a_newer_collector_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="type 'quantum' unknown to this agent"):
        check_from_proto(pb.Check(name="x", type="quantum", interval_seconds=60, timeout_seconds=1))


def test_checks_of_one_shape_share_their_given_field_names() -> None:
    """An agent holds 10,000 checks: the set of given field names (728
    bytes each) is one per shape, and a copy still gets its own."""
    first, second, other = (
        check_from_proto(check_to_proto(HttpCheck.model_validate(spec)))
        for spec in (
            {"name": "a", "type": "http", "url": "http://127.0.0.1:1/a"},
            {"name": "b", "type": "http", "url": "http://127.0.0.1:1/b"},
            {"name": "c", "type": "http", "url": "http://127.0.0.1:1/c", "method": "HEAD"},
        )
    )
    assert first.model_fields_set is second.model_fields_set
    assert other.model_fields_set == first.model_fields_set | {"method"}
    copied = first.model_copy(update={"method": "HEAD"})
    assert "method" in copied.model_fields_set
    assert "method" not in second.model_fields_set  # the shared set is left alone
