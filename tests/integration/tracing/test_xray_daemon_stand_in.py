"""The X-Ray daemon stand-in receives what the real X-Ray SDK sends, and assembles the trace the SDK built.

The sender is the SDK itself (a recorder in Lambda mode streaming each subsegment), so the protocol and the
document shapes come from the library that emits them on Lambda, not from this project's code.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aws_xray_sdk import global_sdk_config
from aws_xray_sdk.core.lambda_launcher import LambdaContext
from aws_xray_sdk.core.recorder import AWSXRayRecorder

from lakepipe_cli.xray_local import DaemonProtocolError, Trace, TraceHeader, XRayDaemonStandIn, parse_datagram
from tests.xray_rules import segment_document_problems

pytestmark = pytest.mark.integration


@pytest.fixture
def xray() -> Iterator[XRayDaemonStandIn]:
    with XRayDaemonStandIn() as daemon:
        yield daemon


@pytest.fixture
def lambda_recorder(xray: XRayDaemonStandIn, monkeypatch: pytest.MonkeyPatch) -> Iterator[AWSXRayRecorder]:
    """An X-Ray SDK recorder as it runs inside Lambda, sending to the stand-in."""
    recorder = AWSXRayRecorder()
    recorder.configure(context=LambdaContext(), streaming_threshold=0, daemon_address=xray.address)
    was_enabled = global_sdk_config.sdk_enabled()
    global_sdk_config.set_sdk_enabled(True)
    yield recorder
    global_sdk_config.set_sdk_enabled(was_enabled)


def test_the_sdks_subsegments_assemble_into_the_tree_it_recorded(
    xray: XRayDaemonStandIn, lambda_recorder: AWSXRayRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given one sampled invocation, as Lambda announces it to the runtime
    header = TraceHeader.new()
    monkeypatch.setenv("_X_AMZN_TRACE_ID", str(header))

    # When the SDK records handler > (read > s3 call), (convert), and the runtime records the function segment
    with lambda_recorder.in_subsegment("## handler"):
        with lambda_recorder.in_subsegment("read"), lambda_recorder.in_subsegment("s3", namespace="aws") as call:
            call.put_http_meta("status", 200)
        with lambda_recorder.in_subsegment("convert"):
            pass
    xray.record_invocation(
        function_name="Fn",
        header=header,
        request_id="r-1",
        start_time=header_start(xray, header),
        end_time=time.time(),
        failed=False,
        function_arn="arn:aws:lambda:eu-west-3:123456789012:function:Fn",
    )
    trace = xray.trace(header.root)

    # Then every datagram was the daemon protocol, every document follows X-Ray's rules, and the tree is the SDK's
    assert xray.rejected == []
    assert [problem for doc in xray.documents() for problem in segment_document_problems(doc)] == []
    assert [(depth, span.name) for depth, span in trace.root.walk()] == [
        (0, "Fn"),
        (1, "## handler"),
        (2, "read"),
        (3, "s3"),
        (2, "convert"),
    ]
    assert trace.orphans == []
    assert trace.named("s3")[0].http_status == 200
    assert trace.named("s3")[0].namespace == "aws"


def test_a_trace_file_reads_back_as_the_same_tree(
    xray: XRayDaemonStandIn, lambda_recorder: AWSXRayRecorder, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    header = TraceHeader.new()
    monkeypatch.setenv("_X_AMZN_TRACE_ID", str(header))
    with lambda_recorder.in_subsegment("outer"), lambda_recorder.in_subsegment("inner"):
        pass
    xray.record_invocation(
        function_name="Fn",
        header=header,
        request_id="r-2",
        start_time=header_start(xray, header),
        end_time=time.time(),
        failed=True,
        function_arn="arn:aws:lambda:eu-west-3:123456789012:function:Fn",
    )
    trace = xray.trace(header.root)

    written = Trace.read(trace.write(tmp_path / "trace.json"))

    assert [(d, s.id, s.name) for d, s in written.root.walk()] == [(d, s.id, s.name) for d, s in trace.root.walk()]
    assert written.root.flag == "fault"
    # BatchGetTraces' shape: one segment, its subsegments nested inside its Document
    assert len(trace.to_batch_get_traces()["Traces"][0]["Segments"]) == 1


def test_a_subsegment_of_an_unknown_parent_is_an_orphan(xray: XRayDaemonStandIn) -> None:
    document = {
        "name": "s3",
        "id": "a" * 16,
        "trace_id": "1-00000000-" + "0" * 24,
        "parent_id": "b" * 16,
        "type": "subsegment",
        "start_time": 1.0,
        "end_time": 2.0,
    }

    trace = Trace.assemble(document["trace_id"], [document])

    assert [span.name for span in trace.orphans] == ["s3"]


@pytest.mark.parametrize(
    "datagram",
    [
        b'{"name": "x", "id": "1", "start_time": 1}',  # no header line
        b'{"format":"json","version":2}\n{"name": "x", "id": "1", "start_time": 1}',
        b'{"format":"json","version":1}\nnot json',
        b'{"format":"json","version":1}\n{"name": "x"}',
    ],
)
def test_datagrams_outside_the_protocol_are_refused(datagram: bytes) -> None:
    with pytest.raises(DaemonProtocolError):
        parse_datagram(datagram)


def test_a_datagram_outside_the_protocol_is_kept_aside_not_lost(xray: XRayDaemonStandIn) -> None:
    host, port = xray.address.split(":")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.sendto(b"garbage", (host, int(port)))
    xray.settle()

    assert xray.rejected == [b"garbage"]
    assert xray.documents() == []


def header_start(xray: XRayDaemonStandIn, header: TraceHeader) -> float:
    """The function segment starts no later than the first subsegment the SDK sent for this trace."""
    xray.settle()
    return min(float(doc["start_time"]) for doc in xray.documents(header.root)) - 0.001
