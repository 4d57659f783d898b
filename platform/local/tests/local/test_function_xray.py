"""A traced function's segments leave through its own X-Ray daemon, signed with its role.

Lambda runs the X-Ray daemon inside the function's execution environment, with the function's
execution role: it uploads segments with ``xray:PutTraceSegments`` and reports its telemetry
with ``xray:PutTelemetryRecords`` ("Using AWS Lambda with AWS X-Ray", execution role
permissions, https://docs.aws.amazon.com/lambda/latest/dg/services-xray.html; "AWS X-Ray
daemon", https://docs.aws.amazon.com/xray/latest/devguide/xray-daemon.html).
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any

from orderflow.local.pollers import XRayTelemetry

ARN = "arn:aws:lambda:us-east-1:123456789012:function:orderflow-local-payment"


class Recorded:
    def __init__(self) -> None:
        self.segments: list[str] = []
        self.telemetry: list[dict[str, Any]] = []

    def put_trace_segments(self, TraceSegmentDocuments: list[str]) -> dict[str, Any]:  # noqa: N803
        self.segments.extend(TraceSegmentDocuments)
        return {"UnprocessedTraceSegments": []}

    def put_telemetry_records(self, **request: Any) -> dict[str, Any]:
        self.telemetry.append(request)
        return {}


def test_segments_are_uploaded_and_reported_in_telemetry() -> None:
    xray = Recorded()
    daemon = XRayTelemetry(xray, ARN, interval_real=3600).start()
    host, port = daemon.address.split(":")
    segment = {"trace_id": "1-5759e988-bd862e3fe1be46a994272793", "id": "6226467e3f845502"}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.sendto(
            b'{"format": "json", "version": 1}\n' + json.dumps(segment).encode(), (host, int(port))
        )
    deadline = time.monotonic() + 5
    while not xray.segments and time.monotonic() < deadline:
        time.sleep(0.05)

    daemon.stop()

    assert [json.loads(s) for s in xray.segments] == [segment]
    (record,) = xray.telemetry
    assert record["ResourceARN"] == ARN
    assert record["TelemetryRecords"][0]["SegmentsSentCount"] == 1
    assert record["TelemetryRecords"][0]["SegmentsRejectedCount"] == 0


def test_telemetry_the_role_may_not_send_is_lost_without_stopping_the_daemon() -> None:
    class Denied(Recorded):
        def put_telemetry_records(self, **request: Any) -> dict[str, Any]:
            raise RuntimeError("AccessDeniedException")

    daemon = XRayTelemetry(Denied(), ARN, interval_real=3600).start()
    daemon.stop()
