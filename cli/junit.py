"""JUnit XML for CI systems: one testcase per check, one per flow step;
a failure's text lists every finding, one per line."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from cli.findings import findings, reason_of
from common.config import CheckBase
from common.reasons import FailureReason
from vantage.v1 import vantage_pb2 as pb


def _case(suite: ET.Element, classname: str, name: str, seconds: float) -> ET.Element:
    return ET.SubElement(suite, "testcase", classname=classname, name=name, time=f"{seconds:.3f}")


def _failure(case: ET.Element, kind: str, message: str, lines: Sequence[str]) -> None:
    element = ET.SubElement(case, "failure", message=f"{kind}: {message}", type=kind)
    element.text = "\n".join(lines)


def _add_result(suite: ET.Element, result: pb.Result) -> None:
    case = _case(suite, f"vantage.{result.check_type}", result.check, result.duration_seconds)
    if not result.success:
        _failure(case, reason_of(result), result.message, findings(result))
    for step in result.flow.steps:
        step_case = _case(
            suite, f"vantage.http_flow.{result.check}", step.name, step.duration_seconds
        )
        if not step.success:
            kind = FailureReason.from_proto(step.reason).value
            prefix = f"{step.name}."
            mine = [
                f"{a.name.removeprefix(prefix)}: {a.message}"
                for a in result.assertions
                if not a.ok and a.name.startswith(prefix)
            ]
            _failure(step_case, kind, step.message, mine or [f"{kind}: {step.message}"])


def write_junit(results: Sequence[pb.Result], checks: Sequence[CheckBase], path: Path) -> None:
    """Write the report; checks not run (fail-fast) are marked skipped."""
    suite = ET.Element("testsuite", name="vantage smoke")
    for result in results:
        _add_result(suite, result)
    ran = {r.check for r in results}
    for check in checks:
        if check.name not in ran:
            ET.SubElement(_case(suite, f"vantage.{check.type}", check.name, 0.0), "skipped")
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(c.find("failure") is not None for c in cases)))
    suite.set("skipped", str(sum(c.find("skipped") is not None for c in cases)))
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
